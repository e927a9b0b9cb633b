#include "defenses/poisoning/feature_geometry.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace rampart::defenses::poisoning {

at::Tensor PcaBasis::project(const at::Tensor& x) const {
  return (x.to(at::kDouble) - mean).mm(basis);
}

at::Tensor evenly_spaced_rows(int64_t n, int64_t count) {
  if (n <= count) return at::arange(n, at::kLong);
  return at::linspace(0, static_cast<double>(n - 1), count, at::kDouble).round().to(at::kLong);
}

PcaBasis fit_pca(const at::Tensor& points, int64_t dims, int64_t fit_rows) {
  if (points.dim() != 2 || points.size(0) < 2) {
    throw std::invalid_argument("fit_pca: points must be [N >= 2, D]");
  }
  at::Tensor fit = points;
  if (fit_rows > 0 && fit_rows < points.size(0)) {
    fit = points.index_select(0, evenly_spaced_rows(points.size(0), fit_rows));
  }
  PcaBasis pca;
  const at::Tensor x = fit.to(at::kDouble);
  pca.mean = x.mean(0);
  const at::Tensor centred = x - pca.mean;
  const auto [values, vectors] = at::linalg_eigh(centred.t().mm(centred));
  const int64_t d = std::min<int64_t>(dims, x.size(1));
  pca.basis = vectors.slice(1, x.size(1) - d).flip({1}).contiguous();  // ascending -> largest first
  // A fixed sign per axis (the largest-magnitude component positive), so runs agree.
  const at::Tensor pivot = pca.basis.gather(0, pca.basis.abs().argmax(0, true));
  pca.basis = pca.basis * pivot.sign().where(pivot != 0, at::ones_like(pivot));
  return pca;
}

at::Tensor whitened_pca_scores(const at::Tensor& points, int64_t dims) {
  const at::Tensor scores = fit_pca(points, dims).project(points);
  // Population variance, as scikit-learn's whitening (unit variance over N points).
  const at::Tensor sd = scores.std(0, /*unbiased=*/false);
  return scores / sd.where(sd > 1e-12 * sd.max().clamp_min(1e-300), at::ones_like(sd));
}

at::Tensor two_means(const at::Tensor& points, const at::Tensor& initial,
                     int64_t max_iterations) {
  const at::Tensor x = points.to(at::kDouble);
  at::Tensor second = initial.to(at::kBool).clone();
  for (int64_t it = 0; it < max_iterations; ++it) {
    const int64_t n2 = second.sum().item<int64_t>();
    if (n2 == 0 || n2 == x.size(0)) break;
    const at::Tensor w = second.to(at::kDouble).unsqueeze(1);
    const at::Tensor c2 = (x * w).sum(0) / static_cast<double>(n2);
    const at::Tensor c1 = (x * (1 - w)).sum(0) / static_cast<double>(x.size(0) - n2);
    const at::Tensor next = (x - c2).square().sum(1) < (x - c1).square().sum(1);
    if (next.equal(second)) break;
    second = next;
  }
  return second;
}

FisherSplit fisher_split(const at::Tensor& points, const at::Tensor& initial,
                         int64_t max_iterations) {
  // Centred, so that the scatter matrices below lose nothing to cancellation; the split and the
  // discriminant do not depend on a shift.
  const at::Tensor as_double = points.to(at::kDouble);
  const at::Tensor x = as_double - as_double.mean(0);
  const int64_t n = x.size(0), d = x.size(1);
  FisherSplit out;
  out.second = initial.to(at::kBool).clone();
  out.discriminant = at::zeros({n}, at::kDouble);
  // The second cluster's size, sum and scatter (sum of x x'), kept up to date with the points
  // that cross from one iteration to the next (few after the first), instead of two [d, n] x
  // [n, d] products per iteration; the first cluster's are the totals minus these.
  const at::Tensor total_sum = x.sum(0), total_scatter = x.t().mm(x);
  at::Tensor b = x.index({out.second});
  int64_t n2 = b.size(0);
  at::Tensor sum2 = b.sum(0), scatter2 = b.t().mm(b);
  for (int64_t it = 0; it < max_iterations; ++it) {
    if (n2 < 2 || n - n2 < 2) return out;  // no two clusters to tell apart
    const double n1 = static_cast<double>(n - n2), m2 = static_cast<double>(n2);
    const at::Tensor ma = (total_sum - sum2) / n1, mb = sum2 / m2;
    // Pooled within-cluster covariance: sum over both clusters of x x' - n_k m_k m_k'.
    at::Tensor pooled = (total_scatter - at::outer(ma, ma) * n1 - at::outer(mb, mb) * m2) /
                        static_cast<double>(n - 2);
    // A ridge of 1e-6 of the mean variance keeps S invertible when a cluster is flat.
    pooled = pooled + at::eye(d, at::kDouble) * (1e-6 * pooled.trace().item<double>() / d + 1e-300);
    const at::Tensor w = at::linalg_solve(pooled, (mb - ma).unsqueeze(1)).squeeze(1);
    const double spread = std::sqrt(std::max(w.dot(pooled.mv(w)).item<double>(), 1e-300));
    out.separation = (mb - ma).dot(w).item<double>() / spread;
    out.discriminant = (x.mv(w) - 0.5 * (ma + mb).dot(w)) / spread;
    const at::Tensor next = out.discriminant > 0;
    if (next.equal(out.second)) break;
    const at::Tensor joined = x.index({next.logical_and(out.second.logical_not())});
    const at::Tensor left = x.index({out.second.logical_and(next.logical_not())});
    n2 += joined.size(0) - left.size(0);
    sum2 = sum2 + joined.sum(0) - left.sum(0);
    scatter2 = scatter2 + joined.t().mm(joined) - left.t().mm(left);
    out.second = next;
  }
  return out;
}

namespace {

double within_sum_of_squares(const at::Tensor& x, const at::Tensor& second) {
  double total = 0;
  for (const bool side : {false, true}) {
    const at::Tensor part = x.index({second == side});
    if (part.size(0) > 0) total += (part - part.mean(0)).square().sum().item<double>();
  }
  return total;
}

}  // namespace

at::Tensor two_means_plus_plus(const at::Tensor& points, uint64_t seed, int64_t restarts) {
  const at::Tensor x = points.to(at::kDouble);
  const int64_t n = x.size(0);
  if (n < 2) return at::zeros({n}, at::kBool);
  std::mt19937_64 rng(seed);
  at::Tensor best;
  double best_ss = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < restarts; ++r) {
    const auto first = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
    const at::Tensor d2 = (x - x[first]).square().sum(1);
    const double total = d2.sum().item<double>();
    if (total <= 0) return at::zeros({n}, at::kBool);
    // The second centre with probability proportional to the squared distance.
    const double u = std::uniform_real_distribution<double>(0, total)(rng);
    const int64_t second_centre = std::min<int64_t>(
        (d2.cumsum(0) < u).sum().item<int64_t>(), n - 1);
    const at::Tensor initial =
        (x - x[second_centre]).square().sum(1) < (x - x[first]).square().sum(1);
    const at::Tensor assignment = two_means(x, initial);
    const double ss = within_sum_of_squares(x, assignment);
    if (ss < best_ss) best_ss = ss, best = assignment;
  }
  // The smaller cluster is the second one, so that results read the same whatever the seed.
  if (best.sum().item<int64_t>() * 2 > n) best = best.logical_not();
  return best;
}

double silhouette(const at::Tensor& points, const at::Tensor& second, int64_t max_points) {
  const int64_t n = points.size(0);
  at::Tensor x = points.to(at::kDouble), s = second.to(at::kBool);
  if (n > max_points) {
    const at::Tensor rows = evenly_spaced_rows(n, max_points);
    x = x.index_select(0, rows);
    s = s.index_select(0, rows);
  }
  const int64_t n2 = s.sum().item<int64_t>(), m = x.size(0);
  if (n2 < 1 || n2 >= m) return 0.0;
  const at::Tensor dist = at::cdist(x, x);
  const at::Tensor w2 = s.to(at::kDouble), w1 = 1 - w2;
  const at::Tensor sum_to_1 = dist.mv(w1), sum_to_2 = dist.mv(w2);
  const double m1 = static_cast<double>(m - n2), m2 = static_cast<double>(n2);
  // a: mean distance to the own cluster (without the point), b: to the other cluster.
  const at::Tensor a = at::where(s, sum_to_2 / std::max(m2 - 1, 1.0), sum_to_1 / std::max(m1 - 1, 1.0));
  const at::Tensor b = at::where(s, sum_to_1 / m1, sum_to_2 / m2);
  at::Tensor coeff = (b - a) / at::maximum(a, b).clamp_min(1e-300);
  // A point alone in its cluster has silhouette 0 by definition.
  if (n2 == 1) coeff.masked_fill_(s, 0.0);
  if (m - n2 == 1) coeff.masked_fill_(s.logical_not(), 0.0);
  return coeff.mean().item<double>();
}

}  // namespace rampart::defenses::poisoning
