#include "eval/attack_config.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include "attacks/pgd.h"
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
  } model;
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
