// Byzantine-robust aggregation: the sorting-network kernel against sorting, every rule against
// ByzFL's values on small hand-made cases (LPD-EPFL/byzfl, computed with its own code), and
// against plain libtorch definitions on random (n, d).
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "attacks/byzantine_updates.h"
#include "core/config_node.h"
#include "core/error.h"
#include "defenses/aggregation/aggregator.h"
#include "defenses/aggregation/pre_aggregators.h"
#include "defenses/aggregation/robust_rules.h"
#include "kernels/coordinate_stats.h"
#include "kernels/pairwise_distances.h"

using namespace rampart;
namespace agg = rampart::defenses::aggregation;

namespace {

at::Tensor rows(const std::vector<std::vector<double>>& values) {
  std::vector<at::Tensor> out;
  for (const auto& r : values) out.push_back(at::tensor(r, at::kDouble));
  return at::stack(out);
}

void check_close(const at::Tensor& actual, const at::Tensor& expected, double tol = 1e-6) {
  INFO("actual " << actual << "\nexpected " << expected);
  REQUIRE(actual.sizes() == expected.sizes());
  CHECK(at::allclose(actual.to(at::kDouble), expected.to(at::kDouble), tol, tol));
}

}  // namespace

TEST_CASE("the sorting network sorts every 0/1 input up to 16 wires and random ones up to 300",
          "[defenses][aggregation]") {
  for (int64_t n = 1; n <= 16; ++n) {
    const auto network = kernels::sorting_network(n);
    for (uint32_t bits = 0; bits < (1U << n); ++bits) {
      std::vector<int> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = (bits >> i) & 1U;
      for (const auto& [a, b] : network) {
        if (v[static_cast<size_t>(a)] > v[static_cast<size_t>(b)]) {
          std::swap(v[static_cast<size_t>(a)], v[static_cast<size_t>(b)]);
        }
      }
      REQUIRE(std::is_sorted(v.begin(), v.end()));  // the 0-1 principle: sorts everything
    }
  }
  CHECK(kernels::sorting_network(16).size() == 63);  // Batcher's odd-even merge sort, 16 wires
  torch::manual_seed(1);
  for (int64_t n : {17, 33, 100, 256}) {
    const at::Tensor x = at::randn({n, 40});
    for (int64_t lo : {int64_t{0}, n / 3}) {
      check_close(kernels::sorted_range_mean(x, lo, n - lo),
                  kernels::sorted_range_mean_reference(x, lo, n - lo), 1e-5);
    }
  }
}

TEST_CASE("sorted_range_mean: the fused kernel equals sort-slice-mean, ties and infinities too",
          "[defenses][aggregation]") {
  torch::manual_seed(2);
  for (int64_t n : {1, 2, 3, 4, 5, 12, 13, 31, 64}) {
    for (int64_t d : {1, 31, 32, 33, 1000}) {
      at::Tensor x = at::randn({n, d});
      x.slice(1, 0, d / 2).round_();  // ties
      if (n > 2) {
        x[0][0] = std::numeric_limits<float>::infinity();
        x[1][0] = -std::numeric_limits<float>::infinity();
      }
      const int64_t f = (n - 1) / 2;
      for (const auto& [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
               {(n - 1) / 2, n / 2 + 1}, {f, n - f}, {0, n}, {0, 1}, {n - 1, n}}) {
        INFO("n " << n << " d " << d << " ranks " << lo << ".." << hi);
        const at::Tensor got = kernels::sorted_range_mean(x, lo, hi);
        const at::Tensor want = kernels::sorted_range_mean_reference(x, lo, hi);
        CHECK(at::allclose(got, want, 1e-5, 1e-6, /*equal_nan=*/true));
      }
    }
  }
  CHECK_THROWS(kernels::sorted_range_mean(at::zeros({4, 3}), 2, 2));
  // Rows lying apart (received frames viewed in place) and a transposed view give the same.
  const at::Tensor wide = at::randn({12, 1000 + 14});
  const at::Tensor apart = wide.slice(1, 0, 1000);
  REQUIRE(apart.stride(0) == 1014);
  CHECK(at::equal(kernels::sorted_range_mean(apart, 2, 10),
                  kernels::sorted_range_mean(apart.contiguous(), 2, 10)));
  const at::Tensor transposed = at::randn({1000, 12}).t();
  CHECK(at::allclose(kernels::sorted_range_mean(transposed, 2, 10),
                     kernels::sorted_range_mean_reference(transposed, 2, 10), 1e-5, 1e-6));
}

TEST_CASE("rules agree with plain libtorch definitions on random (n, d)",
          "[defenses][aggregation]") {
  torch::manual_seed(3);
  for (int64_t n : {5, 12, 13}) {
    const int64_t f = 2;
    const at::Tensor x = at::randn({n, 257}) + at::linspace(-1, 1, n).unsqueeze(1);
    INFO("n " << n);
    // Median: numpy's (the two middle values averaged for an even n).
    const at::Tensor sorted = std::get<0>(x.sort(0));
    const at::Tensor median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    check_close(agg::coordinate_median(x), median, 1e-5);
    check_close(agg::trimmed_mean(x, f), sorted.slice(0, f, n - f).mean(0), 1e-5);
    check_close(agg::mean(x), x.mean(0), 1e-5);
    // Krum: brute-force distances.
    std::vector<double> scores;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> d;
      for (int64_t j = 0; j < n; ++j) {
        if (j != i) d.push_back((x[i] - x[j]).pow(2).sum().item<double>());
      }
      std::sort(d.begin(), d.end());
      double s = 0;
      for (int64_t k = 0; k < n - f - 1; ++k) s += d[static_cast<size_t>(k)];
      scores.push_back(s / static_cast<double>(n - f - 1));
    }
    check_close(agg::krum_scores(x, f), at::tensor(scores, at::kDouble), 1e-5);
    // The fused distance kernel (float32) against float64 differences, large offsets included:
    // no cancellation from |a|^2 + |b|^2 - 2 a.b.
    const at::Tensor shifted = x + 1000.0;
    check_close(kernels::pairwise_sq_distances(shifted),
                kernels::pairwise_sq_distances_reference(shifted.to(at::kDouble)), 1e-4);
    check_close(kernels::pairwise_sq_distances(x.to(at::kDouble)),
                kernels::pairwise_sq_distances_reference(x), 1e-9);
    const auto best = std::min_element(scores.begin(), scores.end()) - scores.begin();
    check_close(agg::krum(x, f), x[best], 1e-6);
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return scores[static_cast<size_t>(a)] < scores[static_cast<size_t>(b)];
    });
    order.resize(static_cast<size_t>(n - f));
    check_close(agg::multi_krum(x, f), x.index_select(0, at::tensor(order)).mean(0), 1e-5);
    // Geometric median: three smoothed Weiszfeld steps from zero.
    at::Tensor z = at::zeros({x.size(1)});
    for (int t = 0; t < 3; ++t) {
      at::Tensor num = at::zeros_like(z), den = at::zeros({});
      for (int64_t i = 0; i < n; ++i) {
        const at::Tensor w = 1.0 / at::clamp_min((x[i] - z).norm(), 0.1);
        num = num + x[i] * w;
        den = den + w;
      }
      z = num / den;
    }
    check_close(agg::geometric_median(x), z, 1e-5);
    // NNM: each row the mean of its n - f nearest rows, itself included.
    at::Tensor mixed = at::empty_like(x);
    for (int64_t i = 0; i < n; ++i) {
      const at::Tensor d = (x - x[i]).pow(2).sum(1);
      const at::Tensor nearest = std::get<1>(d.sort()).slice(0, 0, n - f);
      mixed[i] = x.index_select(0, nearest).mean(0);
    }
    check_close(agg::nearest_neighbour_mixing(x, f), mixed, 1e-5);
    // Meamed: the fused kernel (float32, rows in place or strided) against ByzFL's formulation.
    for (int64_t g : {0, 1, 2}) {
      const at::Tensor reference = kernels::median_window_mean_reference(x.to(at::kDouble), n - g);
      check_close(agg::meamed(x, g), reference, 1e-5);
      const at::Tensor padded = at::randn({n, 300}).slice(1, 0, 257).copy_(x);
      check_close(kernels::median_window_mean(padded, n - g), reference, 1e-5);
      check_close(kernels::median_window_mean(x.t().contiguous().t(), n - g), reference, 1e-5);
      // Small integers tie often: both twins keep the smaller of two equally distant values.
      const at::Tensor ties = at::randint(-3, 4, {n, 257}).to(at::kFloat);
      check_close(kernels::median_window_mean(ties, n - g),
                  kernels::median_window_mean_reference(ties.to(at::kDouble), n - g), 1e-6);
    }
    // MDA: every subset of n - f rows by brute force (random rows: no ties).
    const at::Tensor d2 = kernels::pairwise_sq_distances_reference(x.to(at::kDouble));
    double best_diameter = 1e300;
    at::Tensor best_mean;
    for (int64_t mask = 0; mask < (int64_t{1} << n); ++mask) {
      std::vector<int64_t> subset;
      for (int64_t i = 0; i < n; ++i) {
        if (mask >> i & 1) subset.push_back(i);
      }
      if (static_cast<int64_t>(subset.size()) != n - f) continue;
      const at::Tensor idx = at::tensor(subset, at::kLong);
      const double diameter = d2.index_select(0, idx).index_select(1, idx).max().item<double>();
      if (diameter < best_diameter) {
        best_diameter = diameter;
        best_mean = x.index_select(0, idx).mean(0);
      }
    }
    check_close(agg::minimum_diameter_average(x, f), best_mean, 1e-5);
  }
  // MDA's exact search is refused where it would take too long.
  CHECK_THROWS_WITH(agg::minimum_diameter_average(at::randn({40, 3}), 15),
                    Catch::Contains("more than 10^7 subsets"));
  const at::Tensor many = at::randn({40, 3});
  check_close(agg::minimum_diameter_average(many, 0), many.mean(0), 1e-6);
}

namespace {

// CAF as its paper states it, in d-space: the c-weighted covariance matrix and its exact top
// eigenpair (ByzFL's code uses one power iteration from a random vector instead).
at::Tensor covariance_filter_reference(const at::Tensor& x, int64_t f) {
  const int64_t n = x.size(0);
  at::Tensor c = at::ones({n}, at::kDouble);
  at::Tensor best;
  double best_eigenvalue = 1e300;
  while (c.sum().item<double>() > static_cast<double>(n - 2 * f)) {
    const at::Tensor mu = (c.unsqueeze(1) * x).sum(0) / c.sum();
    const at::Tensor diffs = x - mu;
    const at::Tensor covariance = diffs.t().mm(c.unsqueeze(1) * diffs) / c.sum();
    const auto [values, vectors] = at::linalg_eigh(covariance);
    const double eigenvalue = values[-1].item<double>();
    if (eigenvalue < best_eigenvalue) {
      best_eigenvalue = eigenvalue;
      best = mu;
    }
    const at::Tensor tau = diffs.mv(vectors.select(1, -1)).square();
    c = c * (1 - tau / tau.max());
  }
  return best;
}

}  // namespace

TEST_CASE("CAF: the n-space form equals the d-space definition, and ByzFL's values",
          "[defenses][aggregation]") {
  at::manual_seed(11);
  for (int64_t n : {5, 9, 12}) {
    for (int64_t f = 1; 2 * f < n; ++f) {
      INFO("n " << n << " f " << f);
      at::Tensor x = at::randn({n, 6}, at::kDouble);
      x[n - 1] = x[n - 1] * 20 + 5;  // one far outlier
      check_close(agg::covariance_filter(x, f), covariance_filter_reference(x, f), 1e-5);
    }
  }
  // ByzFL's CAF on its docstring example, and (its power method run to convergence: with one
  // iteration its output is random wherever the covariance has rank > 1) on two hand-made sets.
  check_close(agg::covariance_filter(rows({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}), 1), rows({{4, 5, 6}})[0]);
  const at::Tensor x = rows({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-2, 0.5, 10}, {100, -50, 3}});
  check_close(agg::covariance_filter(x, 1), rows({{2.415351, 3.743846, 6.605320}})[0], 1e-5);
  check_close(agg::covariance_filter(x, 2), rows({{1.851658, 2.985036, 4.740841}})[0], 1e-5);
  const at::Tensor y = rows({{0.5, -1, 2, 0}, {1.5, 0, 1, -1}, {0, 2, -1, 3}, {2.5, 1, 0.5, 0.5},
                             {-3, 4, 2, 1}, {1, 1, 1, 1}, {10, -10, 5, -5}});
  check_close(agg::covariance_filter(y, 1),
              rows({{0.751919031, 0.885839403, 0.87027806, 0.673782527}})[0], 1e-6);
  check_close(agg::covariance_filter(y, 2),
              rows({{1.370933533, 0.528741956, 0.997381091, 0.337322384}})[0], 1e-6);
  // Identical vectors: the covariance vanishes at once, and their value comes back (no 0 / 0).
  const at::Tensor same = at::full({6, 3}, 2.5, at::kFloat);
  check_close(agg::covariance_filter(same, 2), at::full({3}, 2.5, at::kDouble));
  // Ten honest vectors near 1 and two far ones: the far ones are filtered out.
  at::Tensor mixed = 1 + 0.01 * at::randn({12, 50}, at::kDouble);
  mixed[10].fill_(-40);
  mixed[11].fill_(60);
  CHECK((agg::covariance_filter(mixed, 2) - mixed.slice(0, 0, 10).mean(0)).abs().max().item<double>() < 0.01);
  // float32 takes the fused distance kernel (float32 block sums). On random data CAF's loop can
  // run hundreds of passes whose top eigenvalues differ in the 7th digit, so float32 may keep
  // another pass's mean than float64 does; with the outliers clearly apart both keep the same.
  check_close(agg::covariance_filter(mixed.to(at::kFloat), 2), agg::covariance_filter(mixed, 2),
              1e-5);
  CHECK_THROWS_AS(agg::covariance_filter(same, 3), ConfigError);
  // A finite Byzantine row of 1e20 overflowed the float32 squared distances to inf, the Gram to
  // NaN, and the eigendecomposition threw: it is scaled first now, and filtered out.
  at::Tensor huge = mixed.to(at::kFloat);
  huge[11].fill_(1e20F);
  const at::Tensor robust = agg::covariance_filter(huge, 2);
  CHECK(at::isfinite(robust).all().item<bool>());
  CHECK((robust.to(at::kDouble) - mixed.slice(0, 0, 10).mean(0)).abs().max().item<double>() < 0.05);
  huge[11].fill_(NAN);
  CHECK_THROWS_WITH(agg::covariance_filter(huge, 2), Catch::Contains("caf: an update holds a non-finite value"));
}

TEST_CASE("centered clipping keeps its centre between rounds, clipping and ARC bound norms",
          "[defenses][aggregation]") {
  const at::Tensor x = rows({{3, 4}, {0, 0}, {30, 40}});
  agg::CenteredClipping cc(/*tau=*/5.0, /*iterations=*/1);
  // From 0: |x_i| = 5, 0, 50 -> the third clipped to norm 5: ((3,4) + (0,0) + (3,4)) / 3.
  check_close(cc(x), rows({{2, 8.0 / 3}})[0]);
  // From v = (2, 8/3): x_i - v = (1, 4/3) [norm 5/3], (-2, -8/3) [10/3], (28, 37 1/3) [46 2/3].
  const at::Tensor v = rows({{2, 8.0 / 3}})[0];
  const at::Tensor d3 = x[2] - v;
  const at::Tensor expected = v + ((x[0] - v) + (x[1] - v) + d3 * (5.0 / d3.norm())) / 3;
  check_close(cc(x), expected);
  check_close(agg::static_clip(x, 10.0), rows({{3, 4}, {0, 0}, {6, 8}}));
  // ARC with f = 1 of n = 3: k = floor(2 * (1/3) * 2) = 1 vector clipped, to the next norm (5).
  check_close(agg::adaptive_clip(x, 1), rows({{3, 4}, {0, 0}, {3, 4}}));
  // Bucketing of 3 by 2: two buckets, one of them a single vector; the mean is kept.
  const at::Tensor buckets = agg::bucketing(x, 2, at::detail::createCPUGenerator(7));
  CHECK(buckets.size(0) == 2);
  CHECK(at::allclose(buckets.sum(0), rows({{33, 44}})[0] / 2 +
                                         (buckets.sum(0) - rows({{33, 44}})[0] / 2)));
  CHECK_THROWS_AS(agg::trimmed_mean(x, 2), ConfigError);  // 2f >= n
  CHECK_THROWS_WITH(agg::krum(x, 2), Catch::Contains("krum: f = 2 needs 2f < n = 3 workers"));
}

// Golden values: ByzFL (LPD-EPFL/byzfl @69bd1ac, numpy path, float64) on two hand-made cases.
TEST_CASE("rules and pre-aggregators give ByzFL's values on hand-made cases",
          "[defenses][aggregation]") {
  const at::Tensor x = rows({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-2, 0.5, 10}, {100, -50, 3}});
  check_close(agg::mean(x), rows({{22, -6.9, 6.2}})[0]);
  check_close(agg::coordinate_median(x), rows({{4, 2, 6}})[0]);
  check_close(agg::trimmed_mean(x, 1), rows({{4, 2.5, 6}})[0]);
  check_close(agg::geometric_median(x), rows({{3.823191672, 3.765801874, 6.24237195}})[0]);
  check_close(agg::krum(x, 1), rows({{4, 5, 6}})[0]);
  check_close(agg::multi_krum(x, 1), rows({{2.5, 3.875, 7}})[0]);
  check_close(agg::nearest_neighbour_mixing(x, 1),
              rows({{2.5, 3.875, 7}, {2.5, 3.875, 7}, {2.5, 3.875, 7}, {2.5, 3.875, 7},
                    {28, -8.75, 5.25}}));
  check_close(agg::adaptive_clip(x, 1),
              rows({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-2, 0.5, 10},
                    {12.45344677, -6.226723384, 0.373603403}}));
  check_close(agg::adaptive_clip(x, 2),
              rows({{1, 2, 3}, {4, 5, 6}, {5.131392167, 5.86444819, 6.597504214}, {-2, 0.5, 10},
                    {9.12907417, -4.564537085, 0.2738722251}}));
  check_close(agg::static_clip(x, 2.0),
              rows({{0.5345224838, 1.069044968, 1.603567451},
                    {0.9116846117, 1.139605765, 1.367526918},
                    {1.005141422, 1.148733054, 1.292324686},
                    {-0.3917616855, 0.09794042137, 1.958808427},
                    {1.788210742, -0.894105371, 0.05364632226}}));
  agg::CenteredClipping cc(5.0, 1);
  check_close(cc(x), rows({{1.856637545, 1.146086934, 2.936153176}})[0]);
  check_close(cc(x), rows({{2.983562555, 2.145316073, 4.972608863}})[0]);
  agg::CenteredClipping cc3(5.0, 3);
  check_close(cc3(x), rows({{3.477148996, 2.704690432, 5.95080722}})[0]);
  check_close(cc3(x), rows({{3.864902294, 3.200909418, 6.53917338}})[0]);
  agg::CenteredClipping defaults;
  check_close(defaults(x), rows({{19.88210742, -5.84105371, 6.136463223}})[0]);
  check_close(defaults(x), rows({{22, -6.9, 6.2}})[0]);

  const at::Tensor y = rows({{0.5, -1, 2, 0}, {1.5, 0, 1, -1}, {0, 2, -1, 3}, {2.5, 1, 0.5, 0.5},
                             {-3, 4, 2, 1}, {1, 1, 1, 1}, {10, -10, 5, -5}});
  check_close(agg::coordinate_median(y), rows({{1, 1, 1, 0.5}})[0]);
  check_close(agg::trimmed_mean(y, 2), rows({{1, 0.6666666667, 1.333333333, 0.5}})[0]);
  check_close(agg::geometric_median(y),
              rows({{1.180468185, 0.5674001651, 1.02553835, 0.4531544486}})[0]);
  check_close(agg::krum(y, 2), rows({{1, 1, 1, 1}})[0]);
  check_close(agg::multi_krum(y, 2), rows({{1.1, 0.6, 0.7, 0.7}})[0]);
  check_close(agg::nearest_neighbour_mixing(y, 2),
              rows({{1.1, 0.6, 0.7, 0.7}, {1.1, 0.6, 0.7, 0.7}, {0.4, 1.6, 0.7, 0.9},
                    {1.1, 0.6, 0.7, 0.7}, {0, 1.2, 1, 0.8}, {1.1, 0.6, 0.7, 0.7},
                    {3.1, -1.8, 1.9, -0.9}}));
  check_close(agg::adaptive_clip(y, 2),
              rows({{0.5, -1, 2, 0}, {1.5, 0, 1, -1}, {0, 2, -1, 3}, {2.5, 1, 0.5, 0.5},
                    {-2.049390153, 2.732520204, 1.366260102, 0.6831300511}, {1, 1, 1, 1},
                    {2.366431913, -2.366431913, 1.183215957, -1.183215957}}));
  // MDA and Meamed (ByzFL's MDA and Meamed classes on the same inputs).
  check_close(agg::minimum_diameter_average(x, 1), rows({{2.5, 3.875, 7}})[0]);
  check_close(agg::minimum_diameter_average(x, 2), rows({{1, 2.5, 6.333333333}})[0]);
  check_close(agg::meamed(x, 1), rows({{2.5, 3.875, 5.25}})[0]);
  // f = 2, last coordinate: {3, 6, 9, 10, 3} around the median 6, the third closest is a tie
  // between 3 and 9. Rampart keeps the smaller, {3, 3, 6}, in both twins; ByzFL's argpartition
  // took 9 (mean 6).
  check_close(agg::meamed(x, 2), rows({{4, 2.5, 4}})[0]);
  check_close(agg::meamed(x.to(at::kFloat), 2), rows({{4, 2.5, 4}})[0]);
  const std::vector<std::vector<double>> y_mda{{0.4166666667, 1.166666667, 0.9166666667, 0.75},
                                               {1.1, 0.6, 0.7, 0.7},
                                               {1.375, 0.25, 1.125, 0.125}};
  const std::vector<std::vector<double>> y_meamed{{0.4166666667, 1.166666667, 0.9166666667, 0.75},
                                                  {1.1, 0.6, 1.3, 0.3},
                                                  {0.75, 1, 1.125, 0.625}};
  for (int64_t f = 1; f <= 3; ++f) {
    INFO("f " << f);
    check_close(agg::minimum_diameter_average(y, f), rows({y_mda[f - 1]})[0]);
    check_close(agg::meamed(y, f), rows({y_meamed[f - 1]})[0]);
    check_close(agg::meamed(y.to(at::kFloat), f), rows({y_meamed[f - 1]})[0], 1e-6);
  }
  // float32 takes the fused median kernel: the same values.
  check_close(agg::coordinate_median(y.to(at::kFloat)), rows({{1, 1, 1, 0.5}})[0], 1e-6);
  check_close(agg::trimmed_mean(y.to(at::kFloat), 2),
              rows({{1, 0.6666666667, 1.333333333, 0.5}})[0], 1e-6);
}

TEST_CASE("Byzantine updates and the optimal attacks' line search give ByzFL's values",
          "[defenses][aggregation][byzantine]") {
  namespace byz = rampart::attacks::byzantine;
  const at::Tensor h = rows({{0.5, -1, 2, 0}, {1.5, 0, 1, -1}, {0, 2, -1, 3}, {2.5, 1, 0.5, 0.5},
                             {-3, 4, 2, 1}});
  check_close(byz::a_little_is_enough(h, 1.5),
              rows({{3.41949515, 4.08530761, 2.76748494, 2.92485955}})[0]);
  // tau < 0: the sign of the ALIE authors' code, mean - 1.5 std.
  check_close(byz::a_little_is_enough(h, -1.5),
              rows({{-2.81949515, -1.68530761, -0.96748494, -1.52485955}})[0]);
  check_close(byz::inner_product_manipulation(h, 2.0), rows({{-0.6, -2.4, -1.8, -1.4}})[0]);
  check_close(byz::sign_flip(h), rows({{-0.3, -1.2, -0.9, -0.7}})[0]);
  check_close(byz::mimic(h, 2), h[2]);
  CHECK(byz::infinity(h).isinf().all().item<bool>());
  // The optimal attacks against TrMean(f=1) after [NNM(f=1), Clipping(c=2)], f = 1 (ByzFL's
  // docstring example), and against the median with f = 2.
  defenses::aggregation::AggregatorSpec spec;
  spec.name = "trimmed_mean";
  spec.f = 1;
  spec.pre = {{"nnm", 2.0, 1, 2}, {"clipping", 2.0, 1, 2}};
  const auto pipeline = [&](const at::Tensor& v) {
    defenses::aggregation::RobustAggregator copy(spec);
    return copy(v);
  };
  const at::Tensor x = rows({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}});
  check_close(byz::optimal_ipm(x, 1, pipeline), rows({{-2.74877907, -3.43597384, -4.1231686}})[0]);
  check_close(byz::optimal_alie(x, 1, pipeline),
              rows({{12.91985116, 13.91985116, 14.91985116}})[0]);
  const auto median = [](const at::Tensor& v) { return agg::coordinate_median(v); };
  check_close(byz::optimal_alie(h, 2, median),
              rows({{21.09663434, 20.43538406, 13.3498996, 15.53239697}})[0]);
}

TEST_CASE("the aggregator section parses, describes itself and names bad keys",
          "[defenses][aggregation][config]") {
  auto root = core::parse_config(
      "ok: {name: trimmed_mean, f: 2, pre: [clipping, nnm], momentum: 0.9}\n"
      "mixed: {name: centered_clipping, tau: 10, pre: [{name: clipping, c: 5}, bucketing]}\n"
      "mda: {name: mda, f: 2}\n"
      "bad_pre: {name: median, pre: [clip]}\n"
      "bad_name: {name: bulyan}\n"
      "bad_key: {name: krum, g: 1}\n"
      "unread_key: {name: krum, f: 1, tau: 0.001}\n"
      "median_f: {name: median, f: 1}\n"
      "median_nnm: {name: median, f: 1, pre: [nnm]}\n"
      "scalar: median\n",
      "d.yaml");
  const auto ok = defenses::aggregation::parse_aggregator_spec(root.child("ok"));
  CHECK(defenses::aggregation::describe(ok) ==
        "trimmed_mean(f=2) after clipping(c=2), nnm(f=2), worker momentum 0.9");
  const auto mixed = defenses::aggregation::parse_aggregator_spec(root.child("mixed"));
  CHECK(defenses::aggregation::describe(mixed) ==
        "centered_clipping(tau=10, iterations=1) after clipping(c=5), bucketing(s=2)");
  const auto error = [&](const std::string& key) -> std::string {
    try {
      defenses::aggregation::parse_aggregator_spec(root.child(key));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const auto mda = defenses::aggregation::parse_aggregator_spec(root.child("mda"));
  CHECK(defenses::aggregation::describe(mda) == "mda(f=2)");
  CHECK(defenses::aggregation::RobustAggregator(mda).min_inputs() == 5);
  CHECK_THAT(error("bad_pre"), Catch::Contains("d.yaml:4:"));
  CHECK_THAT(error("bad_pre"), Catch::Contains("unknown pre-aggregator 'clip'"));
  CHECK_THAT(error("bad_name"), Catch::Contains("bad_name.name: unknown value 'bulyan'"));
  CHECK_THAT(error("bad_key"), Catch::Contains("bad_key.g"));
  CHECK_THAT(error("scalar"), Catch::Contains("expected a mapping"));
  // Keys a rule does not read were accepted and dropped (krum with tau, median with f).
  CHECK_THAT(error("unread_key"), Catch::Contains("unread_key.tau: unknown key 'tau'"));
  CHECK_THAT(error("median_f"), Catch::Contains("median_f.f: median takes no f"));
  CHECK(defenses::aggregation::describe(defenses::aggregation::parse_aggregator_spec(
            root.child("median_nnm"))) == "median after nnm(f=1)");
  // Ranks already known to be Byzantine lower every f of the pipeline.
  CHECK(defenses::aggregation::RobustAggregator(ok).min_inputs(1) == 3);
  CHECK(defenses::aggregation::RobustAggregator(ok).min_inputs(5) == 1);
  // The pipeline: clipping to norm 2, then NNM, then the trimmed mean, equals the steps by hand.
  torch::manual_seed(5);
  const at::Tensor x = at::randn({7, 50});
  defenses::aggregation::RobustAggregator aggregate(ok);
  check_close(aggregate(x),
              agg::trimmed_mean(agg::nearest_neighbour_mixing(agg::static_clip(x, 2.0), 2), 2),
              1e-5);
  check_close(aggregate(x.slice(0, 0, 6), 1),
              agg::trimmed_mean(agg::nearest_neighbour_mixing(agg::static_clip(x.slice(0, 0, 6), 2.0), 1), 1),
              1e-5);
  // Centered clipping keeps its centre across rounds, and a copy keeps its own.
  defenses::aggregation::AggregatorSpec cc;
  cc.name = "centered_clipping";
  cc.tau = 1.0;
  defenses::aggregation::RobustAggregator a(cc);
  const at::Tensor first = a(x);
  defenses::aggregation::RobustAggregator b = a;
  const at::Tensor second = a(x);
  CHECK_FALSE(at::allclose(first, second));
  check_close(b(x), second);
  check_close(b.centre(), a.centre());
}

TEST_CASE("the CUDA twins of the median, trimmed mean and Meamed equal the CPU kernels",
          "[defenses][aggregation][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twins run on a GPU host)");
    return;
  }
  torch::manual_seed(11);
  for (int64_t n : {1, 2, 5, 12, 13, 64}) {
    INFO("n " << n);
    // Random values, small integers that tie often, and rows apart (a view into wider rows).
    const at::Tensor wide = at::randn({n, 3000});
    const std::vector<std::pair<at::Tensor, at::Tensor>> cases{
        {at::randn({n, 10007}), at::Tensor()},
        {at::randint(-3, 4, {n, 4099}).to(at::kFloat), at::Tensor()},
        {wide.slice(1, 0, 2500), wide.to(at::kCUDA).slice(1, 0, 2500)}};
    for (const auto& [x, strided] : cases) {
      const at::Tensor g = strided.defined() ? strided : x.to(at::kCUDA);
      const int64_t f = (n - 1) / 2;
      check_close(kernels::sorted_range_mean(g, f, n - f).cpu(),
                  kernels::sorted_range_mean(x, f, n - f), 1e-5);
      check_close(kernels::sorted_range_mean(g, (n - 1) / 2, n / 2 + 1).cpu(),
                  kernels::sorted_range_mean(x, (n - 1) / 2, n / 2 + 1), 1e-5);
      for (int64_t k : {int64_t{1}, n - f, n}) {
        check_close(kernels::median_window_mean(g, k).cpu(), kernels::median_window_mean(x, k),
                    1e-5);
      }
    }
  }
  const at::Tensor x = at::randn({12, 5000});
  check_close(agg::meamed(x.to(at::kCUDA), 2).cpu(), agg::meamed(x, 2), 1e-5);
  check_close(agg::trimmed_mean(x.to(at::kCUDA), 2).cpu(), agg::trimmed_mean(x, 2), 1e-5);
}

TEST_CASE("the CUDA twin of the pairwise distances equals the CPU kernel",
          "[defenses][aggregation][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twins run on a GPU host)");
    return;
  }
  torch::manual_seed(12);
  for (int64_t n : {1, 2, 5, 12, 64}) {
    for (int64_t d : {1, 10007, 300001}) {
      INFO("n " << n << ", d " << d);
      const at::Tensor x = at::randn({n, d});
      const at::Tensor on_gpu = kernels::pairwise_sq_distances(x.to(at::kCUDA));
      CHECK(on_gpu.scalar_type() == at::kDouble);
      check_close(on_gpu.cpu(), kernels::pairwise_sq_distances(x), 1e-6);
      CHECK(at::equal(on_gpu.cpu().diagonal(), at::zeros({n}, at::kDouble)));
    }
  }
  // Rows apart (a view into wider rows), and a shifted set whose |a|^2 dwarfs the distances.
  const at::Tensor wide = at::randn({12, 3000});
  check_close(kernels::pairwise_sq_distances(wide.to(at::kCUDA).slice(1, 0, 2500)).cpu(),
              kernels::pairwise_sq_distances(wide.slice(1, 0, 2500)), 1e-6);
  const at::Tensor shifted = at::randn({12, 5000}) * 1e-3 + 100.0;
  check_close(kernels::pairwise_sq_distances(shifted.to(at::kCUDA)).cpu(),
              kernels::pairwise_sq_distances_reference(shifted.to(at::kDouble)), 1e-4);
  const at::Tensor updates = at::randn({12, 5000});
  check_close(agg::krum(updates.to(at::kCUDA), 2).cpu(), agg::krum(updates, 2), 1e-6);
}
