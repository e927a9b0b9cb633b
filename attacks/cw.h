#pragma once

#include <torch/arg.h>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Options of the Carlini-Wagner L2 attack (Carlini & Wagner 2017, "Towards Evaluating the
/// Robustness of Neural Networks").
///
/// Example:
///   auto result = attacks::cw(model, x, y, CWOptions().steps(100).binary_search_steps(5));
struct CWOptions {
  /// Adam iterations per value of the constant c.
  TORCH_ARG(int64_t, steps) = 100;
  /// Outer steps of the per-sample search over c: multiply by 10 until an attack succeeds,
  /// then bisect between the largest failing and the smallest succeeding c.
  TORCH_ARG(int64_t, binary_search_steps) = 5;
  TORCH_ARG(double, initial_const) = 0.01;
  TORCH_ARG(double, lr) = 0.01;
  /// Confidence: the required logit margin.
  TORCH_ARG(double, kappa) = 0.0;
  /// Per point (the inner run ends when every point has stopped): stop refining at a constant
  /// once the point has succeeded there and its lowest loss of a tenth of the steps is not
  /// 0.01% below the tenth before. Off by default: Carlini's check is on the batch's summed
  /// loss, which a large batch rarely stalls, and one point's stalls early (L2 up to 6x the
  /// full run's on 5 of 100 points of a random CNN).
  TORCH_ARG(bool, abort_early) = false;
  TORCH_ARG(bool, targeted) = false;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for steps < 1, binary_search_steps < 1, initial_const <= 0, lr <= 0,
/// kappa < 0 or an empty box.
void validate(const CWOptions& options);

/// CW-L2: minimise ||x' - x||_2^2 + c * f(x') over w with x' = lo + (tanh(w) + 1) / 2 * (hi - lo),
/// f = max(z_y - max_{j!=y} z_j, -kappa) (untargeted) or max(max_{j!=t} z_j - z_t, -kappa)
/// (targeted), with Adam and a per-sample search over c; per sample the successful example of
/// smallest L2 is kept. An iterate counts as successful when its margin is at most -kappa minus
/// a numerical guard of 1e-5 * (1 + max |logit|), so that its verdict survives a forward in
/// another batch (at kappa 0 CW ends on the decision boundary, where batching flips verdicts).
/// The returned examples are judged again in one final forward; only those still adversarial
/// count as successes. Samples never fooled are returned unperturbed with success false.
AttackResult cw(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                const CWOptions& options);

/// CW-L2 behind the Attack interface. id(): `cw-l2`.
class CW : public Attack {
 public:
  explicit CW(CWOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override { return "cw-l2"; }
  const CWOptions& options() const { return options_; }

 private:
  CWOptions options_;
};

namespace detail {

/// The tanh-space variable of `x` in the box (inputs at the box edges are pulled in by 1e-6).
at::Tensor to_tanh_space(const at::Tensor& x, double lo, double hi);
at::Tensor from_tanh_space(const at::Tensor& w, double lo, double hi);

/// The CW terms at w: x'(w), its logits, the margin (f before the clamp at -kappa) and the
/// per-sample objective ||x'(w) - x||_2^2 + c * max(margin, -kappa), differentiable in w.
struct CWTerms {
  at::Tensor x_adv;
  at::Tensor logits;
  at::Tensor margin;
  at::Tensor loss;
};
CWTerms cw_terms(models::Model& model, const at::Tensor& w, const at::Tensor& x,
                 const at::Tensor& labels, const at::Tensor& c, const CWOptions& options);

/// The per-sample search over CW's constant c, as Carlini & Wagner's reference (l2_attack.py):
/// after a success c becomes an upper bound, after a failure a lower bound; with an upper bound
/// below 1e9 the next c is (lower + upper) / 2, without one it grows tenfold.
struct ConstantSearch {
  at::Tensor c, lower, upper;  ///< float [N]; upper starts at 1e10 (none)
};
ConstantSearch start_constant_search(int64_t n, double initial_const,
                                     const at::TensorOptions& options);
void update_constants(ConstantSearch& search, const at::Tensor& succeeded);

/// Whether each example is adversarial with the margin CW requires: fooled (the model's own
/// decision) and, for an argmax model, margin <= -kappa - 1e-5 * (1 + max |logit|).
at::Tensor cw_hit(models::Model& model, const at::Tensor& x_adv, const at::Tensor& logits,
                  const at::Tensor& margin, const at::Tensor& labels, const CWOptions& options);

}  // namespace detail
}  // namespace rampart::attacks
