#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/InferenceMode.h>

#include "attacks/attack.h"

/// Building blocks shared by the attacks (readable ATen; the per-step updates and random starts
/// are fused ops in kernels/).
namespace rampart::attacks::detail {

/// Attacks need autograd, and in-place updates of the tensors they make, even inside a caller's
/// c10::InferenceMode (torch.inference_mode() from Python), where every tensor made is an
/// inference tensor that can neither require grad nor be saved for backward. The scope holding
/// one is out of inference mode; of(t) is a normal copy of an inference tensor, else t.
class OutOfInferenceMode {
 public:
  at::Tensor of(const at::Tensor& t) const {
    return t.defined() && t.is_inference() ? t.clone() : t;
  }

 private:
  c10::InferenceMode off_{false};
};

/// Throws ConfigError / std::invalid_argument for unusable inputs: x not float [N, ...] inside
/// [lo, hi], labels not int64 [N], eps/steps out of range.
void check_batch(const at::Tensor& x, const at::Tensor& labels, double lo, double hi,
                 const std::string& attack);

/// max_{j != label} z_j: the best other logit, masking the label with -inf (correct even when
/// every logit is negative).
at::Tensor best_other_logit(const at::Tensor& logits, const at::Tensor& labels);

/// The per-sample objective an attack maximizes: untargeted CE(y) or margin
/// max_{j!=y} z_j - z_y; targeted -CE(t) or margin z_t - max_{j!=t} z_j.
at::Tensor objective(const at::Tensor& logits, const at::Tensor& labels, Loss loss, bool targeted);

/// bool [N]: argmax != label (untargeted) or argmax == label (targeted).
at::Tensor is_success(const at::Tensor& logits, const at::Tensor& labels, bool targeted);

/// Whether each sample of `x` fools the classifier as deployed: from `logits` (the surrogate the
/// attack climbs, computed at `x`) when the model predicts by argmax, else by the model's own
/// decision (Model::predict, e.g. a majority vote: one more forward pass), so that an attack's
/// early stop, restarts and best-example tracking agree with the harness's verdict.
at::Tensor is_fooled(models::Model& model, const at::Tensor& x, const at::Tensor& logits,
                     const at::Tensor& labels, bool targeted);

/// One forward and one backward at `x`: the logits (detached), the per-sample objective
/// (detached) and its gradient with respect to `x`. Gradients flow to the input only.
struct InputGradient {
  at::Tensor logits;
  at::Tensor objective;
  at::Tensor grad;
};
InputGradient input_gradient(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                             Loss loss, bool targeted);

/// [N] -> [N, 1, 1, ...], to broadcast a per-sample value against a batch shaped like `like`.
at::Tensor per_sample(const at::Tensor& v, const at::Tensor& like);

at::Tensor per_sample_l2(const at::Tensor& delta);
at::Tensor per_sample_linf(const at::Tensor& delta);

/// `g` scaled per sample to unit L2 norm (zero where g is zero).
at::Tensor normalize_l2(const at::Tensor& g);

/// The steepest-ascent direction of the norm: sign(g) for Linf, g / ||g||_2 for L2.
at::Tensor ascent_direction(const at::Tensor& g, Norm norm);

/// Projects `x_adv` onto the eps-ball around `x` and then into the box [lo, hi]:
/// Linf: clip_box(x + clip(x_adv - x, -eps, eps)); L2: delta scaled by min(1, eps/||delta||).
at::Tensor project(const at::Tensor& x_adv, const at::Tensor& x, Norm norm, double eps, double lo,
                   double hi);


/// Confirms claimed successes with one fresh forward of the examples: returns `claimed` (bool
/// [N]) with the points whose example `adversarial` no longer fools the model (as judged by
/// is_fooled, untargeted against `labels`) cleared, and adds the forwards spent. For a
/// deterministic model it changes nothing; for a randomised one the verdict is a fresh draw, as
/// AutoAttack's, and a saved example reproduces the report.
at::Tensor confirm_fooled(models::Model& model, const at::Tensor& adversarial,
                          const at::Tensor& labels, const at::Tensor& claimed, int64_t& forwards);

/// The result for a finished batch: the norms of adversarial - x, with the success flags the
/// attack measured on exactly these examples.
AttackResult make_result(const at::Tensor& x, const at::Tensor& adversarial,
                         const at::Tensor& success, int64_t forward_samples,
                         int64_t backward_samples);

/// The Philox key of one run's random draws (a random start, Square's windows): (seed, stream,
/// eps, run) chained through splitmix64's finaliser, so seeds, configured attacks, budgets and
/// restarts draw unrelated streams; each point's stream then mixes in its id
/// (kernels::noise::point_key).
uint64_t start_key(uint64_t seed, uint64_t stream, double eps, int64_t run);

/// int64 [N] point ids on x's device: `point_ids` checked and moved, or 0..N-1 when undefined.
/// Throws std::invalid_argument naming `attack` for a wrong shape.
at::Tensor point_ids_or_range(const at::Tensor& point_ids, const at::Tensor& x,
                              const std::string& attack);

/// `eps` formatted for attack ids: 0.1 -> "0.1", 8/255 -> "0.0313725".
std::string format_eps(double eps);

}  // namespace rampart::attacks::detail
