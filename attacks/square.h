#pragma once

#include <torch/arg.h>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Options of the Square attack (Andriushchenko et al. 2020, "Square Attack: a query-efficient
/// black-box adversarial attack via random search"): score-based, it needs only the logits, so
/// it is blind to gradient masking. Defaults are AutoAttack's (fra31/auto-attack, square.py, as
/// autoattack.py configures it: margin loss, p_init 0.8, 5000 queries, the schedule of p not
/// rescaled to the query budget).
///
/// Example:
///   auto result = attacks::square(model, x, y, SquareOptions(8.0 / 255).queries(1000));
struct SquareOptions {
  explicit SquareOptions(double eps) : eps_(eps) {}
  TORCH_ARG(double, eps);
  /// Linf: windows set to the ball's vertices; L2: window pairs that move perturbation mass
  /// into a fresh centred pattern (attacks/square_l2.h).
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  /// Proposals per point and restart after the start (the reference's n_queries: 5000
  /// proposals, 5001 forward passes with the start's).
  TORCH_ARG(int64_t, queries) = 5000;
  /// The initial fraction of pixels a window covers.
  TORCH_ARG(double, p_init) = 0.8;
  /// Runs from new starts on the points still robust.
  TORCH_ARG(int64_t, restarts) = 1;
  TORCH_ARG(uint64_t, seed) = 0;
  /// The random-draw family, as PGDOptions::stream.
  TORCH_ARG(uint64_t, stream) = 0;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for eps < 0, queries < 1, p_init outside (0, 1], restarts < 1 or an empty
/// box.
void validate(const SquareOptions& options);

/// The fraction p of pixels a window covers at iteration `iteration` (0-based, after the start):
/// p_init halved after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000, as the
/// reference's p_selection.
double square_fraction(double p_init, int64_t iteration);

/// The window side for an H x W image: round(sqrt(p * H * W)), in [1, min(H, W)].
int64_t square_side(double p, int64_t height, int64_t width);

/// The Square attack on images [N, C, H, W] (L2: at least 5 x 5). Linf starts from vertical
/// stripes at the ball's vertices, L2 from a grid of centred patterns; each iteration proposes
/// one window per point still robust (drawn per point: kernels/square_step.h for Linf,
/// attacks/square_l2.h for L2) and keeps it when the margin
/// z_y - max_{j != y} z_j falls. A point is queried only until it is fooled (one forward per
/// query, counted in forward_samples); its example is the first that fooled the model, else the
/// one with the lowest margin. Successes are confirmed by one final forward.
AttackResult square(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                    const SquareOptions& options, const at::Tensor& point_ids = {});

/// Square behind the Attack interface. id(): `square-linf-0.1`.
class Square : public Attack {
 public:
  explicit Square(SquareOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override;
  const SquareOptions& options() const { return options_; }

 private:
  SquareOptions options_;
};

}  // namespace rampart::attacks
