#include "eval/metrics.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

using namespace rampart;

namespace {

at::Tensor flags(std::vector<int64_t> v) { return at::tensor(v, at::kLong).to(at::kBool); }

eval::AttackOutcome outcome(const std::string& id, double eps, std::vector<int64_t> robust,
                            std::vector<int64_t> success, std::vector<double> l2) {
  eval::AttackOutcome o;
  o.id = id;
  o.eps = eps;
  o.robust = flags(robust);
  o.success = flags(success);
  o.l2 = at::tensor(l2, at::kFloat);
  o.linf = o.l2 / 10;
  return o;
}

}  // namespace

TEST_CASE("attack metrics on a hand-made case", "[eval][metrics]") {
  // 6 points, classes 0 0 1 1 2 2; clean-correct: all but point 5.
  const at::Tensor labels = at::tensor({0, 0, 1, 1, 2, 2}, at::kLong);
  const at::Tensor clean = flags({1, 1, 1, 1, 1, 0});
  const auto o = outcome("pgd-linf-0.1", 0.1, {1, 0, 1, 0, 0, 0}, {0, 1, 0, 1, 1, 0},
                         {0.0, 2.0, 0.0, 4.0, 3.0, 0.0});
  const auto m = eval::attack_metrics(o, clean, labels, 3);
  CHECK(m.robust_accuracy == Approx(2.0 / 6));
  CHECK(m.successes == 3);
  CHECK(m.success_rate == Approx(3.0 / 5));
  CHECK(m.mean_l2 == Approx(3.0));
  CHECK(m.median_l2 == Approx(3.0));
  CHECK(m.mean_linf == Approx(0.3));
  CHECK(m.per_class_robust_accuracy == std::vector<double>{0.5, 0.5, 0.0});
}

TEST_CASE("median of an even count and empty selections", "[eval][metrics]") {
  const at::Tensor labels = at::tensor({0, 0}, at::kLong);
  const auto two = outcome("a", 0.1, {0, 0}, {1, 1}, {1.0, 2.0});
  CHECK(eval::attack_metrics(two, flags({1, 1}), labels, 1).median_l2 == Approx(1.5));
  const auto none = outcome("b", 0.1, {1, 1}, {0, 0}, {0.0, 0.0});
  const auto m = eval::attack_metrics(none, flags({1, 1}), labels, 1);
  CHECK(m.mean_l2 == 0.0);
  CHECK(m.success_rate == 0.0);
  CHECK(eval::attack_metrics(none, flags({0, 0}), labels, 1).success_rate == 0.0);
}

TEST_CASE("worst case is the per-point minimum over the attacks of one budget", "[eval][metrics]") {
  auto fgsm = outcome("fgsm-linf-0.1", 0.1, {1, 1, 0, 1}, {0, 0, 1, 0}, {0, 0, 1, 0});
  auto pgd = outcome("pgd-linf-0.1", 0.1, {1, 0, 0, 1}, {0, 1, 1, 0}, {0, 1, 1, 0});
  auto other = outcome("pgd-linf-0.2", 0.2, {0, 0, 0, 1}, {1, 1, 1, 0}, {1, 1, 1, 0});
  auto cw = outcome("cw-l2", 0, {0, 0, 0, 0}, {1, 1, 1, 1}, {1, 1, 1, 1});
  cw.bounded = false;
  cw.norm = attacks::Norm::kL2;
  const auto worst = eval::worst_case({fgsm, pgd, other, cw});
  REQUIRE(worst.size() == 2);
  CHECK(at::equal(worst.at("linf-0.1"), flags({1, 0, 0, 1})));
  CHECK(at::equal(worst.at("linf-0.2"), flags({0, 0, 0, 1})));
  CHECK(at::equal(fgsm.robust, flags({1, 1, 0, 1})));  // inputs untouched
}
