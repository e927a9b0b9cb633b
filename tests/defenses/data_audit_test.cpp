// The poisoning detectors and their statistics: exact values on small cases, and detection on
// synthetic features where the ground truth is planted (the end-to-end Fashion-MNIST run is in
// tests/cli/audit_data_test.cpp).
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/inline_image.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/cluster_statistics.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/detectors.h"
#include "defenses/poisoning/feature_geometry.h"
#include "defenses/poisoning/flagged_points.h"
#include "defenses/poisoning/nearest_neighbours.h"
#include "defenses/poisoning/robust_covariance.h"
#include "defenses/poisoning/source_diversity.h"
#include "support/test_support.h"

using namespace rampart;
using namespace rampart::defenses::poisoning;

namespace {

double brute_force_two_means_ss(const std::vector<double>& v, const std::vector<bool>& high) {
  double total = 0;
  for (const bool side : {false, true}) {
    double sum = 0, n = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (high[i] == side) sum += v[i], n += 1;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (high[i] == side) total += (v[i] - sum / n) * (v[i] - sum / n);
    }
  }
  return total;
}

// A synthetic data set of `classes` classes: images are class prototypes plus noise ([1, 8, 8]),
// features a class centre plus noise in 24 dims. `poison` points of other classes are relabelled
// to `target`; their features keep half of their own class's (the content) and gain a trigger
// offset, so that they form a cluster apart from the target's, more diverse than it (as on
// Fashion-MNIST: docs/poisoning.md).
struct Planted {
  at::Tensor images, features, labels, poisoned;
};

Planted plant(int64_t per_class, int64_t classes, int64_t target, int64_t poison, uint64_t seed) {
  at::manual_seed(seed);
  const int64_t n = per_class * classes;
  const at::Tensor labels = at::arange(classes, at::kLong).repeat_interleave(per_class);
  const at::Tensor image_protos = at::rand({classes, 1, 8, 8});
  const at::Tensor feature_protos = at::randn({classes, 24}) * 6.0;
  Planted p;
  p.images = (image_protos.index_select(0, labels) + 0.15 * at::randn({n, 1, 8, 8})).clamp(0, 1);
  p.features = feature_protos.index_select(0, labels) + at::randn({n, 24});
  p.labels = labels.clone();
  if (poison > 0) {
    const at::Tensor others = (labels != target).nonzero().flatten();
    p.poisoned = std::get<0>(others.index_select(0, at::randperm(others.numel()).slice(0, 0, poison)).sort());
    at::Tensor trigger = at::zeros({24});
    trigger[0] = 25.0;
    p.features.index_put_({p.poisoned}, 0.5 * p.features.index_select(0, p.poisoned) + trigger);
    p.labels.index_fill_(0, p.poisoned, target);
  } else {
    p.poisoned = at::empty({0}, at::kLong);
  }
  return p;
}

}  // namespace

TEST_CASE(
    "audit_features refuses non-finite features and labels outside the classes, naming the point",
    "[defenses][poisoning]") {
  at::manual_seed(23);
  const at::Tensor features = at::randn({600, 8});
  const at::Tensor labels = at::arange(3, at::kLong).repeat_interleave(200);
  for (const std::string detector : {"spectral", "activation_clustering", "knn_labels"}) {
    INFO(detector);
    AuditSpec spec;
    spec.detectors = {detector};
    at::Tensor broken = features.clone();
    broken[417][5] = NAN;
    CHECK_THROWS_MATCHES(
        audit_features(broken, labels, 3, spec), DataError,
        Catch::Matchers::Message("the features of point 417 are not finite (nan): the "
                                 "model's output is broken there, so no detector can "
                                 "rank the points"));
    broken[417][5] = -INFINITY;
    CHECK_THROWS_MATCHES(
        audit_features(broken, labels, 3, spec), DataError,
        Catch::Matchers::Message("the features of point 417 are not finite (-inf): the "
                                 "model's output is broken there, so no detector can "
                                 "rank the points"));
    at::Tensor wrong = labels.clone();
    wrong[12] = 3;
    CHECK_THROWS_MATCHES(
        audit_features(features, wrong, 3, spec), std::invalid_argument,
        Catch::Matchers::Message("audit_features: point 12 has label 3, outside the "
                                 "3 classes"));
    CHECK_THROWS_MATCHES(
        audit_features(features, labels.slice(0, 0, 599), 3, spec), std::invalid_argument,
        Catch::Matchers::Message("audit_features: 600 feature rows but 599 labels"));
  }
}

TEST_CASE("two_means_1d finds the best cut (brute force over every cut)", "[defenses][poisoning]") {
  at::manual_seed(5);
  for (int trial = 0; trial < 20; ++trial) {
    const at::Tensor values = at::randn({15}, at::kDouble) + (trial % 2) * at::randn({15}, at::kDouble).abs() * 3;
    const at::Tensor high = two_means_1d(values);
    std::vector<double> v(values.data_ptr<double>(), values.data_ptr<double>() + 15);
    std::vector<bool> h(15);
    for (int i = 0; i < 15; ++i) h[i] = high[i].item<bool>();
    const double got = brute_force_two_means_ss(v, h);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    double best = INFINITY;
    for (int cut = 1; cut < 15; ++cut) {
      std::vector<bool> hh(15);
      for (int i = 0; i < 15; ++i) hh[i] = v[i] >= sorted[cut];
      best = std::min(best, brute_force_two_means_ss(v, hh));
    }
    CHECK(got == Approx(best).epsilon(1e-12));
  }
  const at::Tensor simple = two_means_1d(at::tensor({0.0, 0.1, 5.0, 0.2, 5.1}, at::kDouble));
  CHECK(simple.equal(at::tensor({0, 0, 1, 0, 1}, at::kInt).to(at::kBool)));
  CHECK_FALSE(two_means_1d(at::full({4}, 2.0, at::kDouble)).any().item<bool>());
}

TEST_CASE("robust z-scores and the cross-class outlier test", "[defenses][poisoning]") {
  // median 3, MAD 1 -> scale 1.4826
  const at::Tensor z = robust_z(at::tensor({1.0, 2.0, 3.0, 4.0, 9.0}, at::kDouble));
  CHECK(z[4].item<double>() == Approx(6.0 / 1.4826));
  CHECK(z[0].item<double>() == Approx(-2.0 / 1.4826));
  // Ten classes: nine clean separations near 4 to 5, one at 12.
  const std::vector<double> separations{3.5, 4.0, 3.8, 4.9, 5.1, 5.5, 12.0, 5.5, 5.3, 4.4};
  const std::vector<double> p = outlier_p_values(separations);
  const at::Tensor zz = robust_z(at::tensor(separations, at::kDouble));
  for (std::size_t i = 0; i < p.size(); ++i) {
    CHECK(p[i] == Approx(0.5 * std::erfc(zz[static_cast<int64_t>(i)].item<double>() / std::sqrt(2.0))));
  }
  CHECK(p[6] < 1e-8);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (i != 6) CHECK(p[i] > 0.01);
  }
}

TEST_CASE("fisher_split cuts out a tight cluster that two-means splits wrongly", "[defenses][poisoning]") {
  // A wide cluster (sd 5 along x, 1 along y) and a tight one (sd 0.2) at (6, 10): two-means on
  // Euclidean distance hands the wide cluster's right side to the tight one; Fisher's
  // discriminant, which weighs y by the small spread along it, separates the two.
  at::manual_seed(8);
  const at::Tensor wide = at::randn({2000, 2}, at::kDouble) * at::tensor({5.0, 1.0}, at::kDouble);
  const at::Tensor tight = at::randn({200, 2}, at::kDouble) * 0.2 + at::tensor({6.0, 10.0}, at::kDouble);
  const at::Tensor x = at::cat({wide, tight});
  const at::Tensor truth = at::cat({at::zeros({2000}, at::kBool), at::ones({200}, at::kBool)});
  CHECK_FALSE(two_means(x, x.select(1, 1) > 3.0).equal(truth));
  const FisherSplit split = fisher_split(x, x.select(1, 1) > 3.0);
  CHECK(split.second.equal(truth));
  // The separation is the Mahalanobis distance of the means under the pooled covariance.
  const at::Tensor a = x.slice(0, 0, 2000), b = x.slice(0, 2000);
  const at::Tensor ca = a - a.mean(0), cb = b - b.mean(0);
  const at::Tensor s = (ca.t().mm(ca) + cb.t().mm(cb)) / 2198.0;
  const at::Tensor diff = b.mean(0) - a.mean(0);
  const double mahalanobis =
      std::sqrt(diff.dot(at::linalg_solve(s, diff.unsqueeze(1)).squeeze(1)).item<double>());
  CHECK(split.separation == Approx(mahalanobis).epsilon(1e-4));
  CHECK((split.discriminant > 0).equal(truth));
}

TEST_CASE("fisher_split's discriminant after many moved points is the two-pass one of its final split",
          "[defenses][poisoning]") {
  // Two overlapping clusters far from the origin, started from a random half: hundreds of points
  // cross sides before the split settles, each crossing updating the running scatter matrices.
  at::manual_seed(24);
  const at::Tensor x = at::cat({at::randn({900, 4}, at::kDouble),
                                at::randn({300, 4}, at::kDouble) * 0.5 + 2.5}) + 1000.0;
  const FisherSplit split = fisher_split(x, at::rand({1200}) > 0.5);
  const at::Tensor a = x.index({split.second.logical_not()}), b = x.index({split.second});
  const int64_t smaller = std::min(a.size(0), b.size(0));  // either side may be the 300
  REQUIRE(smaller > 200);
  REQUIRE(smaller < 400);
  const at::Tensor ca = a - a.mean(0), cb = b - b.mean(0);
  at::Tensor s = (ca.t().mm(ca) + cb.t().mm(cb)) / 1198.0;
  s = s + at::eye(4, at::kDouble) * (1e-6 * s.trace().item<double>() / 4);
  const at::Tensor w = at::linalg_solve(s, (b.mean(0) - a.mean(0)).unsqueeze(1)).squeeze(1);
  const double spread = std::sqrt(w.dot(s.mv(w)).item<double>());
  const at::Tensor want = (x.mv(w) - 0.5 * (a.mean(0) + b.mean(0)).dot(w)) / spread;
  CHECK((split.discriminant - want).abs().max().item<double>() < 1e-9);
  CHECK((want > 0).equal(split.second));
  CHECK(split.separation == Approx((b.mean(0) - a.mean(0)).dot(w).item<double>() / spread).epsilon(1e-12));
}

TEST_CASE("nearest_labels matches a brute-force search and skips the point itself",
          "[defenses][poisoning]") {
  at::manual_seed(4);
  const at::Tensor ref = at::randn({300, 5});
  const at::Tensor labels = at::randint(0, 4, {300}, at::kLong);
  const at::Tensor q_idx = at::arange(0, 300, 7, at::kLong);
  const at::Tensor got = nearest_labels(ref.index_select(0, q_idx), q_idx, ref, labels, 6);
  for (int64_t i = 0; i < q_idx.numel(); ++i) {
    at::Tensor d = (ref - ref[q_idx[i].item<int64_t>()]).square().sum(1);
    d[q_idx[i].item<int64_t>()] = INFINITY;
    const at::Tensor nearest = std::get<1>(d.topk(6, 0, false));
    // The k nearest in any order: compare the label multisets.
    CHECK(std::get<0>(got[i].sort()).equal(std::get<0>(labels.index({nearest}).sort())));
  }
}

TEST_CASE("nearest_labels over several query blocks equals a full sort of the distances",
          "[defenses][poisoning]") {
  // 700 queries: three blocks of the search, the last one partial; k 20 as the detector runs it.
  at::manual_seed(5);
  const at::Tensor ref = at::randn({900, 8});
  const at::Tensor labels = at::randint(0, 10, {900}, at::kLong);
  const at::Tensor q_idx = at::arange(0, 700, at::kLong);
  const at::Tensor got = nearest_labels(ref.slice(0, 0, 700), q_idx, ref, labels, 20);
  REQUIRE(got.sizes() == at::IntArrayRef({700, 20}));
  at::Tensor d = at::cdist(ref.slice(0, 0, 700).to(at::kDouble), ref.to(at::kDouble));
  d.slice(1, 0, 700).diagonal().fill_(INFINITY);
  const at::Tensor nearest = std::get<1>(d.sort(1)).slice(1, 0, 20);
  CHECK(std::get<0>(got.sort(1)).equal(std::get<0>(labels.index({nearest}).sort(1))));
}

namespace {

// The indices of the k nearest references of each query by a full float64 sort, the point
// itself (query_index) left out: the oracle of nearest_neighbours.
at::Tensor sorted_nearest(const at::Tensor& query, const at::Tensor& query_index,
                          const at::Tensor& ref, int64_t k) {
  at::Tensor d = at::cdist(query.to(at::kDouble), ref.to(at::kDouble));
  for (int64_t i = 0; i < query.size(0); ++i) {
    const int64_t self = query_index[i].item<int64_t>();
    if (self >= 0) d[i][self] = INFINITY;
  }
  return std::get<1>(d.sort(1)).slice(1, 0, k);
}

}  // namespace

TEST_CASE(
    "nearest_neighbours over Voronoi cells finds the full sort's neighbours and skips far cells",
    "[defenses][poisoning]") {
  // 6,000 references in 8 clusters of 16 dimensions (11 cells of the search), as a trained
  // network's features are; queries: 1,500 of the references (themselves left out) and 200
  // points of their own between the clusters.
  at::manual_seed(21);
  const at::Tensor centres = at::randn({8, 16}) * 6;
  const at::Tensor ref =
      centres.index_select(0, at::randint(0, 8, {6000}, at::kLong)) + at::randn({6000, 16});
  const at::Tensor outside = at::randn({200, 16}) * 6;
  const at::Tensor query = at::cat({ref.slice(0, 0, 6000, 4), outside});
  const at::Tensor q_idx =
      at::cat({at::arange(0, 6000, 4, at::kLong), at::full({200}, -1, at::kLong)});
  NeighbourSearchStats stats;
  const at::Tensor got = nearest_neighbours(query, q_idx, ref, 20, &stats);
  REQUIRE(got.sizes() == at::IntArrayRef({1700, 20}));
  CHECK(std::get<0>(got.sort(1)).equal(std::get<0>(sorted_nearest(query, q_idx, ref, 20).sort(1))));
  // Nearest first.
  // Nearest first (to the float rounding of the search's distances).
  const at::Tensor d = (ref.index({got}) - query.unsqueeze(1)).to(at::kDouble).square().sum(2);
  CHECK((d.slice(1, 1) >= d.slice(1, 0, -1) - 1e-3).all().item<bool>());
  CHECK(stats.cells == 11);
  // Most cells hold other clusters: far fewer distances than the 1,700 x 6,000 of a plain search
  // (34% here, where a cluster holds an eighth of the points and its cells do not prune each other
  // in 16 dimensions; 9% on the bench's 60,000 points in 10 classes).
  CHECK(stats.distances < 1700 * 6000 * 4 / 10);
}

TEST_CASE("nearest_neighbours is exact on points without clusters, where no cell can be skipped",
          "[defenses][poisoning]") {
  at::manual_seed(22);
  const at::Tensor ref = at::rand({5000, 8});
  const at::Tensor q_idx = at::arange(0, 5000, 9, at::kLong);
  NeighbourSearchStats stats;
  const at::Tensor got = nearest_neighbours(ref.index_select(0, q_idx), q_idx, ref, 20, &stats);
  CHECK(stats.cells == 9);
  CHECK(
      std::get<0>(got.sort(1))
          .equal(std::get<0>(sorted_nearest(ref.index_select(0, q_idx), q_idx, ref, 20).sort(1))));
}

TEST_CASE("robust_covariance ignores a far cluster that moves the plain covariance",
          "[defenses][poisoning]") {
  // 1,800 normal points with covariance diag(1, 4, 9, 0.25, 1) and 200 (10%) far off along
  // the last axis: the plain covariance's last entry grows to about 0.1 x 0.9 x 30^2 = 81.
  at::manual_seed(6);
  const at::Tensor sd = at::tensor({1.0, 2.0, 3.0, 0.5, 1.0}, at::kDouble);
  at::Tensor x = at::randn({2000, 5}, at::kDouble) * sd;
  x.slice(0, 1800).select(1, 4).add_(30.0);
  const RobustCovariance rc = robust_covariance(x);
  CHECK(rc.kept.slice(0, 0, 1800).sum().item<int64_t>() == 1500);  // 75% of 2,000, all clean
  CHECK(rc.kept.slice(0, 1800, 2000).sum().item<int64_t>() == 0);
  // The trimmed subset's covariance has the clean points' shape (correlations within 0.08 of
  // theirs) and, after the consistency scaling, their variances to within 20% (the 10%
  // outliers shift the median it scales by).
  const at::Tensor clean_points = x.slice(0, 0, 1800);
  const at::Tensor clean_cov = at::cov(clean_points.t());
  INFO(rc.covariance);
  const at::Tensor ratio = rc.covariance.diagonal() / clean_cov.diagonal();
  CHECK(ratio.min().item<double>() > 0.9);
  CHECK(ratio.max().item<double>() < 1.2);
  const auto correlation = [](const at::Tensor& c) {
    const at::Tensor s = c.diagonal().rsqrt();
    return c * s.outer(s);
  };
  CHECK((correlation(rc.covariance) - correlation(clean_cov)).abs().max().item<double>() < 0.08);
  CHECK(rc.mean.abs().max().item<double>() < 0.2);
  // Whitened by it, the clean points have about identity covariance and the cluster sits ~30
  // clean standard deviations out.
  const at::Tensor y = whiten(x, rc);
  const at::Tensor clean = y.slice(0, 0, 1800);
  CHECK((clean.t().mm(clean) / 1800 - at::eye(5, at::kDouble)).abs().max().item<double>() < 0.2);
  CHECK(y.slice(0, 1800).select(1, 4).mean().item<double>() > 25);
}

TEST_CASE("robust_covariance and whiten survive a feature that never varies",
          "[defenses][poisoning]") {
  // Dead ReLU units: a column of zeros makes every covariance singular.
  at::manual_seed(8);
  at::Tensor x = at::randn({300, 4}, at::kDouble);
  x.select(1, 2).zero_();
  const RobustCovariance rc = robust_covariance(x);
  CHECK(rc.kept.sum().item<int64_t>() == 225);
  const at::Tensor y = whiten(x, rc);
  CHECK(at::isfinite(y).all().item<bool>());
  CHECK(y.select(1, 0).std().item<double>() > 0.5);
}

TEST_CASE("que_scores equal the definition with the matrix exponential", "[defenses][poisoning]") {
  at::manual_seed(7);
  at::Tensor y = at::randn({300, 4}, at::kDouble);
  y.slice(0, 0, 30).select(1, 2).add_(5.0);  // one direction with more variance than I
  const at::Tensor s = y.t().mm(y) / 300;
  const double top = std::get<0>(at::linalg_eigh(s)).max().item<double>();
  REQUIRE(top > 1);
  for (const double alpha : {0.0, 1.0, 4.0}) {
    const at::Tensor q = at::matrix_exp(alpha * (s - at::eye(4, at::kDouble)) / (top - 1));
    const at::Tensor expected = (y.mm(q) * y).sum(1) / q.trace();
    CHECK(at::allclose(que_scores(y, alpha), expected, 1e-10, 1e-12));
  }
  // alpha 0: |y|^2 / D; the planted points score highest at alpha 4.
  CHECK(at::allclose(que_scores(y, 0.0), y.square().sum(1) / 4, 1e-12, 1e-12));
  const at::Tensor top30 = std::get<1>(que_scores(y, 4.0).topk(30));
  CHECK((top30 < 30).sum().item<int64_t>() >= 28);
  // No direction above the identity: Q = I.
  const at::Tensor flat = at::eye(4, at::kDouble).repeat({10, 1});  // S = I / 4... scaled below
  CHECK(at::allclose(que_scores(flat, 4.0), flat.square().sum(1) / 4, 1e-12, 1e-12));
}

TEST_CASE("silhouette equals the definition on a small case", "[defenses][poisoning]") {
  const at::Tensor x = at::tensor({0.0, 1.0, 10.0, 12.0}, at::kDouble).unsqueeze(1);
  const at::Tensor second = at::tensor({0, 0, 1, 1}, at::kInt).to(at::kBool);
  // a, b per point: (1, 11), (1, 10), (2, 9.5), (2, 11.5)
  const double expected = ((11 - 1) / 11.0 + (10 - 1) / 10.0 + (9.5 - 2) / 9.5 + (11.5 - 2) / 11.5) / 4;
  CHECK(silhouette(x, second) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("spectral detection finds a planted backdoor without knowing target or rate",
          "[defenses][poisoning][audit]") {
  AuditSpec spec;
  spec.detectors = {"spectral", "activation_clustering"};
  for (const auto& [poison, target] : std::vector<std::pair<int64_t, int64_t>>{{60, 3}, {300, 7}, {600, 1}}) {
    // 600 of 6,000 points: the target class is half poison, half its own; the input-space label
    // agreement still tells which half is which.
    INFO(poison << " poisons, target " << target);
    const Planted p = plant(600, 10, target, poison, 40 + static_cast<uint64_t>(poison));
    const AuditResult r = audit_features(p.features, p.labels, 10, spec);
    const DetectorResult& s = r.detectors[0];
    for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == target));
    const AuditScore score = score_audit(s.flagged, p.poisoned, r.points);
    CHECK(score.recall() >= 0.99);
    CHECK(score.false_positive_rate() <= 0.01);
    CHECK(s.classes[target].suspect_spread > s.classes[target].other_spread);
  }
}

TEST_CASE("the robust start finds a small backdoor that the class's own variance hides",
          "[defenses][poisoning][audit]") {
  // Every class has a strong style direction of its own (sd 8, as garments come in kinds);
  // 60 poisons (9% of the target class, 1% of the set) sit 10 units off along the trigger's
  // direction. Unwhitened, the style direction carries the target's top singular vector; after
  // whitening by the class's robust covariance the poisons stand out along their own.
  at::manual_seed(11);
  constexpr int64_t kClasses = 10, kPer = 600, kTarget = 4, kPoison = 60;
  const at::Tensor labels = at::arange(kClasses, at::kLong).repeat_interleave(kPer);
  const at::Tensor protos = at::randn({kClasses, 24}) * 6.0;
  at::Tensor styles = at::randn({kClasses, 24});
  styles = styles / styles.norm(2, {1}, true);
  at::Tensor features = protos.index_select(0, labels) + at::randn({kClasses * kPer, 24}) +
                        8.0 * at::randn({kClasses * kPer, 1}) * styles.index_select(0, labels);
  at::Tensor poisoned_labels = labels.clone();
  const at::Tensor others = (labels != kTarget).nonzero().flatten();
  const at::Tensor poisoned = std::get<0>(others.index_select(0, at::randperm(others.numel()).slice(0, 0, kPoison)).sort());
  at::Tensor trigger = at::zeros({24});
  trigger[5] = 10.0;
  features.index_put_({poisoned}, 0.5 * features.index_select(0, poisoned) +
                                      protos[kTarget] * 0.5 + trigger);
  poisoned_labels.index_fill_(0, poisoned, kTarget);
  AuditSpec spec;
  // The top singular direction as the only spectral start (the cuts along the next principal
  // axes find this cluster too: the case below).
  spec.spectral_starts = 1;
  const AuditResult r = audit_features(features, poisoned_labels, kClasses, spec);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  CHECK(s.classes[kTarget].split_start == "robust");
  // Like against like: each class's split is tested among the other classes' splits from the
  // same start (whitening gives every class's robust split higher separations; on Fashion-MNIST
  // a clean class's robust split stood out among the spectral ones and was judged poisoned).
  std::vector<double> spectral_seps, robust_seps;
  for (const auto& v : s.classes) spectral_seps.push_back(v.spectral_separation), robust_seps.push_back(v.robust_separation);
  const std::vector<double> p_spectral = outlier_p_values(spectral_seps), p_robust = outlier_p_values(robust_seps);
  for (const auto& v : s.classes) {
    CHECK(v.separation == (v.split_start == "robust" ? v.robust_separation : v.spectral_separation));
    CHECK(v.p_value == (v.split_start == "robust" ? p_robust : p_spectral)[static_cast<size_t>(v.label)]);
  }
  const AuditScore score = score_audit(s.flagged, poisoned, r.points);
  CHECK(score.recall() >= 0.95);
  CHECK(score.false_positive_rate() <= 0.01);
  // The config section's keys for it, and a value out of range named.
  auto root = core::parse_config("a: {robust: {keep: 0.8, min_share: 0.02, min_diversity: 2}, tail_k: 5}\n"
                                 "b: {robust: {keep: 0.4}}\n", "a.yaml");
  const AuditSpec parsed = parse_audit_spec(root.child("a"));
  CHECK(parsed.robust_keep == 0.8);
  CHECK(parsed.robust_min_share == 0.02);
  CHECK(parsed.robust_min_diversity == 2.0);
  CHECK(parsed.tail_k == 5.0);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("robust.keep"));
  // Without the robust start (its diversity bar out of reach) the backdoor goes unnoticed.
  spec.robust_min_diversity = 1e9;
  const AuditResult plain = audit_features(features, poisoned_labels, kClasses, spec);
  CHECK_FALSE(plain.detectors[0].classes[kTarget].poisoned);
  CHECK(plain.detectors[0].classes[kTarget].split_start == "spectral");
  // The default three spectral starts: the cut along a later principal axis finds it as well.
  spec.spectral_starts = 3;
  const DetectorResult three = audit_features(features, poisoned_labels, kClasses, spec).detectors[0];
  for (const auto& v : three.classes) CHECK(v.poisoned == (v.label == kTarget));
  CHECK(score_audit(three.flagged, poisoned, r.points).recall() >= 0.95);
}

TEST_CASE("neighbour_label_entropy: exact on a small case, own class excluded", "[defenses][poisoning]") {
  // 1-D inputs. Class 0 at 0 and 10; class 1 at 1 and 2; class 2 at 11; a class-0 point at 0.5
  // would be everyone's nearest neighbour if the own class were searched too.
  const at::Tensor inputs = at::tensor({0.0, 10.0, 1.0, 2.0, 11.0, 0.5}, at::kFloat).unsqueeze(1);
  const at::Tensor labels = at::tensor({0, 0, 1, 1, 2, 0}, at::kLong);
  const at::Tensor both = at::tensor({0, 1}, at::kLong);
  CHECK(neighbour_label_entropy(inputs, labels, both, 0) == Approx(std::log(2.0)).epsilon(1e-12));
  CHECK(neighbour_label_entropy(inputs, labels, at::tensor({0, 5}, at::kLong), 0) == 0.0);  // both next to class 1
  CHECK(neighbour_label_entropy(inputs, labels, at::empty({0}, at::kLong), 0) == 0.0);
  // Up to `queries` evenly spaced members: the first and the last.
  const at::Tensor three = at::tensor({0, 5, 1}, at::kLong);
  CHECK(neighbour_label_entropy(inputs, labels, three, 0, 2) == Approx(std::log(2.0)).epsilon(1e-12));
  // Images are pooled to at most 16 x 16 and flattened; smaller ones only flattened.
  CHECK(neighbour_space(at::rand({3, 1, 28, 28})).sizes() == at::IntArrayRef{3, 256});
  CHECK(neighbour_space(at::rand({3, 3, 8, 8})).sizes() == at::IntArrayRef{3, 192});
}

TEST_CASE("other_class_share: exact on a small case, the group itself never a neighbour",
          "[defenses][poisoning]") {
  // Class 0 at 0, 0.2 and (in the group) 0.1 and 5.05; class 1 at 5.0 and 5.3.
  const at::Tensor inputs = at::tensor({0.0, 0.2, 5.0, 5.3, 5.05, 0.1}, at::kFloat).reshape({6, 1});
  const at::Tensor labels = at::tensor({0, 0, 1, 1, 0, 0}, at::kLong);
  CHECK(other_class_share(inputs, labels, at::tensor({4, 5}, at::kLong), 0) == 0.5);
  CHECK(other_class_share(inputs, labels, at::tensor({4}, at::kLong), 0) == 1.0);
  CHECK(other_class_share(inputs, labels, at::tensor({5}, at::kLong), 0) == 0.0);
  // {5.0, 5.05} as class 1's group: the nearest point outside it is 5.3 for both, class 1.
  CHECK(other_class_share(inputs, labels, at::tensor({2, 4}, at::kLong), 1) == 0.0);
  CHECK(other_class_share(inputs, labels, at::empty({0}, at::kLong), 0) == 0.0);
}

TEST_CASE("a tight poison cluster off the top axis: found from a later start, its side told by the inputs",
          "[defenses][poisoning][audit]") {
  // Like a blended trigger on Fashion-MNIST's shirts (docs/poisoning.md, 2026-12-04): every class
  // has a wide style direction (sd 8) that carries its top singular vector; 300 poisons (a third
  // of the target class) form a tight cluster 12 units off along another direction, tighter
  // than the class itself, so their feature spread is the smaller. Their images still look like
  // their source classes.
  at::manual_seed(21);
  constexpr int64_t kClasses = 10, kPer = 600, kTarget = 6, kPoison = 300;
  const Planted base = plant(kPer, kClasses, kTarget, 0, 21);
  const at::Tensor labels = base.labels;
  const at::Tensor protos = at::randn({kClasses, 24}) * 6.0;
  at::Tensor styles = at::randn({kClasses, 24});
  styles = styles / styles.norm(2, {1}, true);
  at::Tensor features = protos.index_select(0, labels) + at::randn({kClasses * kPer, 24}) +
                        8.0 * at::randn({kClasses * kPer, 1}) * styles.index_select(0, labels);
  const at::Tensor others = (labels != kTarget).nonzero().flatten();
  const at::Tensor poisoned = std::get<0>(others.index_select(0, at::randperm(others.numel()).slice(0, 0, kPoison)).sort());
  at::Tensor trigger = at::zeros({24});
  trigger[7] = 12.0;
  features.index_put_({poisoned}, protos[kTarget] + trigger + 0.5 * at::randn({kPoison, 24}));
  at::Tensor poisoned_labels = labels.clone();
  poisoned_labels.index_fill_(0, poisoned, kTarget);
  const at::Tensor inputs = neighbour_space(base.images);

  AuditSpec spec;
  const AuditResult r = audit_features(features, poisoned_labels, kClasses, spec, at::Tensor(), inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.side_rule == "source_entropy");
  CHECK(t.suspect_source_entropy > t.other_source_entropy + 0.5);
  CHECK(t.suspect_spread < t.other_spread);  // the flagged side is the tighter one here
  const AuditScore score = score_audit(s.flagged, poisoned, r.points);
  CHECK(score.recall() >= 0.99);
  CHECK(score.false_positive_rate() <= 0.01);

  // Without the inputs the more spread side, the clean one, would be flagged.
  const DetectorResult no_inputs = audit_features(features, poisoned_labels, kClasses, spec).detectors[0];
  CHECK(no_inputs.classes[kTarget].side_rule == "feature_spread");
  CHECK(score_audit(no_inputs.flagged, poisoned, r.points).recall() < 0.05);
  // With the top singular direction as the only start the split follows the style: missed.
  spec.spectral_starts = 1;
  const DetectorResult one_start = audit_features(features, poisoned_labels, kClasses, spec, at::Tensor(), inputs).detectors[0];
  CHECK_FALSE(one_start.classes[kTarget].poisoned);
  CHECK(one_start.classes[kTarget].spectral_separation < t.spectral_separation);
  auto root = core::parse_config("a: {spectral_starts: 5}\nb: {spectral_starts: 0}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).spectral_starts == 5);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("spectral_starts"));
}

TEST_CASE("a clean class's own subgroup passes the per-class test but is not judged poisoned: "
          "its sides look like few classes",
          "[defenses][poisoning][audit]") {
  // Like the trousers that one 10% Fashion-MNIST run judged poisoned (docs/poisoning.md): no
  // poison at all, but 15% of class 4 sit apart in feature space (another cut of garment), and
  // the class passes the spread and per-class test. Its images are class-4 images, so both
  // sides' nearest other-class neighbours fall on a few look-alike classes.
  constexpr int64_t kClasses = 10, kPer = 600, kOdd = 4;
  const Planted p = plant(kPer, kClasses, 0, 0, 5);
  at::Tensor features = p.features.clone();
  at::manual_seed(5);
  const at::Tensor odd = (p.labels == kOdd).nonzero().flatten().slice(0, 0, 90);
  at::Tensor offset = at::zeros({24});
  offset[3] = 14.0;
  features.index_put_({odd}, features.index_select(0, odd) + offset + 2.0 * at::randn({90, 24}));
  const at::Tensor inputs = neighbour_space(p.images);

  AuditSpec off;
  off.min_source_entropy = 0;  // the check off: the subgroup is taken for a backdoor
  const DetectorResult before = audit_features(features, p.labels, kClasses, off, at::Tensor(), inputs).detectors[0];
  REQUIRE(before.classes[kOdd].poisoned);
  CHECK(before.classes[kOdd].flagged >= 90);
  CHECK(before.classes[kOdd].suspect_source_entropy < std::log(5.0));

  const AuditResult r = audit_features(features, p.labels, kClasses, AuditSpec{}, at::Tensor(), inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK_FALSE(v.poisoned);
  const ClassVerdict& v = s.classes[kOdd];
  CHECK(v.source_entropy_veto);
  CHECK(v.flagged == 0);
  CHECK(v.p_value == before.classes[kOdd].p_value);  // the test itself is unchanged
  CHECK(r.flagged.numel() == 0);
  CHECK(audit_json(r, AuditSpec{}, AuditContext{})["detectors"][0]["classes"][kOdd]["source_entropy_veto"] == true);

  auto root = core::parse_config("a: {min_source_entropy: 0.5}\nb: {min_source_entropy: -1}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).min_source_entropy == 0.5);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("min_source_entropy"));
}

namespace {

// Classes with five wide style directions each (sd 9 to 5: garments come in many kinds, so that
// no small group carries a top principal axis), 600 points apiece; `tight` points of class
// `tight_source` and `diffuse` points of the other classes are moved into class `target`'s
// region: the tight ones as one close group 30 units off along axis 9 (one source class's
// poisons, alike), the diffuse ones spread (sd 5) 20 units off along axis 5. Images stay their
// source classes'.
struct Layered {
  at::Tensor features, labels, inputs, tight, diffuse;
};
Layered layered(int64_t target, int64_t tight_source, int64_t tight, int64_t diffuse, bool relabel,
                uint64_t seed) {
  constexpr int64_t kClasses = 10, kPer = 600;
  const Planted base = plant(kPer, kClasses, target, 0, seed);
  at::manual_seed(seed);
  const at::Tensor protos = at::randn({kClasses, 24}) * 6.0;
  Layered l;
  l.labels = base.labels.clone();
  l.features = protos.index_select(0, base.labels) + at::randn({kClasses * kPer, 24});
  for (const double sd : {9.0, 8.0, 7.0, 6.0, 5.0}) {
    at::Tensor styles = at::randn({kClasses, 24});
    styles = styles / styles.norm(2, {1}, true);
    l.features += sd * at::randn({kClasses * kPer, 1}) * styles.index_select(0, base.labels);
  }
  const at::Tensor from_source = (base.labels == tight_source).nonzero().flatten();
  l.tight = from_source.slice(0, 0, tight);
  const at::Tensor others = ((base.labels != target) & (base.labels != tight_source)).nonzero().flatten();
  l.diffuse = std::get<0>(others.index_select(0, at::randperm(others.numel()).slice(0, 0, diffuse)).sort());
  at::Tensor tight_offset = at::zeros({24}), diffuse_offset = at::zeros({24});
  tight_offset[9] = 30.0;
  diffuse_offset[5] = 20.0;
  const at::Tensor home = relabel ? protos[target] : at::Tensor();
  auto centre = [&](const at::Tensor& rows) {
    return relabel ? home.expand({rows.numel(), 24}) : protos.index_select(0, base.labels.index_select(0, rows));
  };
  l.features.index_put_({l.tight}, centre(l.tight) + tight_offset + 0.3 * at::randn({tight, 24}));
  l.features.index_put_({l.diffuse}, centre(l.diffuse) + diffuse_offset + 5.0 * at::randn({diffuse, 24}));
  if (relabel) {
    l.labels.index_fill_(0, l.tight, target);
    l.labels.index_fill_(0, l.diffuse, target);
  }
  l.inputs = neighbour_space(base.images);
  return l;
}

// Class `odd` left clean, with layered's tight group of 20 of its own points and 45 more of them
// (`spread`) spread (sd 5) 14 units off along axis 5; its images its own.
Layered clean_odd_layers(int64_t odd, at::Tensor& spread) {
  Layered l = layered(odd, odd, 20, 0, false, 33);
  spread = (l.labels == odd).nonzero().flatten().slice(0, 100, 145);
  at::Tensor offset = at::zeros({24});
  offset[5] = 14.0;
  l.features.index_put_({spread}, l.features.index_select(0, spread) + offset + 5.0 * at::randn({45, 24}));
  return l;
}

}  // namespace

TEST_CASE("peeling: a tight sub-cluster of one source class's poisons is set aside, the rest found",
          "[defenses][poisoning][audit]") {
  // Like 1% BadNets seed 1 on the CPU (docs/poisoning.md): the robust split cuts off only a tight
  // group of poisons (20, 3% of the target class), which the gates refuse as too small; the other
  // 45 poisons, more diverse, hide until that group is peeled off.
  constexpr int64_t kTarget = 3;
  const Layered l = layered(kTarget, 8, 20, 45, true, 31);
  const at::Tensor poisoned = std::get<0>(at::cat({l.tight, l.diffuse}).sort());
  AuditSpec none;
  none.robust_peels = 0;
  const DetectorResult before = audit_features(l.features, l.labels, 10, none, at::Tensor(), l.inputs).detectors[0];
  CHECK(score_audit(before.flagged, poisoned, l.labels.numel()).recall() < 0.5);

  const AuditResult r = audit_features(l.features, l.labels, 10, AuditSpec{}, at::Tensor(), l.inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.split_start == "robust");
  CHECK(t.robust_peels == 1);
  CHECK(t.peeled >= 20);  // the tight group of 20 poisons
  CHECK(t.peeled_split_separation >= AuditSpec{}.min_separation);
  CHECK(t.peeled_split_p_value < AuditSpec{}.alpha / 10);  // the rest's split stands out too
  CHECK(t.separation == t.robust_separation);  // tested on the first split, like the others
  CHECK(t.suspect_source_entropy > t.other_source_entropy);
  CHECK(t.peeled_other_class_share > 0.9);  // one source class's images, among their own
  const AuditScore score = score_audit(s.flagged, poisoned, r.points);
  CHECK(score.recall() >= 0.95);
  CHECK(score.false_positive_rate() <= 0.01);
  const auto report = audit_json(r, AuditSpec{}, AuditContext{});
  const auto& j = report["detectors"][0]["classes"][kTarget];
  CHECK(j["robust_peels"] == 1);
  CHECK(j["peeled"] == t.peeled);
  CHECK(j["peeled_split_p_value"] == t.peeled_split_p_value);
  CHECK(report["spec"]["robust"]["peels"] == 4);

  auto root = core::parse_config("a: {robust: {peels: 3}}\nb: {robust: {peels: -1}}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).robust_peels == 3);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("robust.peels"));
}

TEST_CASE("peeling a clean class's odd groups: its peeled side looks like few classes, not judged",
          "[defenses][poisoning][audit]") {
  // The same layers of odd points inside one clean class, its own images (like the trousers'
  // odd cuts, docs/poisoning.md): the peeled split passes the per-class test, but its side's
  // nearest other-class neighbours are the few look-alikes of one class.
  constexpr int64_t kOdd = 1;
  at::Tensor own;
  Layered l = clean_odd_layers(kOdd, own);
  const AuditResult r = audit_features(l.features, l.labels, 10, AuditSpec{}, at::Tensor(), l.inputs);
  const ClassVerdict& v = r.detectors[0].classes[kOdd];
  REQUIRE(v.robust_peels == 1);
  CHECK(v.p_value < AuditSpec{}.alpha / 10);  // the per-class test is passed
  CHECK(v.source_entropy_veto);
  CHECK(v.suspect_source_entropy < std::log(5.0));
  CHECK(v.flagged == 0);
  for (const auto& c : r.detectors[0].classes) CHECK_FALSE(c.poisoned);
  CHECK(r.flagged.numel() == 0);
}

TEST_CASE("peeling: a clean class's tight group cannot ride on a diverse split of the rest",
          "[defenses][poisoning][audit]") {
  // Like 1% BadNets seed 6 on the CPU (docs/poisoning.md): a clean class (the trousers) peeled a
  // tight group of its own, and the split of the rest cut off odd points whose images look like
  // several classes, so the union's source entropy passed the floor. The peeled group sits among
  // its own class's images: not judged poisoned.
  constexpr int64_t kOdd = 1;
  at::Tensor own;
  Layered l = clean_odd_layers(kOdd, own);
  // Their images: five of each other class's (odd garments that look like every other kind).
  std::vector<at::Tensor> donors;
  for (int64_t c = 0; c < 10; ++c) {
    if (c != kOdd) donors.push_back((l.labels == c).nonzero().flatten().slice(0, 0, 5));
  }
  l.inputs.index_put_({own}, l.inputs.index_select(0, at::cat(donors)));
  const AuditResult r = audit_features(l.features, l.labels, 10, AuditSpec{}, at::Tensor(), l.inputs);
  const ClassVerdict& v = r.detectors[0].classes[kOdd];
  REQUIRE(v.robust_peels == 1);
  CHECK(v.p_value < AuditSpec{}.alpha / 10);  // the per-class test is passed
  CHECK(v.suspect_source_entropy >= std::log(5.0));  // the union passes the floor
  CHECK(v.suspect_source_entropy > v.other_source_entropy);
  CHECK(v.peeled_other_class_share < 0.5);  // the peeled group sits among its class's images
  CHECK(v.source_entropy_veto);
  CHECK(v.flagged == 0);
  for (const auto& c : r.detectors[0].classes) CHECK_FALSE(c.poisoned);
  CHECK(r.flagged.numel() == 0);
  const auto j = audit_json(r, AuditSpec{}, AuditContext{})["detectors"][0]["classes"][kOdd];
  CHECK(j["peeled_other_class_share"] == v.peeled_other_class_share);
}

namespace {

// layered's classes with three tight groups (20, 25 and 18 points) moved into class `target`'s
// region, each off along its own axis (9, 12, 15; 48, 36 and 26 units, so that the robust start
// finds one at a time, as it did on the real model): with `relabel`, points of source
// classes {0, 1, 2}, {4, 5} and {7, 8} given the target label (poisons of a trigger that the
// network learned per kind of garment); without, points of the target class itself (a clean
// class's odd kinds). Images stay their own.
Layered three_groups(int64_t target, bool relabel, double scale, uint64_t seed) {
  Layered l = layered(target, target, 0, 0, false, seed);
  const at::Tensor centre = l.features.index({l.labels == target}).mean(0);
  const std::vector<std::vector<int64_t>> sources = {{0, 1, 2}, {4, 5}, {7, 8}};
  const std::vector<int64_t> axes = {9, 12, 15}, sizes = {20, 25, 18};
  const std::vector<double> distances = {48.0, 36.0, 26.0};
  std::vector<at::Tensor> moved;
  int64_t taken = 0;  // own points already moved (without relabel)
  for (std::size_t g = 0; g < sources.size(); ++g) {
    at::Tensor from = at::zeros({l.labels.numel()}, at::kBool);
    if (relabel) {
      for (const int64_t c : sources[g]) from |= l.labels == c;
    } else {
      from = l.labels == target;
    }
    at::Tensor pool = from.nonzero().flatten();
    if (relabel) pool = pool.index_select(0, at::randperm(pool.numel()));  // its source classes mixed
    const int64_t first = relabel ? 0 : taken;
    const at::Tensor rows = pool.slice(0, first, first + sizes[g]);
    taken += sizes[g];
    at::Tensor offset = at::zeros({24});
    offset[axes[g]] = scale * distances[g];
    l.features.index_put_({rows}, centre + offset + 0.3 * at::randn({sizes[g], 24}));
    moved.push_back(rows);
  }
  l.tight = std::get<0>(at::cat(moved).sort());
  if (relabel) l.labels.index_fill_(0, l.tight, target);
  return l;
}

}  // namespace

TEST_CASE("peeling until the rest is ordinary: poisons in three tight groups, each too small alone",
          "[defenses][poisoning][audit]") {
  // Like the 1% corner run of seed 7 (docs/poisoning.md, "The patch in a corner"): the robust
  // split cut off one tight group of poisons after another (153, 302 and 146 of the 6,600
  // sandals, each under robust_min_share), and after the third the rest split as clean classes
  // do. Two peels never reach an ordinary rest: the class was not judged poisoned.
  constexpr int64_t kTarget = 6;
  const double scale = GENERATE(1.0, 0.6);
  INFO("distances x " << scale);
  const Layered l = three_groups(kTarget, true, scale, 51);
  AuditSpec two;
  two.robust_peels = 2;
  const DetectorResult before = audit_features(l.features, l.labels, 10, two, at::Tensor(), l.inputs).detectors[0];
  CHECK_FALSE(before.classes[kTarget].poisoned);
  CHECK(before.flagged.sum().item<int64_t>() == 0);
  // At the larger distances the top singular direction cuts off the farthest group alone: that
  // split stands out, but one group looks like few classes (vetoed), and the peeled groups held
  // in reserve are judged instead. At the smaller ones, as on the real model, no split but the
  // peeled groups stands out.
  CHECK(before.classes[kTarget].source_entropy_veto == (scale == 1.0));

  const AuditResult r = audit_features(l.features, l.labels, 10, AuditSpec{}, at::Tensor(), l.inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.split_start == "robust");
  CHECK(t.peeled_until_ordinary);
  CHECK(t.robust_peels == 3);
  CHECK(t.peeled == 63);
  CHECK(t.peeled_split_p_value >= AuditSpec{}.alpha / 10);  // the last rest's split: ordinary
  CHECK(t.separation == t.robust_separation);  // tested on the first split, like the others
  CHECK(t.suspect_source_entropy >= std::log(5.0));  // seven source classes
  CHECK(t.peeled_other_class_share > 0.9);
  const AuditScore score = score_audit(s.flagged, l.tight, r.points);
  CHECK(score.recall() == 1.0);
  CHECK(score.false_positive_rate() <= 0.01);
  const auto j = audit_json(r, AuditSpec{}, AuditContext{})["detectors"][0]["classes"][kTarget];
  CHECK(j["peeled_until_ordinary"] == true);
  CHECK(j["robust_peels"] == 3);
  AuditSpec reported;
  reported.top_images = 0;
  const std::string dir = test::make_temp_dir("audit-peeled-until-ordinary");
  write_audit_reports(dir, r, reported, AuditContext{}, at::rand({l.labels.numel(), 1, 4, 4}), l.labels, 0.0, 1.0);
  CHECK(core::read_file(dir + "/audit.md").find("after peeling 63 points, the rest ordinary") != std::string::npos);

  // The same three groups made of the class's own points (its odd kinds, its own images): peeled
  // the same way, but they look like their own class, not judged poisoned.
  const Layered clean = three_groups(kTarget, false, scale, 51);
  const AuditResult c = audit_features(clean.features, clean.labels, 10, AuditSpec{}, at::Tensor(), clean.inputs);
  const ClassVerdict& odd = c.detectors[0].classes[kTarget];
  CHECK(odd.peeled_until_ordinary);
  CHECK(odd.source_entropy_veto);
  for (const auto& v : c.detectors[0].classes) CHECK_FALSE(v.poisoned);
  CHECK(c.flagged.numel() == 0);

  // Like the clean trousers of the 1% border run of seed 9 (docs/poisoning.md): most of the odd
  // kinds look like other classes (45 of the 63 get five images of each other class), so their
  // source entropy passes the floor and most have another class's image nearest, but not the
  // 90% that a peeled-only candidate needs: not judged poisoned.
  Layered look_alike = clean;
  std::vector<at::Tensor> donors;
  for (int64_t k = 0; k < 10; ++k) {
    if (k != kTarget) donors.push_back((look_alike.labels == k).nonzero().flatten().slice(0, 0, 5));
  }
  look_alike.inputs = clean.inputs.clone();
  look_alike.inputs.index_put_({clean.tight.slice(0, 0, 45)}, clean.inputs.index_select(0, at::cat(donors)));
  const AuditResult a = audit_features(look_alike.features, look_alike.labels, 10, AuditSpec{}, at::Tensor(),
                                       look_alike.inputs);
  const ClassVerdict& o = a.detectors[0].classes[kTarget];
  CHECK(o.peeled_until_ordinary);
  CHECK(o.suspect_source_entropy >= std::log(5.0));
  CHECK(o.suspect_source_entropy > o.other_source_entropy);
  CHECK(o.peeled_other_class_share >= 0.5);
  CHECK(o.peeled_other_class_share < 0.9);
  CHECK(o.source_entropy_veto);
  for (const auto& v : a.detectors[0].classes) CHECK_FALSE(v.poisoned);
  CHECK(a.flagged.numel() == 0);
}

TEST_CASE("peeling a flagged majority: one source class's tight poisons split off a half-poisoned "
          "class, the rest split again",
          "[defenses][poisoning][audit]") {
  // Like 10% BadNets seed 1 on the CPU (docs/poisoning.md): the target class is half poison, and
  // one source class's poisons (120, alike) are so tight that the best split cuts them off
  // alone; the other 480 poisons stay with the 600 clean points, whose side then looks like more
  // classes, so 90% of the class would be flagged.
  constexpr int64_t kTarget = 3;
  Layered l = layered(kTarget, 8, 120, 480, true, 41);
  const at::Tensor poisoned = std::get<0>(at::cat({l.tight, l.diffuse}).sort());
  // As on the real model: the tight group far off (60 units: the class's top direction), the
  // other poisons more spread than the clean points (sd 4) and 30 units off.
  at::Tensor is_poison = at::zeros({l.labels.numel()}, at::kBool);
  is_poison.index_fill_(0, poisoned, true);
  const at::Tensor centre = l.features.index({(l.labels == kTarget) & is_poison.logical_not()}).mean(0);
  at::Tensor tight_offset = at::zeros({24}), diffuse_offset = at::zeros({24});
  tight_offset[9] = 60.0;
  diffuse_offset[5] = 30.0;
  l.features.index_put_({l.tight}, centre + tight_offset + 0.3 * at::randn({120, 24}));
  l.features.index_put_({l.diffuse}, centre + diffuse_offset + 4.0 * at::randn({480, 24}));
  AuditSpec never;
  never.max_flagged_share = 1.0;
  const DetectorResult before = audit_features(l.features, l.labels, 10, never, at::Tensor(), l.inputs).detectors[0];
  REQUIRE(before.classes[kTarget].poisoned);
  CHECK(before.classes[kTarget].suspect_share > 0.75);
  CHECK(score_audit(before.flagged, poisoned, l.labels.numel()).false_positive_rate() > 0.05);

  const AuditResult r = audit_features(l.features, l.labels, 10, AuditSpec{}, at::Tensor(), l.inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.majority_peeled);
  CHECK(t.robust_peels == 0);
  CHECK(t.peeled >= 120);  // the tight group
  CHECK(t.peeled <= 130);
  CHECK(t.separation == t.spectral_separation);  // tested on the first split, like the others
  CHECK(t.peeled_split_separation >= AuditSpec{}.min_separation);
  CHECK(t.peeled_split_p_value < AuditSpec{}.alpha / 10);
  CHECK(t.peeled_other_class_share > 0.9);  // one source class's images, among their own
  CHECK(t.suspect_source_entropy > t.other_source_entropy);
  const AuditScore score = score_audit(s.flagged, poisoned, r.points);
  CHECK(score.recall() >= 0.99);
  CHECK(score.false_positive_rate() <= 0.01);
  const auto report = audit_json(r, AuditSpec{}, AuditContext{});
  const auto& j = report["detectors"][0]["classes"][kTarget];
  CHECK(j["majority_peeled"] == true);
  CHECK(j["peeled"] == t.peeled);
  CHECK(report["spec"]["max_flagged_share"] == 0.75);

  // Without the inputs the sides go by feature spread: the tight group is the less spread side
  // of the first split, the 480 poisons the more spread side of the rest's.
  const DetectorResult no_inputs = audit_features(l.features, l.labels, 10, AuditSpec{}).detectors[0];
  CHECK(no_inputs.classes[kTarget].majority_peeled);
  CHECK(score_audit(no_inputs.flagged, poisoned, r.points).recall() >= 0.99);
  CHECK(score_audit(no_inputs.flagged, poisoned, r.points).false_positive_rate() <= 0.01);

  auto root = core::parse_config("a: {max_flagged_share: 0.9}\nb: {max_flagged_share: 0.4}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).max_flagged_share == 0.9);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("max_flagged_share"));
}

TEST_CASE("flag_with_tail: the suspect side and the far tail of the other side, exact",
          "[defenses][poisoning]") {
  // The other side's discriminant values towards the suspect side: -3 -2 -1 0 1 (median -1, MAD 1,
  // scale 1.4826); tail_k 1 flags beyond -1 + 1.4826 = 0.4826: the point at 1.
  FisherSplit split;
  split.second = at::tensor({0, 0, 0, 0, 0, 1, 1}, at::kInt).to(at::kBool);
  split.discriminant = at::tensor({-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}, at::kDouble);
  CHECK(flag_with_tail(split, true, 1.0).equal(at::tensor({0, 0, 0, 0, 1, 1, 1}, at::kInt).to(at::kBool)));
  CHECK(flag_with_tail(split, true, 10.0).equal(split.second));
  // The first side as the suspect: towards it is minus the discriminant. With the second side
  // the last three points, their values towards the first are -1 -2 -3 (median -2, MAD 1):
  // tail_k 0.5 flags beyond -2 + 0.7413: the point at -1; tail_k 1 (beyond -0.5174) none.
  split.second = at::tensor({0, 0, 0, 0, 1, 1, 1}, at::kInt).to(at::kBool);
  CHECK(flag_with_tail(split, false, 0.5).equal(at::tensor({1, 1, 1, 1, 1, 0, 0}, at::kInt).to(at::kBool)));
  CHECK(flag_with_tail(split, false, 1.0).equal(at::tensor({1, 1, 1, 1, 0, 0, 0}, at::kInt).to(at::kBool)));
}

TEST_CASE("polish_flagged: a restart from the flagged points takes in the poisons a split left out",
          "[defenses][poisoning]") {
  // A wide clean cloud and a poison cloud 14 units off; the flagged set lacks 20 of the poisons,
  // which, counted with the clean side, widen its spread towards the poisons (on 1% seed 5 the 49
  // poisons the split left out did that). Restarted from it, Fisher's refinement takes in every
  // poison and no clean point, at a higher separation.
  at::manual_seed(3);
  const at::Tensor clean = at::randn({2000, 2}, at::kDouble) * at::tensor({2.0, 1.0}, at::kDouble);
  const at::Tensor poison = at::randn({120, 2}, at::kDouble) + at::tensor({14.0, 0.0}, at::kDouble);
  const at::Tensor x = at::cat({clean, poison});
  const at::Tensor truth = at::cat({at::zeros({2000}, at::kBool), at::ones({120}, at::kBool)});
  at::Tensor start = truth.clone();
  start.index_fill_(0, at::randperm(120).slice(0, 0, 20) + 2000, false);
  const double as_is = fisher_split(x, start, 1).separation;
  at::Tensor flagged = start.clone();
  CHECK(polish_flagged(x, flagged, as_is, 3, 4.0) >= 1);
  CHECK(flagged.equal(truth));
  CHECK(fisher_split(x, truth).separation > as_is);
  // Not better separated than the bar: nothing changes.
  at::Tensor kept = start.clone();
  CHECK(polish_flagged(x, kept, 1e9, 3, 4.0) == 0);
  CHECK(kept.equal(start));
  // No rounds allowed: nothing changes.
  at::Tensor none = start.clone();
  CHECK(polish_flagged(x, none, as_is, 0, 4.0) == 0);
  CHECK(none.equal(start));
  auto root = core::parse_config("a: {polish_rounds: 0}\nb: {polish_rounds: -2}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).polish_rounds == 0);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("polish_rounds"));
}

TEST_CASE("activation clustering finds a backdoor under max_share of its class, not one half of it",
          "[defenses][poisoning][audit]") {
  AuditSpec spec;
  spec.detectors = {"activation_clustering"};
  for (const auto& [poison, target] : std::vector<std::pair<int64_t, int64_t>>{{60, 3}, {200, 7}}) {
    INFO(poison << " poisons, target " << target);
    const Planted p = plant(600, 10, target, poison, 40 + static_cast<uint64_t>(poison));
    const AuditResult r = audit_features(p.features, p.labels, 10, spec);
    const DetectorResult& ac = r.detectors[0];
    for (const auto& v : ac.classes) CHECK(v.poisoned == (v.label == target));
    const AuditScore score = score_audit(ac.flagged, p.poisoned, 6000);
    CHECK(score.recall() >= 0.99);
    CHECK(score.false_positive_rate() <= 0.01);
    CHECK(ac.classes[target].silhouette > 0.5);
    // reduce: ica (FastICA's sources, distances as the whitened scores) weighs each of the ten
    // axes alike: the poisons' one axis among nine of noise, and their nine source classes'
    // spread, blur the two clusters (measured at 60 poisons: silhouette 0.10 against 0.86,
    // the class not judged; docs/poisoning.md, "Activation clustering").
    AuditSpec ica = spec;
    ica.ac_reduce = "ica";
    const AuditResult w = audit_features(p.features, p.labels, 10, ica);
    CHECK(w.detectors[0].classes[target].silhouette < 0.6 * ac.classes[target].silhouette);
  }
  // 600 poisons in a class of 600 own points: the smaller cluster is half the class, which
  // Chen et al.'s size rule reads as two kinds of the class (the spectral detector finds it:
  // "spectral detection finds a planted backdoor" above).
  const Planted half = plant(600, 10, 1, 600, 640);
  const AuditResult r = audit_features(half.features, half.labels, 10, spec);
  const DetectorResult& ac = r.detectors[0];
  CHECK(ac.classes[1].suspect_share > spec.ac_max_share);
  CHECK_FALSE(ac.classes[1].poisoned);
  auto root = core::parse_config(
      "a: {activation_clustering: {reduce: ica}}\nb: {activation_clustering: {reduce: fastica}}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).ac_reduce == "ica");
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("reduce"));
}

// A plain FastICA (Hyvarinen 1999; scikit-learn's parallel algorithm with the logcosh contrast):
// whitened by the SVD of the centred points to `k` unit-variance axes, then W <- the symmetric
// decorrelation of E[g(Wx) x^T] - E[g'(Wx)] W, from a random start. Returns the sources [N, k].
static at::Tensor reference_fast_ica(const at::Tensor& points, int64_t k, int iterations) {
  const at::Tensor x = points.to(at::kDouble);
  const at::Tensor centred = x - x.mean(0);
  const auto [u, s, vh] = at::linalg_svd(centred, false);
  const double n = static_cast<double>(x.size(0));
  const at::Tensor white = u.slice(1, 0, k) * std::sqrt(n);
  const auto decorrelate = [](const at::Tensor& m) {
    const auto [values, vectors] = at::linalg_eigh(m.mm(m.t()));
    return vectors.mm(at::diag(values.rsqrt())).mm(vectors.t()).mm(m);
  };
  at::Tensor w = decorrelate(at::randn({k, k}, at::kDouble));
  for (int it = 0; it < iterations; ++it) {
    const at::Tensor g = white.mm(w.t()).tanh();
    w = decorrelate(g.t().mm(white) / n - (1 - g * g).mean(0).unsqueeze(1) * w);
  }
  return white.mm(w.t());
}

TEST_CASE("whitened_pca_scores: the distances between FastICA's sources, to 1e-6",
          "[defenses][poisoning]") {
  // Non-Gaussian sources (uniform, Laplace, two-point) mixed into 12 dims, a little noise.
  at::manual_seed(71);
  const int64_t n = 400;
  const at::Tensor sources = at::cat({at::rand({n, 2}, at::kDouble) * 2 - 1,
                                      -at::log(at::rand({n, 2}, at::kDouble)) *
                                          (at::randint(0, 2, {n, 2}, at::kDouble) * 2 - 1),
                                      at::randint(0, 2, {n, 2}, at::kDouble)},
                                     1);
  const at::Tensor x = sources.mm(at::randn({6, 12}, at::kDouble)) + 0.01 * at::randn({n, 12}, at::kDouble);
  const at::Tensor ours = whitened_pca_scores(x, 4);
  const at::Tensor ica = reference_fast_ica(x, 4, 200);
  CHECK(ours.var(0, false).allclose(at::ones({4}, at::kDouble), 1e-9, 1e-9));
  // A real rotation, not a sign flip of the PCA axes: the sources differ from the scores ...
  CHECK((ica.abs() - ours.abs()).abs().max().item<double>() > 0.1);
  // ... but every two points are as far apart in both.
  // Exact pairwise distances (compute_mode 2: no matrix-product shortcut, which loses ~1e-5).
  const at::Tensor d_ours = at::cdist(ours, ours, 2.0, 2), d_ica = at::cdist(ica, ica, 2.0, 2);
  CHECK(((d_ours - d_ica).abs() / d_ica.clamp_min(1e-3)).max().item<double>() < 1e-6);
}

TEST_CASE("an unpoisoned set: no class judged poisoned, nothing flagged", "[defenses][poisoning][audit]") {
  AuditSpec spec;
  spec.detectors = {"spectral", "activation_clustering"};
  spec.ac_reduce = GENERATE(std::string("pca"), std::string("ica"));
  for (uint64_t seed : {1, 2, 3}) {
    const Planted p = plant(600, 10, 0, 0, seed);
    const AuditResult r = audit_features(p.features, p.labels, 10, spec);
    CHECK(r.flagged.numel() == 0);
    for (const auto& d : r.detectors) {
      for (const auto& v : d.classes) CHECK_FALSE(v.poisoned);
    }
  }
}

TEST_CASE("k-NN labels finds flipped labels", "[defenses][poisoning][audit]") {
  Planted p = plant(500, 10, 0, 0, 9);
  at::manual_seed(10);
  const at::Tensor flipped = std::get<0>(at::randperm(5000).slice(0, 0, 250).sort());
  p.labels.index_put_({flipped}, (p.labels.index({flipped}) + at::randint(1, 10, {250}, at::kLong)) % 10);
  AuditSpec spec;
  spec.detectors = {"knn_labels"};
  const AuditResult r = audit_features(p.features, p.labels, 10, spec);
  const AuditScore score = score_audit(r.detectors[0].flagged, flipped, r.points);
  CHECK(score.recall() >= 0.95);
  CHECK(score.precision() >= 0.95);
}

TEST_CASE("label margins: exact on a small case, and the robust rule flags the far-negative ones",
          "[defenses][poisoning][audit]") {
  const at::Tensor logits = at::tensor({2.0, 1.0, 0.0, 0.0, 3.0, 1.0, 5.0, 5.0, 0.0}).view({3, 3});
  const at::Tensor labels = at::tensor({0, 0, 1}, at::kLong);
  CHECK(at::equal(label_margins(logits, labels), at::tensor({1.0, -3.0, 0.0}, at::kDouble)));
  // 300 points whose own logit leads by 4.2 to 5.5 (uniform, so none is an outlier), and 12
  // whose label trails class (label + 1) by 6 to 8: exactly those lie beyond 3 robust SDs.
  at::manual_seed(4);
  const int64_t n = 312, classes = 4;
  const at::Tensor y = at::randint(classes, {n}, at::kLong);
  at::Tensor z = at::rand({n, classes}) * 0.3;
  z.scatter_add_(1, y.unsqueeze(1), 4.5 + at::rand({n, 1}));
  const at::Tensor flipped = at::arange(300, n, at::kLong);
  const at::Tensor preferred = (y.index({flipped}) + 1) % classes;
  z.index_put_({flipped}, at::zeros({12, classes}));
  z.index_put_({flipped, preferred}, 6.0 + at::rand({12}) * 2.0);
  AuditSpec spec;
  spec.detectors = {"label_margin"};
  spec.margin_rule = "robust_z";
  const AuditResult r = audit_features(at::zeros({n, 2}), y, classes, spec, z);
  const DetectorResult& d = r.detectors[0];
  CHECK(at::equal(d.flagged.nonzero().flatten(), flipped));
  CHECK(at::equal(d.neighbour_label.index({flipped}), preferred));
  const at::Tensor m = label_margins(z, y);
  const double median = m.median().item<double>();
  const double scale = 1.4826 * (m - median).abs().median().item<double>();
  CHECK(at::allclose(d.scores, (median - m) / scale));
  int64_t flagged_in_classes = 0;
  for (const auto& v : d.classes) {
    CHECK_FALSE(v.poisoned);  // it judges points, not classes
    flagged_in_classes += v.flagged;
  }
  CHECK(flagged_in_classes == 12);
  const auto j = audit_json(r, spec, AuditContext{});
  CHECK_FALSE(j["detectors"][0].contains("poisoned_classes"));
  CHECK(j["scores"]["label_margin_preferred_label"].size() == static_cast<size_t>(n));
  // Without logits it cannot run, and says so.
  CHECK_THROWS_WITH(audit_features(at::zeros({n, 2}), y, classes, spec),
                    Catch::Contains("label_margin: needs the model's logits"));
  // The config section: the rule and its numbers, and a wrong key or rule named.
  auto root = core::parse_config("a: {detectors: [label_margin], label_margin: {rule: robust_z, k: 2.5}}\n"
                                 "b: {label_margin: {kk: 1}}\n"
                                 "c: {label_margin: {prior_weight: 1.0, threshold: 3}}\n"
                                 "d: {label_margin: {rule: vote}}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).margin_k == 2.5);
  CHECK(parse_audit_spec(root.child("a")).margin_rule == "robust_z");
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("label_margin.kk"));
  const AuditSpec c = parse_audit_spec(root.child("c"));
  CHECK((c.margin_rule == "pair_prior" && c.margin_prior_weight == 1.0 && c.margin_threshold == 3.0));
  CHECK_THROWS_WITH(parse_audit_spec(root.child("d")), Catch::Contains("label_margin.rule"));
}

TEST_CASE("the pair prior: exact on a small case (numpy's median of an even count)",
          "[defenses][poisoning][audit]") {
  // Three classes, six off-diagonal pairs; negative margins per pair (given, preferred):
  // (0,1) 4, (0,2) 1, (1,0) 1, (1,2) 1, (2,0) 2, (2,1) 0: sorted 0 1 1 1 2 4, median 1.
  const at::Tensor labels = at::tensor({0, 0, 0, 0, 0, 1, 1, 2, 2, 0}, at::kLong);
  const at::Tensor preferred = at::tensor({1, 1, 1, 1, 2, 0, 2, 0, 0, 1}, at::kLong);
  const at::Tensor margins = at::tensor({-1.0, -2.0, -3.0, -4.0, -1.0, -1.0, -1.0, -2.0, -3.0, 5.0}, at::kDouble);
  const at::Tensor got = pair_prior_margins(margins, labels, preferred, 3, 0.5);
  // Pair (0,1): share 1/4, + 0.5 log 4; pair (2,0): share 1/2, + 0.5 log 2; the rest share 1.
  // The last point's positive margin is not counted but its pair's discount applies.
  const double l4 = 0.5 * std::log(4.0), l2 = 0.5 * std::log(2.0);
  const at::Tensor want = at::tensor({-1.0 + l4, -2.0 + l4, -3.0 + l4, -4.0 + l4, -1.0, -1.0, -1.0,
                                      -2.0 + l2, -3.0 + l2, 5.0 + l4}, at::kDouble);
  CHECK(at::allclose(got, want, 1e-12, 1e-12));
}

TEST_CASE("the pair prior spares a crowded pair of honest mistakes that the robust rule flags",
          "[defenses][poisoning][audit]") {
  // 10 classes: 3,000 points the model is sure of (margins 3 to 5); 2 flips in each of the 90
  // (given, preferred) pairs (margins -4 to -2.8); and 120 honest mistakes crowded in pair
  // (0, 6) (margins -3.5 to -2.5), as T-shirts the model calls shirts.
  at::manual_seed(11);
  const int64_t classes = 10, sure = 3000, crowded = 120;
  std::vector<int64_t> given, preferred;
  for (int64_t g = 0; g < classes; ++g) {
    for (int64_t p = 0; p < classes; ++p) {
      if (g != p) given.insert(given.end(), {g, g}), preferred.insert(preferred.end(), {p, p});
    }
  }
  const int64_t flips = static_cast<int64_t>(given.size());
  for (int64_t i = 0; i < crowded; ++i) given.push_back(0), preferred.push_back(6);
  const at::Tensor y_sure = at::randint(classes, {sure}, at::kLong);
  const at::Tensor y = at::cat({at::tensor(given, at::kLong), y_sure});
  const at::Tensor pref = at::cat({at::tensor(preferred, at::kLong), (y_sure + 1) % classes});
  const at::Tensor m = at::cat({-4.0 + 1.2 * at::rand({flips}, at::kDouble), -3.5 + at::rand({crowded}, at::kDouble),
                                3.0 + 2.0 * at::rand({sure}, at::kDouble)});
  // Logits with exactly these margins and preferred classes.
  const int64_t n = y.size(0);
  at::Tensor z = at::zeros({n, classes}, at::kDouble);
  z.scatter_(1, pref.unsqueeze(1), at::full({n, 1}, 10.0, at::kDouble));
  z.scatter_(1, y.unsqueeze(1), (10.0 + m).unsqueeze(1));
  REQUIRE(at::allclose(label_margins(z, y), m));
  AuditSpec spec;
  spec.detectors = {"label_margin"};
  const DetectorResult prior = audit_features(at::zeros({n, 2}), y, classes, spec, z).detectors[0];
  // Every flip but the two inside the crowded pair, where the prior discounts them too (the
  // price of the prior), and none of the honest mistakes.
  const at::Tensor in_crowded_pair = y.eq(0).logical_and(pref.eq(6));
  const at::Tensor want = at::arange(n).lt(flips).logical_and(in_crowded_pair.logical_not());
  CHECK(want.sum().item<int64_t>() == flips - 2);
  CHECK(at::equal(prior.flagged, want));
  CHECK(at::equal(prior.neighbour_label, pref));
  spec.margin_rule = "robust_z";
  const DetectorResult robust = audit_features(at::zeros({n, 2}), y, classes, spec, z).detectors[0];
  CHECK(robust.flagged.slice(0, flips, flips + crowded).all().item<bool>());
}

TEST_CASE("audit.json holds the sorted flagged indices and the verdicts", "[defenses][poisoning][audit]") {
  const Planted p = plant(300, 4, 2, 90, 12);
  const AuditResult r = audit_features(p.features, p.labels, 4, AuditSpec{});
  AuditContext context;
  context.ground_truth = p.poisoned;
  const auto j = audit_json(r, AuditSpec{}, context);
  const auto flagged = j["flagged"].get<std::vector<int64_t>>();
  CHECK(std::is_sorted(flagged.begin(), flagged.end()));
  CHECK(static_cast<int64_t>(flagged.size()) == j["flagged_count"].get<int64_t>());
  CHECK(j["detectors"][0]["poisoned_classes"] == nlohmann::json::array({2}));
  CHECK(j["against_ground_truth"]["recall"].get<double>() >= 0.99);
  CHECK(j["scores"]["spectral"].size() == 1200);
}

TEST_CASE("every detector judges a data set of 0 to 3 points without an error", "[defenses][poisoning][audit]") {
  for (int64_t n = 0; n <= 3; ++n) {
    for (const std::string detector : {"spectral", "activation_clustering", "knn_labels", "label_margin"}) {
      INFO(detector << " on " << n << " points");
      AuditSpec spec;
      spec.detectors = {detector};
      at::manual_seed(n);
      const at::Tensor labels = at::arange(n, at::kLong).remainder(2);
      AuditResult r;
      // knn_labels threw "fit_pca: points must be [N >= 2, D]" on one point (exit 5).
      REQUIRE_NOTHROW(r = audit_features(at::randn({n, 6}), labels, 2, spec, at::randn({n, 2})));
      CHECK(r.points == n);
      if (n <= 1) CHECK(r.flagged.numel() == 0);
    }
  }
}

TEST_CASE("audit.html's score axis spans negative scores (label margins)", "[defenses][poisoning][audit]") {
  at::manual_seed(5);
  const int64_t n = 200;
  const at::Tensor labels = at::arange(4, at::kLong).repeat_interleave(50);
  AuditSpec spec;
  spec.detectors = {"label_margin"};
  spec.top_images = 0;
  const AuditResult r = audit_features(at::randn({n, 6}), labels, 4, spec, at::randn({n, 4}));
  const double lowest = r.detectors[0].scores.min().item<double>();
  REQUIRE(lowest < -0.5);
  const std::string dir = test::make_temp_dir("audit-html-axis");
  write_audit_reports(dir, r, spec, AuditContext{}, at::rand({n, 1, 4, 4}), labels, 0.0, 1.0);
  const std::string html = core::read_file(dir + "/audit.html");
  // Every class's chart starts at the lowest score; it started at 0, and every negative score
  // fell into the first bar.
  char label[32];
  std::snprintf(label, sizeof(label), ">%.1f</text>", lowest);
  std::size_t charts = 0;
  for (std::size_t pos = html.find(label); pos != std::string::npos; pos = html.find(label, pos + 1)) ++charts;
  CHECK(charts == 4);
}

TEST_CASE("audit.html is self-contained: one histogram per class, the flagged images inline",
          "[defenses][poisoning][audit]") {
  const Planted p = plant(300, 4, 2, 90, 12);
  AuditSpec spec;
  spec.top_images = 12;
  const AuditResult r = audit_features(p.features, p.labels, 4, spec);
  REQUIRE(r.flagged.numel() >= 12);
  const std::string dir = test::make_temp_dir("audit-html");
  write_audit_reports(dir, r, spec, AuditContext{}, at::rand({1200, 1, 8, 8}), p.labels, 0.0, 1.0);
  const std::string html = core::read_file(dir + "/audit.html");
  // No network request and no other file: no scripts, styles or sources from elsewhere.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find(" href=\"") == std::string::npos);
  std::vector<int64_t> shown;
  for (auto pos = html.find(" src=\""); pos != std::string::npos; pos = html.find(" src=\"", pos + 1)) {
    // A PNG inline: base64 of the PNG signature (89 50 4E 47 0D 0A 1A 0A) starts "iVBORw0KGgo".
    CHECK(html.compare(pos + 6, 33, "data:image/png;base64,iVBORw0KGgo") == 0);
    const auto alt = html.rfind("alt=\"point ", pos);
    REQUIRE(alt != std::string::npos);
    shown.push_back(std::stoll(html.substr(alt + 11)));
  }
  CHECK(shown.size() == 12);
  // The grid shows flagged points only (there are more than 12).
  const at::Tensor flagged = r.flagged;
  for (int64_t index : shown) CHECK(flagged.eq(index).any().item<bool>());
  std::size_t charts = 0;
  for (auto pos = html.find("<svg"); pos != std::string::npos; pos = html.find("<svg", pos + 1)) ++charts;
  CHECK(charts == 4);
}

TEST_CASE("encode_png writes a valid PNG header and chunk layout", "[core]") {
  const std::vector<uint8_t> pixels{0, 255, 128, 64, 32, 16};
  const std::string png = core::encode_png(pixels.data(), 3, 2, 1);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK(static_cast<uint8_t>(png[19]) == 3);  // width
  CHECK(static_cast<uint8_t>(png[23]) == 2);  // height
  CHECK(png.substr(png.size() - 8, 4) == "IEND");
  CHECK(core::base64("Man") == "TWFu");
  CHECK(core::base64("Ma") == "TWE=");
}
