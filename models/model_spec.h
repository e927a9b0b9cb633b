#pragma once

#include <memory>
#include <string>

#include "core/config_node.h"
#include "models/classifier.h"
#include "security/model_intake.h"

namespace rampart::models {

/// One input transform of a `model.transforms` list (or a detector's squeezer), applied to the
/// input before the model sees it: bit_depth (bits), median (size), jpeg (quality), or
/// gaussian_noise (sigma), a randomised defense that draws fresh noise on every forward pass.
struct TransformSpec {
  std::string name;  ///< bit_depth | median | jpeg | gaussian_noise
  int64_t bits = 0;
  int64_t size = 0;
  int64_t quality = 0;
  double sigma = 0;
  /// Whether the transform draws new randomness on every call (gaussian_noise).
  bool is_random() const { return name == "gaussian_noise"; }
  /// Whether autograd's gradient through the transform is exact (gaussian_noise adds noise and
  /// clips), so that BPDA has nothing to add.
  bool is_differentiable() const { return name == "gaussian_noise"; }
};

/// How an ensemble combines its members.
enum class Combine { kLogits, kProbabilities, kVote };

/// The `model:` section of a config: a built-in architecture (optionally with a safetensors
/// checkpoint), a TorchScript file, or an ensemble of such models, optionally behind input
/// transforms.
struct ModelSpec {
  std::string arch;        ///< small_cnn | preact_resnet18 | mlp; empty for TorchScript `path`
  int64_t hidden = 128;    ///< the hidden width of `mlp`
  std::string path;        ///< TorchScript file
  std::string checkpoint;  ///< safetensors weights for `arch`
  int64_t num_classes = 10;
  InputSpec input;
  security::IntakeOptions intake;  ///< the file's pin or signature, and the intake policy
  std::vector<ModelSpec> members;  ///< an ensemble's members (then arch and path are empty)
  Combine combine = Combine::kLogits;
  std::vector<TransformSpec> transforms;  ///< applied in order before the model
  bool is_ensemble() const { return !members.empty(); }
};

/// Parses one transform entry ({name: jpeg, quality: 75}).
TransformSpec parse_transform_spec(const core::ConfigNode& node);

/// "jpeg(quality=75)", "bit_depth(bits=4)", "median(size=3)", "gaussian_noise(sigma=0.1)".
std::string describe(const TransformSpec& transform);

std::string to_string(Combine combine);

/// The built-in architecture names.
const std::vector<std::string>& builtin_archs();

/// Parses `model:` (keys: arch, hidden (mlp only), path, checkpoint, sha256, num_classes, input{shape, range},
/// ensemble{combine, members}, transforms). `require_arch` is set by `rampart train`, which can
/// only train one built-in model.
///
// clang-format off
///   model:
///     ensemble:
///       combine: logits      # logits | probabilities | vote
///       members: [{arch: small_cnn, checkpoint: a.safetensors}, {path: b.pt, sha256: ...}]
///     transforms: [{name: jpeg, quality: 75}]    # bit_depth{bits}, median{size}, jpeg{quality}
///     input: {shape: [1, 28, 28], range: [0, 1]}
// clang-format on
///
/// Members take the ensemble's input and num_classes; they may not set their own.
ModelSpec parse_model_spec(const core::ConfigNode& model, bool require_arch);

/// Reads a SHA-256 pin at `key` (64 hex digits; returned lower-case; absent: empty).
std::string parse_sha256(const core::ConfigNode& node, const std::string& key);

/// Gives `spec` and its ensemble members the config's `security:` policy
/// (security::parse_security_config); their own pins and signatures stay.
void set_intake_policy(ModelSpec& spec, const security::IntakePolicy& policy);

/// A freshly initialised built-in classifier (weights from libtorch's seeded generator).
std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec);

}  // namespace rampart::models
