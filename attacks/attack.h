#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace rampart::attacks {

/// The norm that bounds a perturbation.
enum class Norm { kLinf, kL2 };

/// The loss an attack climbs (untargeted) or descends toward a target (targeted).
///   kCrossEntropy: softmax cross-entropy of the label.
///   kMargin: the logit margin max_{j != y} z_j - z_y (untargeted) or z_t - max_{j != t} z_j
///            (targeted), the CW-style loss that does not saturate.
enum class Loss { kCrossEntropy, kMargin };

std::string to_string(Norm norm);
std::string to_string(Loss loss);

/// What every attack returns, per sample of the batch.
struct AttackResult {
  at::Tensor adversarial;  ///< [N, C, H, W] inside the box
  at::Tensor success;      ///< bool [N]: misclassified (untargeted) or the target reached
  at::Tensor l2;           ///< float [N]: ||adversarial - x||_2 per sample
  at::Tensor linf;         ///< float [N]: max |adversarial - x| per sample
  /// Work done, counted in samples (a forward of a batch of 64 counts 64), so that early stop
  /// and compaction show up.
  int64_t forward_samples = 0;
  int64_t backward_samples = 0;
  /// For an ensemble of attacks (AutoAttack): int64 [N], the index into Attack::components() of
  /// the component whose example was kept, -1 where none fooled the model. Undefined otherwise.
  at::Tensor fooled_by;
};

/// The common interface of FGSM, PGD and Carlini-Wagner: perturb a batch `x` (inside the
/// box of the options) against `model`. `labels` are the true labels for an untargeted attack
/// and the target labels for a targeted one. During the call the model is in eval mode with
/// parameter gradients off (both restored afterwards), and the caller's autograd state is
/// untouched. Works on the device of `x`. `point_ids` (int64 [N], optional) are the points'
/// indices in the whole data set: an attack with a random start keys each point's draw by its
/// id (kernels/random_start.h), so a point starts from the same place in any batch and points
/// draw independent starts. Undefined means 0..N-1.
class Attack {
 public:
  virtual ~Attack() = default;
  virtual AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                           const at::Tensor& point_ids = {}) const = 0;
  /// `<name>-<norm>-<eps>` as in DESIGN.md (`pgd-linf-0.1`), or `cw-l2`.
  virtual std::string id() const = 0;
  /// An ensemble's parts in the order they run, each on the points the earlier ones left
  /// robust (AutoAttack); empty for a single attack. The harness runs them part by part over
  /// the whole data set, as the reference does: with per-point random draws the results are
  /// the same as run() batch by batch, in far fewer, larger batches.
  virtual std::vector<std::shared_ptr<const Attack>> parts() const { return {}; }
  /// The parts' ids (AttackResult::fooled_by indexes this list).
  std::vector<std::string> components() const {
    std::vector<std::string> ids;
    for (const auto& part : parts()) ids.push_back(part->id());
    return ids;
  }
};

}  // namespace rampart::attacks
