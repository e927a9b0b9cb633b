#include "defenses/aggregation/robust_rules.h"

#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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

at::Tensor meamed(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "meamed");
  return kernels::median_window_mean(x, x.size(0) - f);
}

namespace {

// The mean of the given rows of x, accumulated into one output: index_select would first copy
// the rows into a fresh [k, d] tensor (about 150 ms for 10 x 1.2M floats on one thread here,
// mostly first-touch page faults), where this reads each row once.
at::Tensor mean_of_rows(const at::Tensor& x, const std::vector<int64_t>& rows) {
  at::Tensor out = x[rows.front()].clone();
  for (std::size_t i = 1; i < rows.size(); ++i) out.add_(x[rows[i]]);
  return out.div_(static_cast<double>(rows.size()));
}

// C(n, r), saturating at `cap` + 1.
int64_t binomial_capped(int64_t n, int64_t r, int64_t cap) {
  r = std::min(r, n - r);
  double c = 1.0;
  for (int64_t i = 1; i <= r; ++i) {
    c = c * static_cast<double>(n - r + i) / static_cast<double>(i);
    if (c > static_cast<double>(cap)) return cap + 1;
  }
  return static_cast<int64_t>(c + 0.5);
}

// The subset of k rows with the smallest diameter under the squared distances `d2` ([n, n],
// row-major): subsets in lexicographic order (itertools.combinations), strict improvement only,
// so the first of equal diameters is kept.
std::vector<int64_t> minimum_diameter_subset(const std::vector<double>& d2, int64_t n, int64_t k) {
  std::vector<int64_t> best(static_cast<size_t>(k)), chosen;
  for (int64_t i = 0; i < k; ++i) best[static_cast<size_t>(i)] = i;
  double best_diameter = std::numeric_limits<double>::infinity();
  chosen.reserve(static_cast<size_t>(k));
  std::function<void(int64_t, double)> extend = [&](int64_t next, double diameter) {
    if (static_cast<int64_t>(chosen.size()) == k) {
      if (diameter < best_diameter) {
        best_diameter = diameter;
        best = chosen;
      }
      return;
    }
    const int64_t still_needed = k - static_cast<int64_t>(chosen.size());
    for (int64_t i = next; i + still_needed <= n; ++i) {
      double grown = diameter;
      for (int64_t j : chosen) grown = std::max(grown, d2[static_cast<size_t>(i * n + j)]);
      // A completion can only grow the diameter: no subset through here can beat the best.
      if (!(grown < best_diameter)) continue;
      chosen.push_back(i);
      extend(i + 1, grown);
      chosen.pop_back();
    }
  };
  extend(0, 0.0);
  return best;
}

}  // namespace

at::Tensor minimum_diameter_average(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "mda");
  const int64_t n = x.size(0);
  constexpr int64_t kMaxSubsets = 10'000'000;
  if (binomial_capped(n, f, kMaxSubsets) > kMaxSubsets) {
    throw ConfigError("mda: n = " + std::to_string(n) + " workers with f = " + std::to_string(f) +
                      " means more than 10^7 subsets to search; MDA's exact search is exponential "
                      "in f (use krum, multi_krum or trimmed_mean)");
  }
  if (f == 0) return x.mean(0);
  const at::Tensor d2 = kernels::pairwise_sq_distances(x).to(at::kDouble).contiguous();
  const std::vector<double> distances(d2.data_ptr<double>(), d2.data_ptr<double>() + n * n);
  const std::vector<int64_t> subset = minimum_diameter_subset(distances, n, n - f);
  return mean_of_rows(x, subset);
}

at::Tensor covariance_filter(const at::Tensor& x, int64_t f) {
  check_workers(x, f, "caf");
  const int64_t n = x.size(0);
  // All in n-space, float64: with weights w = c / sum c and d_i = x_i - sum_j w_j x_j, the
  // centred Gram K_ik = d_i . d_k = -1/2 (D_ik - (D w)_i - (D w)_k + w^T D w) for the squared
  // distances D. The covariance's nonzero eigenpairs are those of M = W^1/2 K W^1/2: for
  // M u = lambda u, v = D^T W^1/2 u / sqrt(lambda), so d_i . v = (K W^1/2 u)_i / sqrt(lambda).
  at::Tensor d2 = kernels::pairwise_sq_distances(x).to(at::kDouble).cpu();
  if (!at::isfinite(d2).all().item<bool>()) {
    // The kernel sums float32 squares: a finite update above about 1e19 (a Byzantine worker's)
    // overflows to inf, and the centred Gram to inf - inf = NaN. Scaled into [-1, 1] first,
    // the squares stay finite, and float64 holds them scaled back.
    const double scale = x.abs().max().item<double>();
    if (!std::isfinite(scale)) throw std::invalid_argument("caf: an update holds a non-finite value");
    d2 = kernels::pairwise_sq_distances(x / scale).to(at::kDouble).cpu() * (scale * scale);
  }
  at::Tensor c = at::ones({n}, d2.options());
  at::Tensor best_w;
  double best_eigenvalue = std::numeric_limits<double>::infinity();
  // A pass zeroes the weight of the point with the largest projection, or, when that point's
  // weight is already zero (ByzFL takes the maximum over every point), shrinks the others only
  // a little: on random data the loop runs tens to hundreds of passes of O(n^3). The bound
  // (about 0.3 s at n = 12) guards against a weight sum that never reaches n - 2f.
  for (int64_t pass = 0;
       pass < 10000 && c.sum().item<double>() > static_cast<double>(n - 2 * f); ++pass) {
    const at::Tensor w = c / c.sum();
    const at::Tensor dw = at::mv(d2, w);
    const at::Tensor gram =
        -0.5 * (d2 - dw.unsqueeze(0) - dw.unsqueeze(1) + at::dot(w, dw));
    const at::Tensor root_w = w.sqrt();
    const auto [values, vectors] =
        at::linalg_eigh(root_w.unsqueeze(1) * gram * root_w.unsqueeze(0));
    const double eigenvalue = values[n - 1].item<double>();  // ascending order
    if (eigenvalue < best_eigenvalue) {
      best_eigenvalue = eigenvalue;
      best_w = w;
    }
    if (!(eigenvalue > 0)) break;  // every weighted vector equal: nothing left to filter
    const at::Tensor projection = at::mv(gram, root_w * vectors.select(1, n - 1));
    const at::Tensor tau = projection.square() / eigenvalue;
    c = c * (1 - tau / tau.max());
  }
  if (!best_w.defined()) {  // the first eigenvalue was NaN: no weights were ever judged
    throw std::invalid_argument("caf: the updates' covariance has no finite eigenvalue");
  }
  // The weighted mean row by row (an [n, d] product would first fill a fresh tensor).
  const at::Tensor w = best_w.contiguous();
  at::Tensor out = at::zeros({x.size(1)}, x.options());
  for (int64_t i = 0; i < n; ++i) {
    const double wi = w.data_ptr<double>()[i];
    if (wi > 0) out.add_(x[i], wi);
  }
  return out;
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
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, 0, false)).slice(0, 0, x.size(0) - f).cpu();
  return mean_of_rows(x, std::vector<int64_t>(order.data_ptr<int64_t>(),
                                              order.data_ptr<int64_t>() + order.numel()));
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
