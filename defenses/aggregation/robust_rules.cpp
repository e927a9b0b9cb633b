#include "defenses/aggregation/robust_rules.h"

#include <ATen/ATen.h>

#include <string>

#include "core/error.h"
#include "kernels/coordinate_stats.h"
#include "kernels/pairwise_distances.h"

namespace rampart::defenses::aggregation {

void check_workers(const at::Tensor& x, int64_t f, const char* rule) {
  if (x.dim() != 2 || x.size(0) < 1) {
    throw ConfigError(std::string(rule) + ": needs [n, d] worker vectors with n >= 1");
  }
  if (f < 0 || 2 * f >= x.size(0)) {
    throw ConfigError(std::string(rule) + ": f = " + std::to_string(f) + " needs 2f < n = " +
                      std::to_string(x.size(0)) + " workers");
  }
}

at::Tensor mean(const at::Tensor& x) {
  check_workers(x, 0, "mean");
  return x.mean(0);
}

at::Tensor coordinate_median(const at::Tensor& x) {
  check_workers(x, 0, "median");
  const int64_t n = x.size(0);
  return kernels::sorted_range_mean(x, (n - 1) / 2, n / 2 + 1);
}

at::Tensor trimmed_mean(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "trimmed_mean");
  return kernels::sorted_range_mean(x, f, x.size(0) - f);
}

at::Tensor krum_scores(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "krum");
  const int64_t n = x.size(0);
  const at::Tensor distances = kernels::pairwise_sq_distances(x);
  // Self excluded: its zero distance sorts first; the next n - f - 1 are the neighbours.
  const int64_t neighbours = n - f - 1;
  if (neighbours <= 0) return at::zeros({n}, distances.options());
  return std::get<0>(distances.sort(1)).slice(1, 1, 1 + neighbours).mean(1);
}

at::Tensor krum(const at::Tensor& x, int64_t f) {
  return x[krum_scores(x, f).argmin().item<int64_t>()].clone();
}

at::Tensor multi_krum(const at::Tensor& x, int64_t f) {
  const at::Tensor scores = krum_scores(x, f);
  // A stable sort keeps the lower index first on ties, as ByzFL's argsort.
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 0, false));
  return x.index_select(0, order.slice(0, 0, x.size(0) - f)).mean(0);
}

at::Tensor geometric_median(const at::Tensor& x, double nu, int64_t iterations) {
  check_workers(x, 0, "geometric_median");
  const at::Tensor finite = x.isinf().any(1).logical_not();
  const at::Tensor rows = x.index({finite});
  if (rows.size(0) == 0) throw ConfigError("geometric_median: every vector has an infinite value");
  at::Tensor z = at::zeros({x.size(1)}, x.options());
  for (int64_t t = 0; t < iterations; ++t) {
    const at::Tensor weights = 1.0 / (rows - z).norm(2, 1).clamp_min(nu);
    z = (rows * weights.unsqueeze(1)).sum(0) / weights.sum();
  }
  return z;
}

CenteredClipping::CenteredClipping(double tau, int64_t iterations)
    : tau_(tau), iterations_(iterations) {
  if (!(tau > 0)) throw ConfigError("centered_clipping: tau must be > 0");
  if (iterations < 1) throw ConfigError("centered_clipping: iterations must be >= 1");
}

at::Tensor CenteredClipping::operator()(const at::Tensor& x) {
  check_workers(x, 0, "centered_clipping");
  if (!centre_.defined() || centre_.size(0) != x.size(1)) centre_ = at::zeros({x.size(1)}, x.options());
  at::Tensor v = centre_;
  for (int64_t l = 0; l < iterations_; ++l) {
    const at::Tensor diff = x - v;
    const at::Tensor scale = (tau_ / diff.norm(2, 1)).clamp_max(1.0);  // |diff| = 0: inf -> 1
    v = v + (diff * scale.unsqueeze(1)).mean(0);
  }
  centre_ = v;
  return v.clone();
}

}  // namespace rampart::defenses::aggregation
