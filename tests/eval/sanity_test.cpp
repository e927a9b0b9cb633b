// The gradient-masking checks: planted masking models are flagged, a normal model is not.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include "attacks/attack_fixtures.h"
#include "core/config_node.h"
#include "eval/attack_config.h"
#include "eval/runner.h"

using namespace rampart;

namespace {

// Logits scaled by 1e4: the softmax saturates, so the cross-entropy gradient underflows to
// exactly zero on confident points and gradient attacks cannot move, while the predictions
// are unchanged. The classic "defense" that only hides gradients.
class SaturatedModel : public models::ClassifierModel {
 public:
  using ClassifierModel::ClassifierModel;
  at::Tensor forward(const at::Tensor& x) override { return ClassifierModel::forward(x) * 1e4; }
};

// Probabilities instead of logits (a model exported with its final softmax).
class SoftmaxModel : public models::ClassifierModel {
 public:
  using ClassifierModel::ClassifierModel;
  at::Tensor forward(const at::Tensor& x) override {
    return ClassifierModel::forward(x).softmax(1);
  }
};

// Random noise on the logits: a randomised "defense".
class NoisyModel : public models::ClassifierModel {
 public:
  using ClassifierModel::ClassifierModel;
  at::Tensor forward(const at::Tensor& x) override {
    const at::Tensor logits = ClassifierModel::forward(x);
    return logits + at::randn_like(logits) * 2.0;
  }
};

eval::EvalConfig sanity_config() {
  return eval::parse_eval_config(
      core::parse_config("model: {arch: small_cnn, checkpoint: unused.safetensors}\n"
                         "data: {format: idx, images: a, labels: b, batch_size: 100}\n"
                         "attacks:\n"
                         "  - {name: fgsm, eps: [0.03, 0.1]}\n"
                         "  - {name: pgd, eps: 0.1, steps: 10}\n"
                         "report: {examples: 0}\n"
                         "sanity: {points: 100}\n",
                         "sanity.yaml"));
}

eval::Evaluation evaluate(models::Model& model, bool strict = false) {
  eval::EvalOptions options;
  options.quiet = true;
  options.strict = strict;
  return eval::evaluate(sanity_config(), model, test::fmnist_test(300), options, {}).evaluation;
}

std::map<std::string, bool> flags(const eval::Evaluation& ev) {
  std::map<std::string, bool> out;
  for (const auto& c : ev.sanity) out[c.id] = c.flagged;
  return out;
}

}  // namespace

TEST_CASE("a normal trained model passes every sanity check", "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  models::ClassifierModel model(net);
  const eval::Evaluation ev = evaluate(model, /*strict=*/true);
  for (const auto& c : ev.sanity) {
    INFO(c.id << ": " << c.message);
    CHECK_FALSE(c.flagged);
  }
  CHECK(flags(ev).size() == 7);  // eps_monotonic:fgsm-linf + six probe checks
  CHECK(ev.exit_code() == 0);
}

TEST_CASE("a saturated-softmax model is flagged for vanishing gradients and the large-eps check",
          "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  SaturatedModel model(net);
  const eval::Evaluation ev = evaluate(model);
  auto f = flags(ev);
  CHECK(f["zero_gradients"]);
  CHECK(f["large_eps"]);
  CHECK_FALSE(f["deterministic"]);
  CHECK_FALSE(f["eval_mode"]);
  // The masking inflates robust accuracy: PGD at 0.1 leaves most points "robust".
  CHECK(ev.attacks[2].metrics.robust_accuracy > 0.5);
  CHECK(ev.exit_code() == 0);                                // warnings only...
  CHECK(evaluate(model, /*strict=*/true).exit_code() == 1);  // ...failures under --strict
}

TEST_CASE("a randomised model is flagged as non-deterministic", "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  NoisyModel model(net);
  CHECK(flags(evaluate(model))["deterministic"]);
}

TEST_CASE("a model handed over in training mode is reported and evaluated in eval mode",
          "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  net->train();
  models::ClassifierModel model(net);
  const eval::Evaluation ev = evaluate(model);
  const auto it = std::find_if(ev.sanity.begin(), ev.sanity.end(),
                               [](const eval::SanityCheck& c) { return c.id == "eval_mode"; });
  REQUIRE(it != ev.sanity.end());
  CHECK(it->flagged);
  CHECK(it->value >= 1);
  CHECK_THAT(it->message, Catch::Contains("training mode"));
  CHECK(net->is_training());  // the caller's mode is restored afterwards
  net->eval();
}

TEST_CASE("robust accuracy rising with eps is flagged per attack family", "[eval][sanity]") {
  const std::vector<eval::CurvePoint> curve{{"pgd-linf", 0.1, 0.20},   {"pgd-linf", 0.03, 0.50},
                                            {"pgd-linf", 0.2, 0.25},   {"fgsm-linf", 0.1, 0.30},
                                            {"fgsm-linf", 0.2, 0.305}, {"fgsm-l2", 1.0, 0.4}};
  const auto checks = eval::eps_monotonic_checks(curve, 0.01);
  REQUIRE(checks.size() == 2);  // fgsm-l2 has one eps only
  CHECK(checks[0].id == "eps_monotonic:fgsm-linf");
  CHECK_FALSE(checks[0].flagged);  // +0.5 points is within the tolerance
  CHECK(checks[1].id == "eps_monotonic:pgd-linf");
  CHECK(checks[1].flagged);
  CHECK(checks[1].value == Approx(0.05));
  CHECK_THAT(checks[1].message, Catch::Contains("from eps 0.1 (20.0%) to eps 0.2 (25.0%)"));
}

// Issue 15, item 6: `eps: 8` on a [0, 1] input was accepted silently.
TEST_CASE("an eps that can erase any image is flagged, naming the unit", "[eval][sanity]") {
  const auto attacks = [](const std::string& list) {
    return eval::parse_attacks(core::parse_config("attacks:\n" + list, "a.yaml"), {});
  };
  const auto fine = attacks("  - {name: pgd, eps: [0.03, 0.3]}\n  - {name: pgd, norm: l2, eps: 5}\n"
                            "  - {name: cw}\n");
  CHECK_FALSE(eval::eps_range_check(fine, 0.0, 1.0, 784).has_value());
  const auto check = eval::eps_range_check(
      attacks("  - {name: fgsm, eps: [0.1, 8]}\n  - {name: pgd, norm: l2, eps: 14}\n"), 0.0, 1.0,
      784);
  REQUIRE(check.has_value());
  CHECK(check->id == "eps_range");
  CHECK(check->flagged);
  CHECK(check->value == 8);      // the worst offender relative to its limit (16 > 14 / 14)
  CHECK(check->threshold == 0.5);
  CHECK_THAT(check->message, Catch::Contains("eps is in input units (model.input.range [0, 1])") &&
                                 Catch::Contains("fgsm-linf-8, pgd-l2-14") &&
                                 Catch::Contains("0.0313725"));
  // On a 0..255 input the same eps is a small perturbation.
  CHECK_FALSE(eval::eps_range_check(attacks("  - {name: fgsm, eps: 8}\n"), 0.0, 255.0, 784));
}

// Issue 15, item 7: the PGD-vs-FGSM probe ran its own PGD and judged only its last iterate, so
// it could disagree with the report; item 11: it doubled the cost of a PGD evaluation.
TEST_CASE("the PGD-vs-FGSM probe reuses the configured attacks' verdicts", "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  models::ClassifierModel model(net);
  eval::EvalConfig config = eval::parse_eval_config(core::parse_config(
      "model: {arch: small_cnn, checkpoint: unused.safetensors}\n"
      "data: {format: idx, images: a, labels: b, batch_size: 64}\n"
      "attacks:\n"
      "  - {name: fgsm, eps: 0.05}\n"
      "  - {name: pgd, eps: 0.05, steps: 10}\n"
      "cascade: false\n"
      "report: {examples: 0}\n"
      "sanity: {points: 1000}\n",
      "sanity.yaml"));
  eval::EvalOptions options;
  options.quiet = true;
  const eval::Evaluation ev =
      eval::evaluate(config, model, test::fmnist_test(200), options, {}).evaluation;
  const auto it = std::find_if(ev.sanity.begin(), ev.sanity.end(),
                               [](const eval::SanityCheck& c) { return c.id == "pgd_vs_fgsm"; });
  REQUIRE(it != ev.sanity.end());
  INFO(it->message);
  // Every clean-correct point is probed, and without the cascade both attacks ran on all of
  // them: the probe's gap is exactly the report's.
  const double gap = static_cast<double>(ev.attacks[0].metrics.successes -
                                         ev.attacks[1].metrics.successes) /
                     static_cast<double>(ev.clean_correct);
  CHECK(it->value == Approx(gap).margin(1e-12));
  CHECK_THAT(it->message, Catch::Contains("pgd-linf-0.05 leaves") &&
                              Catch::Contains(std::to_string(ev.clean_correct) + " probed points"));
  CHECK_FALSE(it->flagged);
}

// Issue 16: AutoAttack's check_range_output.
TEST_CASE("a model that outputs probabilities is flagged, one with logits is not",
          "[eval][sanity]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  SoftmaxModel softmax(net);
  const auto find = [](const eval::Evaluation& ev) {
    for (const auto& c : ev.sanity) {
      if (c.id == "probability_output") return c;
    }
    FAIL("no probability_output check");
    return eval::SanityCheck{};
  };
  const auto flagged = find(evaluate(softmax));
  INFO(flagged.message);
  CHECK(flagged.flagged);
  CHECK_THAT(flagged.message, Catch::Contains("probabilities, not logits"));
  models::ClassifierModel plain(net);
  CHECK_FALSE(find(evaluate(plain)).flagged);
}
