#include "defenses/aggregation/pre_aggregators.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "defenses/aggregation/robust_rules.h"
#include "kernels/pairwise_distances.h"

namespace rampart::defenses::aggregation {

at::Tensor static_clip(const at::Tensor& x, double c) {
  check_workers(x, 0, "clipping");
  if (!(c > 0)) throw ConfigError("clipping: c must be > 0");
  const at::Tensor scale = (c / x.norm(2, 1)).clamp_max(1.0);  // a zero vector: inf -> 1
  return x * scale.unsqueeze(1);
}

at::Tensor adaptive_clip(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "arc");
  const int64_t n = x.size(0);
  const auto k = static_cast<int64_t>(
      std::floor(2.0 * (static_cast<double>(f) / static_cast<double>(n)) *
                 static_cast<double>(n - f)));
  if (k <= 0) return x.clone();
  const at::Tensor norms = x.norm(2, 1);
  const at::Tensor sorted = std::get<0>(norms.sort());
  const at::Tensor threshold = sorted[n - k - 1];
  const at::Tensor scale = (threshold / norms).clamp_max(1.0);
  return x * scale.unsqueeze(1);
}

at::Tensor nearest_neighbour_mixing(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "nnm");
  const int64_t n = x.size(0);
  const at::Tensor distances = kernels::pairwise_sq_distances(x);
  // Each row's own zero distance sorts first (stable: ties keep the lower index).
  const at::Tensor nearest =
      std::get<1>(distances.sort(/*stable=*/true, 1, false)).slice(1, 0, n - f);
  // Row i of the mixing matrix averages i's neighbours: one [n, n] x [n, d] product.
  const at::Tensor mixing = at::zeros({n, n}, x.options()).scatter_(
      1, nearest, 1.0 / static_cast<double>(n - f));
  return mixing.mm(x);
}

at::Tensor bucketing(const at::Tensor& x, int64_t s, at::Generator generator) {
  check_workers(x, 0, "bucketing");
  if (s < 1) throw ConfigError("bucketing: s must be >= 1");
  const int64_t n = x.size(0);
  const at::Tensor order = at::randperm(n, generator, at::TensorOptions().dtype(at::kLong));
  const at::Tensor shuffled = x.index_select(0, order.to(x.device()));
  std::vector<at::Tensor> buckets;
  for (int64_t start = 0; start < n; start += s) {
    buckets.push_back(shuffled.slice(0, start, std::min(n, start + s)).mean(0));
  }
  return at::stack(buckets);
}

}  // namespace rampart::defenses::aggregation
