#include "defenses/poisoning/robust_covariance.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rampart::defenses::poisoning {

namespace {

struct MeanCovariance {
  at::Tensor mean, covariance;
};

MeanCovariance mean_covariance(const at::Tensor& x) {
  const at::Tensor mean = x.mean(0);
  const at::Tensor centred = x - mean;
  at::Tensor cov = centred.t().mm(centred) / static_cast<double>(std::max<int64_t>(x.size(0) - 1, 1));
  // A ridge of 1e-9 of the mean variance keeps a flat subset invertible.
  const int64_t d = x.size(1);
  cov = cov + at::eye(d, at::kDouble) * (1e-9 * cov.trace().item<double>() / d + 1e-300);
  return {mean, cov};
}

// Sigma^-1/2 from the eigendecomposition, the eigenvalues floored at 1e-12 of the largest: a
// subset that is flat in some direction (dead features) gives large distances there, not an
// error.
at::Tensor inverse_root(const at::Tensor& covariance) {
  const auto [values, vectors] = at::linalg_eigh(covariance);
  const double floor = std::max(values.max().item<double>() * 1e-12, 1e-300);
  return vectors.mm(at::diag(values.clamp_min(floor).rsqrt())).mm(vectors.t());
}

// Squared Mahalanobis distances of the rows of x under (mean, cov).
at::Tensor squared_distances(const at::Tensor& x, const MeanCovariance& mc) {
  return (x - mc.mean).mm(inverse_root(mc.covariance)).square().sum(1);
}

// The keep smallest entries of d as a mask.
at::Tensor smallest(const at::Tensor& d, int64_t keep) {
  at::Tensor mask = at::zeros({d.size(0)}, at::kBool);
  mask.index_fill_(0, std::get<1>(d.topk(keep, 0, /*largest=*/false)), true);
  return mask;
}

}  // namespace

RobustCovariance robust_covariance(const at::Tensor& points, double keep_share, int64_t max_steps) {
  if (points.dim() != 2 || points.size(0) < points.size(1) + 2) {
    throw std::invalid_argument("robust_covariance: points must be [N, D] with N >= D + 2");
  }
  if (!(keep_share > 0.5 && keep_share <= 1.0)) {
    throw std::invalid_argument("robust_covariance: keep_share must be in (0.5, 1]");
  }
  const at::Tensor x = points.to(at::kDouble);
  const int64_t n = x.size(0), d = x.size(1);
  const int64_t keep = std::max<int64_t>(d + 1, static_cast<int64_t>(std::ceil(keep_share * n)));
  // Start: the points nearest the coordinate-wise median, each coordinate scaled by its MAD.
  const at::Tensor median = std::get<0>(x.median(0));
  const at::Tensor mad = std::get<0>((x - median).abs().median(0)).clamp_min(1e-12);
  at::Tensor subset = smallest(((x - median) / mad).square().sum(1), keep);
  MeanCovariance mc;
  at::Tensor dist;
  for (int64_t step = 0; step < max_steps; ++step) {
    mc = mean_covariance(x.index({subset}));
    dist = squared_distances(x, mc);
    const at::Tensor next = smallest(dist, keep);
    if (next.equal(subset)) break;
    subset = next;
  }
  // Consistency: the median squared distance of normal data is chi2_d's median, which the
  // Wilson-Hilferty approximation d (1 - 2 / (9 d))^3 gives to within 0.5% for d >= 2.
  const double chi2_median = d * std::pow(1.0 - 2.0 / (9.0 * d), 3);
  const double scale = std::get<0>(dist.median(0)).item<double>() / chi2_median;
  return {mc.mean, mc.covariance * scale, subset};
}

at::Tensor whiten(const at::Tensor& points, const RobustCovariance& robust) {
  return (points.to(at::kDouble) - robust.mean).mm(inverse_root(robust.covariance));
}

at::Tensor que_scores(const at::Tensor& whitened, double alpha) {
  const at::Tensor y = whitened.to(at::kDouble);
  const int64_t n = y.size(0);
  const at::Tensor s = y.t().mm(y) / static_cast<double>(std::max<int64_t>(n, 1));
  const auto [values, vectors] = at::linalg_eigh(s);
  const double top = values.max().item<double>();
  // Q = U diag(w) U^T with w = exp(alpha (lambda - 1) / (lambda_max - 1)).
  const at::Tensor w = top > 1.0 ? (alpha * (values - 1.0) / (top - 1.0)).exp()
                                 : at::ones_like(values);
  const at::Tensor projected = y.mm(vectors);  // [N, D]
  return projected.square().mv(w) / w.sum();
}

}  // namespace rampart::defenses::poisoning
