#include "eval/attack_config.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include "attacks/cw.h"
#include "attacks/pgd.h"
#include "eval/attack_runner.h"
#include "eval/eval_config.h"
#include "models/model.h"
#include "core/config_node.h"
#include "core/error.h"

using namespace rampart;

namespace {

std::vector<std::string> ids_of(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& a : eval::parse_attacks(core::parse_config(yaml, "a.yaml"), {}))
    out.push_back(a.id);
  return out;
}

std::string error_of(const std::string& yaml) {
  try {
    ids_of(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// A fixed random linear classifier of 28x28 images.
class Linear : public models::Model {
 public:
  Linear() : w_(at::randn({28 * 28, 10}, at::TensorOptions().dtype(at::kFloat))) {}
  at::Tensor forward(const at::Tensor& x) override { return x.flatten(1).matmul(w_); }
  bool is_training() const override { return false; }
  void set_training(bool) override {}
  std::vector<at::Tensor> parameters() override { return {w_}; }
  std::string describe() const override { return "linear"; }

 private:
  at::Tensor w_;
};

}  // namespace

TEST_CASE("attack lists expand over eps into ids as DESIGN.md names them", "[eval][config]") {
  CHECK(ids_of("attacks:\n"
               "  - {name: fgsm, norm: linf, eps: [0.05, 0.1]}\n"
               "  - {name: pgd, norm: l2, eps: 1.5, steps: 20, step_size: 0.1, restarts: 2}\n"
               "  - {name: cw, steps: 10}\n") ==
        std::vector<std::string>{"fgsm-linf-0.05", "fgsm-linf-0.1", "pgd-l2-1.5", "cw-l2"});
}

TEST_CASE("a tag lets one attack run twice under its own id and curve", "[eval][config]") {
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n"
                         "  - {name: pgd, eps: [0.05, 0.1], steps: 20}\n"
                         "  - {name: pgd, eps: 0.1, steps: 50, restarts: 2, tag: 50x2}\n",
                         "a.yaml"),
      {});
  REQUIRE(attacks.size() == 3);
  CHECK(attacks[1].id == "pgd-linf-0.1");
  CHECK(attacks[2].id == "pgd-linf-0.1-50x2");
  CHECK(attacks[2].attack->id() == "pgd-linf-0.1");  // the attack itself is the same kind
  CHECK(attacks[1].family == "pgd");
  CHECK(attacks[2].family == "pgd_50x2");
  CHECK_THAT(error_of("attacks:\n  - {name: pgd, eps: 0.1}\n  - {name: pgd, eps: 0.1, steps: 5}\n"),
             Catch::Contains("a.yaml:3:5") && Catch::Contains("configured twice"));
  CHECK_THAT(error_of("attacks:\n  - {name: cw, tag: 'a b'}\n"),
             Catch::StartsWith("a.yaml:2:21: attacks[0].tag: must be 1 to 32 letters"));
}

TEST_CASE("attack config errors name file:line:column and the key", "[eval][config]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"attacks: []\n", "a.yaml:1:10: attacks: list at least one attack"},
      {"seed: 1\n", "missing required key 'attacks'"},
      {"attacks:\n  - {name: deepfool, eps: 0.1}\n",
       "a.yaml:2:12: attacks[0].name: unknown value 'deepfool'"},
      {"attacks:\n  - {name: pgd, norm: l3, eps: 0.1}\n",
       "a.yaml:2:23: attacks[0].norm: unknown value 'l3'"},
      {"attacks:\n  - {name: pgd, eps: -0.1}\n",
       "a.yaml:2:22: attacks[0].eps: eps must be >= 0, got -0.1"},
      {"attacks:\n  - {name: pgd, eps: 0.1, steps: 0}\n",
       "a.yaml:2:34: attacks[0].steps: must be >= 1, got 0"},
      {"attacks:\n  - {name: pgd, eps: 0.1, stpes: 3}\n",
       "a.yaml:2:27: attacks[0].stpes: unknown key 'stpes'"},
      {"attacks:\n  - {name: fgsm, eps: fast}\n", "a.yaml:2:23: attacks[0].eps: expected a number"},
      {"attacks:\n  - {name: cw, norm: linf}\n",
       "a.yaml:2:22: attacks[0].norm: cw is an L2 attack"},
      {"attacks:\n  - {name: pgd, eps: 0.1}\n  - {name: pgd, eps: [0.2, 0.1]}\n",
       "a.yaml:3:5: attacks[1]: attack id 'pgd-linf-0.1' is configured twice"},
      {"attacks:\n  - {name: pgd, eps: 0.1, early_stop: maybe}\n",
       "a.yaml:2:39: attacks[0].early_stop: expected true or false"},
      {"attacks: {name: pgd}\n", "a.yaml:1:10: attacks: expected a list"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    CHECK_THAT(error_of(yaml), Catch::Contains(expected));
  }
}

TEST_CASE("PGD's default step size is 2.5 * eps / steps and early stop is on", "[eval][config]") {
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n  - {name: pgd, eps: 0.2, steps: 10, random_init: false}\n",
                         "p.yaml"),
      {});
  REQUIRE(attacks.size() == 1);
  const auto* pgd = dynamic_cast<const attacks::PGD*>(attacks[0].attack.get());
  REQUIRE(pgd != nullptr);
  CHECK(pgd->options().step_size() == Approx(0.05));
  CHECK(pgd->options().early_stop());
  CHECK_FALSE(pgd->options().random_init());
  CHECK(pgd->options().steps() == 10);
  // CW's abort-early is off unless asked for: per point it stopped refining early (L2 up to 6x
  // the full run's on a few points), where Carlini's batch-sum check rarely fires.
  const auto cw = eval::parse_attacks(core::parse_config("attacks:\n  - {name: cw}\n", "c.yaml"), {});
  CHECK_FALSE(dynamic_cast<const attacks::CW&>(*cw.at(0).attack).options().abort_early());
  CHECK_FALSE(attacks::CWOptions().abort_early());
  // On a randomised model a point fooled by one draw left with that iterate (robust 0.86 over
  // fresh draws against 0.78 attacking to the last step): early stop is off there, and refused.
  eval::AttackContext randomised;
  randomised.randomised = true;
  const auto noisy = eval::parse_attacks(
      core::parse_config("attacks:\n  - {name: pgd, eps: 0.2, steps: 10}\n", "p.yaml"), randomised);
  CHECK_FALSE(dynamic_cast<const attacks::PGD&>(*noisy.at(0).attack).options().early_stop());
  CHECK_THROWS_WITH(
      eval::parse_attacks(core::parse_config(
                              "attacks:\n  - {name: pgd, eps: 0.2, early_stop: true}\n", "p.yaml"),
                          randomised),
      Catch::Contains("p.yaml:2:") && Catch::Contains("attacks[0].early_stop: is refused on a randomised model"));
}

// Issue 15, item 6: eps 0 failed with an unlocated "pgd: step_size must be > 0".
TEST_CASE("eps 0 is a budget like any other: the clean input, for every norm and attack",
          "[eval][config]") {
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n"
                         "  - {name: fgsm, norm: linf, eps: [0.0, 0.1]}\n"
                         "  - {name: pgd, norm: linf, eps: [0.0, 0.1], steps: 5}\n"
                         "  - {name: pgd, norm: l2, eps: [0, 1.0], steps: 5, restarts: 2}\n",
                         "a.yaml"),
      {});
  REQUIRE(attacks.size() == 6);
  CHECK(attacks[2].id == "pgd-linf-0");
  // A linear model: every eps-0 "adversarial" example is the input itself, and fooled exactly
  // where the clean input is misclassified.
  Linear model;
  at::manual_seed(0);
  const at::Tensor x = at::rand({16, 1, 28, 28});
  const at::Tensor y = at::randint(0, 10, {16}, at::TensorOptions().dtype(at::kLong));
  const at::Tensor wrong = model.forward(x).argmax(1).ne(y);
  for (const std::size_t i : {std::size_t{0}, std::size_t{2}, std::size_t{4}}) {
    INFO(attacks[i].id);
    const attacks::AttackResult r = attacks[i].attack->run(model, x, y);
    CHECK(r.adversarial.equal(x));
    CHECK(r.success.equal(wrong));
    CHECK(r.linf.max().item<double>() == 0.0);
  }
  // An explicit step size of 0 with a positive eps is still an error, located.
  CHECK_THAT(error_of("attacks:\n  - {name: pgd, eps: 0.1, step_size: 0}\n"),
             Catch::Contains("a.yaml:2:") && Catch::Contains("step_size"));
}

// Issue 15, item 2: every batch and every attack drew the same random start (the key ignored
// the entry, and Philox was indexed by the position in the batch).
TEST_CASE("each entry, eps and point draws its own random start, the same in any batch",
          "[eval][config]") {
  // One step of negligible size: each returned example is its random start.
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n"
                         "  - {name: pgd, eps: [0.1, 0.2], steps: 1, step_size: 1.0e-9,"
                         " early_stop: false}\n"
                         "  - {name: pgd, eps: 0.1, steps: 1, step_size: 1.0e-9,"
                         " early_stop: false, tag: again}\n"
                         "  - {name: pgd, norm: l2, eps: 1.0, steps: 1, step_size: 1.0e-9,"
                         " early_stop: false}\n",
                         "a.yaml"),
      eval::AttackContext{0.0, 1.0, 7});
  REQUIRE(attacks.size() == 4);
  at::manual_seed(1);
  Linear model;
  const at::Tensor x = at::full({8, 1, 28, 28}, 0.5);  // identical points
  const at::Tensor y = at::zeros({8}, at::kLong);
  const at::Tensor all = at::ones({8}, at::kBool);
  const auto starts = [&](const eval::ConfiguredAttack& a, int64_t batch, const at::Tensor& mask) {
    eval::AttackRunSettings settings;
    settings.batch_size = batch;
    settings.keep_adversarial = true;
    settings.quiet = true;
    return eval::run_attack(a, model, x, y, mask, settings).adversarial - x;
  };
  for (const auto& a : attacks) {
    INFO(a.id);
    const at::Tensor in_eights = starts(a, 8, all);
    // The same point starts from the same place whatever the batch size or cascade mask.
    CHECK(at::equal(starts(a, 3, all), in_eights));
    at::Tensor survivors = at::zeros({8}, at::kBool);
    survivors.index_fill_(0, at::tensor(std::vector<int64_t>{1, 4, 6}), true);
    const at::Tensor masked = starts(a, 2, survivors);
    CHECK(at::equal(masked.index_select(0, at::tensor(std::vector<int64_t>{1, 4, 6})),
                    in_eights.index_select(0, at::tensor(std::vector<int64_t>{1, 4, 6}))));
    // Different points draw independent starts: point 0 and point 4 (the same slot of two
    // batches of four) share no offset.
    const at::Tensor in_fours = starts(a, 4, all).flatten(1);
    CHECK(in_fours[0].eq(in_fours[4]).sum().item<int64_t>() == 0);
  }
  // Different entries and different eps of one entry draw independent starts.
  const at::Tensor first = starts(attacks[0], 8, all).flatten(1);
  const at::Tensor tagged = starts(attacks[2], 8, all).flatten(1);
  const at::Tensor wider = starts(attacks[1], 8, all).flatten(1) / 2.0;  // eps 0.2, rescaled
  CHECK(first.eq(tagged).sum().item<int64_t>() == 0);
  CHECK(first.sub(wider).abs().max().item<double>() > 0.01);
  // Same seed, same config: the same starts (reproducible); another seed: other starts.
  const auto reseeded = eval::parse_attacks(
      core::parse_config("attacks:\n  - {name: pgd, eps: 0.1, steps: 1, step_size: 1.0e-9,"
                         " early_stop: false}\n",
                         "b.yaml"),
      eval::AttackContext{0.0, 1.0, 8});
  CHECK(at::equal(starts(attacks[0], 8, all).flatten(1), first));
  CHECK(starts(reseeded[0], 8, all).flatten(1).eq(first).sum().item<int64_t>() == 0);
}

// Issue 15, item 7: untagged PGD entries with different steps formed one curve, so the
// eps-monotonicity check compared PGD-100 at one eps with PGD-5 at another (false alarms).
TEST_CASE("entries with other settings than eps form their own robustness curves",
          "[eval][config]") {
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n"
                         "  - {name: pgd, eps: [0.05, 0.1], steps: 100}\n"
                         "  - {name: pgd, eps: 0.2, steps: 5}\n"
                         "  - {name: pgd, eps: 0.3, steps: 100}\n"
                         "  - {name: pgd, norm: l2, eps: 1.0, steps: 5}\n"
                         "  - {name: fgsm, eps: 0.1}\n"
                         "  - {name: fgsm, eps: 0.2, loss: margin}\n",
                         "a.yaml"),
      {});
  std::vector<std::string> families;
  for (const auto& a : attacks) families.push_back(a.family);
  CHECK(families == std::vector<std::string>{"pgd", "pgd", "pgd_entry2", "pgd", "pgd", "fgsm",
                                             "fgsm_entry6"});
}

TEST_CASE("AutoAttack and its components parse into ids, with located errors", "[eval][config]") {
  const auto attacks = eval::parse_attacks(
      core::parse_config("attacks:\n"
                         "  - {name: apgd-ce, eps: 0.1}\n"
                         "  - {name: apgd-dlr, norm: l2, eps: 0.5, restarts: 2}\n"
                         "  - {name: apgd-t, eps: 0.1, target_classes: 3}\n"
                         "  - {name: fab-t, eps: 0.1}\n"
                         "  - {name: square, eps: 0.1, queries: 100}\n"
                         "  - {name: autoattack, eps: [0.05, 0.1]}\n"
                         "  - {name: autoattack, eps: 0.1, version: custom, components: [apgd-ce, square], tag: c}\n",
                         "a.yaml"),
      {});
  std::vector<std::string> ids;
  for (const auto& a : attacks) ids.push_back(a.id);
  CHECK(ids == std::vector<std::string>{"apgd-ce-linf-0.1", "apgd-dlr-l2-0.5", "apgd-t-linf-0.1",
                                        "fab-t-linf-0.1", "square-linf-0.1",
                                        "autoattack-linf-0.05", "autoattack-linf-0.1",
                                        "autoattack-linf-0.1-c"});
  CHECK(attacks[6].attack->components() ==
        std::vector<std::string>{"apgd-ce-linf-0.1", "apgd-t-linf-0.1", "fab-t-linf-0.1",
                                 "square-linf-0.1"});
  CHECK(attacks[7].attack->components() ==
        std::vector<std::string>{"apgd-ce-linf-0.1", "square-linf-0.1"});
  CHECK(attacks[6].bounded);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"attacks:\n  - {name: autoattack, eps: 0.1, version: custom}\n",
       "a.yaml:2:43: attacks[0].version: version custom needs `components: [...]`"},
      {"attacks:\n  - {name: autoattack, eps: 0.1, components: [apgd-ce]}\n",
       "attacks[0].components: components are only for version: custom"},
      {"attacks:\n  - {name: autoattack, eps: 0.1, version: custom, components: [pgd]}\n",
       "attacks[0].components: autoattack: unknown component 'pgd'"},
      {"attacks:\n  - {name: autoattack, eps: 0.1, version: fast}\n",
       "attacks[0].version: unknown value 'fast'"},
      {"attacks:\n  - {name: square, eps: 0.1, queries: 0}\n", "attacks[0].queries: must be >= 1"},
      {"attacks:\n  - {name: apgd-ce, eps: 0.1, target_classes: 3}\n",
       "attacks[0].target_classes: unknown key"},
      {"attacks:\n  - {name: apgd-t, eps: 0.1, rho: 2}\n", "attacks[0].rho: must be <= 1"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    CHECK_THAT(error_of(yaml), Catch::Contains(expected));
  }
}

TEST_CASE("an attack whose DLR loss needs more classes than the model has is refused up front",
          "[eval][config]") {
  const auto parse = [](int64_t classes, const std::string& attack) {
    return eval::parse_eval_config(core::parse_config(
        "model: {arch: small_cnn, checkpoint: unused.safetensors, num_classes: " +
            std::to_string(classes) +
            "}\n"
            "data: {format: idx, images: a, labels: b}\n"
            "attacks:\n  - " +
            attack + "\n",
        "c.yaml"));
  };
  const auto message = [&](int64_t classes, const std::string& attack) -> std::string {
    try {
      parse(classes, attack);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_NOTHROW(parse(4, "{name: autoattack, eps: 0.1}"));
  CHECK_NOTHROW(parse(3, "{name: apgd-dlr, eps: 0.1}"));
  CHECK_NOTHROW(parse(2, "{name: autoattack, eps: 0.1, version: custom, components: [apgd-ce, fab-t, square]}"));
  CHECK_THAT(message(3, "{name: autoattack, eps: 0.1}"),
             Catch::Contains("attacks: autoattack-linf-0.1 (its component apgd-t-linf-0.1) uses "
                             "the targeted DLR loss, which needs at least 4 classes; "
                             "model.num_classes is 3 (use version: custom"));
  CHECK_THAT(message(2, "{name: apgd-dlr, eps: 0.1}"),
             Catch::Contains("attacks: apgd-dlr-linf-0.1 uses the DLR loss, which needs at least "
                             "3 classes; model.num_classes is 2"));
}

TEST_CASE("a backdoor entry parses its trigger and target, with located errors",
          "[eval][config][backdoor]") {
  const auto parse = [](const std::string& rest) {
    return eval::parse_eval_config(core::parse_config(
        "model: {arch: small_cnn, checkpoint: unused.safetensors, num_classes: 10, "
        "input: {shape: [1, 28, 28], range: [0, 1]}}\n"
        "data: {format: idx, images: a, labels: b}\n" + rest,
        "c.yaml"));
  };
  const auto message = [&](const std::string& rest) -> std::string {
    try {
      parse(rest);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const auto config = parse(
      "attacks:\n  - {name: pgd, eps: 0.1}\n"
      "  - {name: backdoor, target: 3, trigger: {type: patch, size: 3, row: 1, col: 12}}\n"
      "gates: {attack_success_rate: {backdoor-patch-to-3: {max: 0.05}}}\n");
  REQUIRE(config.attacks.size() == 2);
  const auto& b = config.attacks[1];
  CHECK(b.id == "backdoor-patch-to-3");
  CHECK(b.backdoor_target == 3);
  CHECK_FALSE(b.bounded);
  REQUIRE(config.gates.size() == 1);
  CHECK(config.gates[0].metric == "success_rate:backdoor-patch-to-3");
  CHECK(*config.gates[0].max == 0.05);
  // A model behind a transform gets BPDA twins; a backdoor uses no gradient and gets none.
  // (This parsed a second `model:` key, which YAML dropped: the transform was never there.)
  const auto behind = eval::parse_eval_config(core::parse_config(
      "model: {arch: small_cnn, checkpoint: unused.safetensors, num_classes: 10, "
      "input: {shape: [1, 28, 28], range: [0, 1]}, transforms: [{name: jpeg, quality: 75}]}\n"
      "data: {format: idx, images: a, labels: b}\n"
      "attacks: [{name: pgd, eps: 0.1}, {name: backdoor, target: 1, trigger: {type: blend}}]\n",
      "c.yaml"));
  std::vector<std::string> ids;
  for (const auto& a : behind.attacks) ids.push_back(a.id);
  CHECK(ids == std::vector<std::string>{"pgd-linf-0.1", "pgd-linf-0.1-bpda", "backdoor-blend-to-1"});
  // A gate on the plain id behind such a transform would read the masked number (a gradient
  // through JPEG): refused, naming the twin; the twin, the worst case and the backdoor gate.
  const auto behind_with = [&](const std::string& gates) {
    return eval::parse_eval_config(core::parse_config(
        "model: {arch: small_cnn, checkpoint: unused.safetensors, num_classes: 10, "
        "input: {shape: [1, 28, 28], range: [0, 1]}, transforms: [{name: jpeg, quality: 75}]}\n"
        "data: {format: idx, images: a, labels: b}\n"
        "attacks: [{name: pgd, eps: 0.1}, {name: cw, steps: 10}, {name: backdoor, target: 1, trigger: {type: blend}}]\n"
        "gates: " + gates + "\n",
        "g.yaml"));
  };
  for (const auto& [gates, kind] : std::vector<std::pair<std::string, std::string>>{
           {"{robust_accuracy: {pgd-linf-0.1: {min: 0.8}}}", "robust_accuracy.pgd-linf-0.1"},
           {"{attack_success_rate: {pgd-linf-0.1: {max: 0.2}}}", "attack_success_rate.pgd-linf-0.1"},
           {"{median_l2: {cw-l2: {min: 1.0}}}", "median_l2.cw-l2"}}) {
    INFO(gates);
    CHECK_THROWS_WITH(behind_with(gates),
                      Catch::StartsWith("g.yaml:4:") && Catch::Contains("gates." + kind) &&
                          Catch::Contains("overstates robustness: gate its BPDA twin"));
  }
  CHECK(behind_with("{robust_accuracy: {pgd-linf-0.1-bpda: {min: 0.1}, worst-linf-0.1: {min: 0.1}}, "
                    "median_l2: {cw-l2-bpda: {min: 0.1}}, "
                    "attack_success_rate: {backdoor-blend-to-1: {max: 0.1}}}")
            .gates.size() == 4);
  // JPEG on 2- or 4-channel inputs: refused where the config says so, not at the first forward.
  for (const std::string& section :
       {std::string("model: {arch: small_cnn, num_classes: 10, checkpoint: unused.safetensors, "
                    "input: {shape: [4, 28, 28], range: [0, 1]},\n  transforms: [{name: jpeg, quality: 75}]}\n"),
        std::string("model: {arch: small_cnn, num_classes: 10, checkpoint: unused.safetensors, "
                    "input: {shape: [2, 28, 28], range: [0, 1]}}\n"
                    "detector: {squeezers: [{name: jpeg, quality: 75}]}\n")}) {
    INFO(section);
    CHECK_THROWS_WITH(eval::parse_eval_config(core::parse_config(
                          section + "data: {format: idx, images: a, labels: b}\n"
                                    "attacks: [{name: pgd, eps: 0.1}]\n", "j.yaml")),
                      Catch::StartsWith("j.yaml:") && Catch::Contains("needs 1 or 3 channels"));
  }

  const std::vector<std::pair<std::string, std::string>> cases{
      {"attacks: [{name: backdoor, trigger: {type: blend}}]\n", "missing required key 'target'"},
      // A user tag "bpda" made an id that reads as a BPDA twin (and its gate as masked).
      {"attacks: [{name: pgd, eps: 0.1, tag: bpda}]\n", "attacks[0].tag: 'bpda' is reserved"},
      {"attacks: [{name: backdoor, target: 1}]\n", "missing required key 'trigger'"},
      {"attacks: [{name: backdoor, target: 10, trigger: {type: blend}}]\n",
       "attacks: backdoor-blend-to-10: target 10 is not a class of the model (model.num_classes is 10)"},
      {"attacks: [{name: backdoor, target: 1, trigger: {size: 3, row: 26, col: 0}}]\n",
       "attacks: backdoor-patch-to-1: trigger: a 3x3 patch at (26, 0) does not fit 28x28 images"},
      {"attacks: [{name: backdoor, target: 1, trigger: {random_position: true}}]\n",
       "attacks[0].trigger.random_position: the poisoner draws the position"},
      {"attacks: [{name: backdoor, target: 1, eps: 0.1, trigger: {type: blend}}]\n",
       "attacks[0].eps: unknown key"},
      {"attacks: [{name: backdoor, target: 1, trigger: {type: blend}}]\n"
       "gates: {robust_accuracy: {backdoor-blend-to-1: {min: 0.9}}}\n",
       "gates.robust_accuracy.backdoor-blend-to-1: 'backdoor-blend-to-1' is a backdoor trigger"},
      {"attacks: [{name: backdoor, target: 1, trigger: {type: blend}}]\n"
       "gates: {median_l2: {backdoor-blend-to-1: {min: 0.9}}}\n",
       "needs an unbounded attack (cw)"},
      {"attacks: [{name: backdoor, target: 1, trigger: {type: blend}}]\n"
       "gates: {attack_success_rate: {backdoor-blend-to-2: {max: 0.1}}}\n",
       "gates.attack_success_rate.backdoor-blend-to-2: unknown key"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    CHECK_THAT(message(yaml), Catch::StartsWith("c.yaml:") && Catch::Contains(expected));
  }
}
