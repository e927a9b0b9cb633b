// Properties every attack must have, on a small untrained CNN and random inputs.
#include <torch/torch.h>

#include <c10/core/InferenceMode.h>

#include <catch2/catch.hpp>

#include "attack_fixtures.h"
#include "attacks/apgd.h"
#include "attacks/cw.h"
#include "attacks/fab.h"
#include "attacks/square.h"
#include "attacks/fgsm.h"
#include "attacks/pgd.h"
#include "core/error.h"

using namespace rampart;
using attacks::Loss;
using attacks::Norm;

namespace {

struct Case {
  std::string name;
  std::shared_ptr<attacks::Attack> attack;
  Norm norm;
  double eps;  // 0 for CW (unbounded)
};

std::vector<Case> all_attacks() {
  using namespace attacks;
  return {
      {"fgsm linf", std::make_shared<FGSM>(FGSMOptions(0.05)), Norm::kLinf, 0.05},
      {"fgm l2", std::make_shared<FGSM>(FGSMOptions(0.8).norm(Norm::kL2)), Norm::kL2, 0.8},
      {"fgsm margin targeted",
       std::make_shared<FGSM>(FGSMOptions(0.05).loss(Loss::kMargin).targeted(true)), Norm::kLinf,
       0.05},
      {"pgd linf", std::make_shared<PGD>(PGDOptions(0.05).steps(7).step_size(0.02).restarts(2)),
       Norm::kLinf, 0.05},
      {"pgd linf early stop",
       std::make_shared<PGD>(PGDOptions(0.05).steps(7).step_size(0.02).early_stop(true)),
       Norm::kLinf, 0.05},
      {"pgd l2",
       std::make_shared<PGD>(PGDOptions(0.7).norm(Norm::kL2).steps(7).step_size(0.3).restarts(2)),
       Norm::kL2, 0.7},
      {"pgd l2 margin early stop",
       std::make_shared<PGD>(PGDOptions(0.7)
                                 .norm(Norm::kL2)
                                 .steps(7)
                                 .step_size(0.3)
                                 .loss(Loss::kMargin)
                                 .early_stop(true)),
       Norm::kL2, 0.7},
      {"pgd linf targeted",
       std::make_shared<PGD>(PGDOptions(0.05).steps(5).step_size(0.02).targeted(true)), Norm::kLinf,
       0.05},
      {"cw", std::make_shared<CW>(CWOptions().steps(20).binary_search_steps(3).lr(0.05)), Norm::kL2,
       0.0},
      {"cw targeted",
       std::make_shared<CW>(CWOptions().steps(20).binary_search_steps(3).lr(0.05).targeted(true)),
       Norm::kL2, 0.0},
  };
}

}  // namespace

TEST_CASE("every attack respects its budget and the box, and reports honestly", "[attacks]") {
  auto net = test::random_cnn(1);
  models::ClassifierModel model(net);
  torch::manual_seed(2);
  // Inputs touching both box faces; labels = the model's own predictions, so every point
  // starts correctly classified and success means the attack did something.
  const at::Tensor x = torch::rand({12, 1, 28, 28}).mul(1.2).sub(0.1).clamp(0, 1);
  const at::Tensor y = test::predicted_labels(*net, x);
  for (const auto& c : all_attacks()) {
    SECTION(c.name) {
      // A mixed mode (root training, conv1 frozen in eval) must come back exactly.
      net->train();
      net->modules()[1]->eval();
      // A targeted attack aims at a class other than the prediction: with the prediction as
      // its target it would "succeed" at step 0, whatever its step direction.
      const bool targeted = c.name.find("targeted") != std::string::npos;
      const at::Tensor labels = targeted ? (y + 1).remainder(10) : y;
      const auto r = c.attack->run(model, x, labels);
      CHECK(net->is_training());
      CHECK_FALSE(net->modules()[1]->is_training());
      CHECK(net->modules()[2]->is_training());
      for (const auto& p : net->parameters()) {
        CHECK(p.requires_grad());
        CHECK_FALSE(p.grad().defined());
      }
      REQUIRE(r.adversarial.sizes() == x.sizes());
      CHECK(r.adversarial.min().item<double>() >= 0.0);
      CHECK(r.adversarial.max().item<double>() <= 1.0);
      const at::Tensor delta = r.adversarial - x;
      const at::Tensor l2 = delta.flatten(1).norm(2, 1);
      const at::Tensor linf = delta.flatten(1).abs().amax(1);
      if (c.eps > 0 && c.norm == Norm::kLinf) CHECK(linf.max().item<double>() <= c.eps + 1e-6);
      if (c.eps > 0 && c.norm == Norm::kL2) CHECK(l2.max().item<double>() <= c.eps * (1 + 1e-5));
      CHECK(at::allclose(r.l2, l2, 1e-5, 1e-6));
      CHECK(at::allclose(r.linf, linf, 1e-5, 1e-6));
      net->eval();
      torch::NoGradGuard no_grad;
      const at::Tensor predicted = net->forward(r.adversarial).argmax(1);
      CHECK(at::equal(r.success, targeted ? predicted.eq(labels) : predicted.ne(y)));
      CHECK(r.forward_samples >= x.size(0));
      CHECK(r.backward_samples >= 1);
    }
  }
}

TEST_CASE("targeted attacks move toward a target that is not the prediction", "[attacks]") {
  auto net = test::random_cnn(5);
  models::ClassifierModel model(net);
  torch::manual_seed(6);
  const at::Tensor x = torch::rand({16, 1, 28, 28});
  const at::Tensor target = (test::predicted_labels(*net, x) + 3).remainder(10);
  // The target's margin over the best other class: an attack stepping the wrong way lowers it.
  const auto target_margin = [&](const at::Tensor& inputs) {
    torch::NoGradGuard no_grad;
    const at::Tensor z = net->forward(inputs);
    const at::Tensor zt = z.gather(1, target.unsqueeze(1)).squeeze(1);
    const at::Tensor others = z.scatter(1, target.unsqueeze(1), -1e9).amax(1);
    return (zt - others).mean().item<double>();
  };
  net->eval();
  const double clean = target_margin(x);
  const auto fgsm = attacks::fgsm(model, x, target,
                                  attacks::FGSMOptions(0.05).loss(Loss::kMargin).targeted(true));
  CHECK(target_margin(fgsm.adversarial) > clean);
  const auto pgd = attacks::pgd(
      model, x, target, attacks::PGDOptions(0.3).steps(20).step_size(0.05).targeted(true));
  CHECK(target_margin(pgd.adversarial) > clean);
  CHECK(pgd.success.to(at::kDouble).mean().item<double>() >= 0.5);
  const auto cw = attacks::cw(
      model, x, target, attacks::CWOptions().steps(100).binary_search_steps(6).lr(0.1).targeted(true));
  CHECK(cw.success.to(at::kDouble).mean().item<double>() >= 0.9);
  torch::NoGradGuard no_grad;
  CHECK(at::equal(net->forward(cw.adversarial).argmax(1).eq(target), cw.success));
}

TEST_CASE("attacks run inside a caller's no-grad scope and leave it as it was", "[attacks]") {
  auto net = test::random_cnn(3);
  models::ClassifierModel model(net);
  const at::Tensor x = torch::rand({4, 1, 28, 28});
  const at::Tensor y = torch::randint(0, 10, {4});
  torch::NoGradGuard caller_no_grad;
  const auto r = attacks::pgd(model, x, y,
                              attacks::PGDOptions(0.1).steps(3).step_size(0.05).random_init(false));
  CHECK_FALSE(torch::GradMode::is_enabled());
  CHECK(r.linf.max().item<double>() > 0.05);  // it did move: gradients were available inside
  CHECK_FALSE(r.adversarial.requires_grad());
}

// The attacks say they compute their gradients "even under a caller's guard"; under
// InferenceMode the inputs are inference tensors, which cannot require grad nor be saved for
// backward (torch.inference_mode() from Python reaches the same code).
TEST_CASE("every attack runs inside a caller's InferenceMode on inference tensors", "[attacks]") {
  auto net = test::random_cnn(3);
  net->eval();
  models::ClassifierModel model(net);
  std::vector<Case> cases = all_attacks();
  using namespace attacks;
  cases.push_back({"apgd-ce", std::make_shared<APGD>(APGDOptions(0.05).steps(4)), Norm::kLinf, 0.05});
  cases.push_back({"apgd-t", std::make_shared<APGD>(APGDOptions(0.05).steps(4).target_classes(2)),
                   Norm::kLinf, 0.05});
  cases.push_back({"fab-t", std::make_shared<FAB>(FABOptions(0.05).steps(4).target_classes(2)),
                   Norm::kLinf, 0.05});
  cases.push_back({"fab", std::make_shared<FAB>(FABOptions(0.05).steps(3).target_classes(0)),
                   Norm::kLinf, 0.05});
  cases.push_back({"square", std::make_shared<Square>(SquareOptions(0.05).queries(20)), Norm::kLinf, 0.05});
  c10::InferenceMode caller;
  const at::Tensor x = torch::rand({4, 1, 28, 28});
  const at::Tensor y = torch::randint(0, 10, {4});
  REQUIRE(x.is_inference());
  for (const auto& c : cases) {
    INFO(c.name);
    AttackResult r;
    REQUIRE_NOTHROW(r = c.attack->run(model, x, y));
    CHECK(r.linf.max().item<double>() > 0);  // it moved: its gradients (or queries) worked
    if (c.eps > 0) {
      const at::Tensor size = c.norm == Norm::kLinf ? r.linf : r.l2;
      CHECK(size.max().item<double>() <= c.eps + 1e-5);
    }
    CHECK(c10::InferenceMode::is_enabled());  // the caller's guard is as it was
  }
}

TEST_CASE("bad attack options and inputs are refused clearly", "[attacks]") {
  auto net = test::random_cnn(4);
  models::ClassifierModel model(net);
  const at::Tensor x = torch::rand({2, 1, 28, 28});
  const at::Tensor y = torch::randint(0, 10, {2});
  CHECK_THROWS_AS(attacks::PGD(attacks::PGDOptions(-0.1)), ConfigError);
  CHECK_THROWS_AS(attacks::PGD(attacks::PGDOptions(0.1).steps(0)), ConfigError);
  CHECK_THROWS_AS(attacks::CW(attacks::CWOptions().initial_const(0)), ConfigError);
  CHECK_THROWS_WITH(attacks::fgsm(model, x + 2, y, attacks::FGSMOptions(0.1)),
                    Catch::Contains("outside the declared box"));
  CHECK_THROWS_AS(attacks::fgsm(model, x, y.to(at::kInt), attacks::FGSMOptions(0.1)),
                  std::invalid_argument);
  // Half precision rounded the attacks' guards away (NaN examples from a zero gradient).
  for (const auto dtype : {at::kHalf, at::kBFloat16}) {
    CHECK_THROWS_WITH(attacks::pgd(model, x.to(dtype), y, attacks::PGDOptions(0.1)),
                      Catch::Contains("attacks run in float32 or float64"));
  }
  CHECK(attacks::PGD(attacks::PGDOptions(0.1)).id() == "pgd-linf-0.1");
  CHECK(attacks::FGSM(attacks::FGSMOptions(1.5).norm(Norm::kL2)).id() == "fgsm-l2-1.5");
  CHECK(attacks::CW(attacks::CWOptions()).id() == "cw-l2");
}

TEST_CASE("an empty batch is a valid input", "[attacks]") {
  auto net = test::random_cnn(15);
  models::ClassifierModel model(net);
  const at::Tensor x = torch::rand({0, 1, 28, 28});
  const at::Tensor y = torch::zeros({0}, at::kLong);
  for (const auto& c : all_attacks()) {
    const auto r = c.attack->run(model, x, y);
    CHECK(r.adversarial.size(0) == 0);
    CHECK(r.success.size(0) == 0);
  }
}

// Issue 15, item 8: restart bookkeeping. Restart 0 is the single-restart run itself (same key),
// and later restarts attack only what is still unfooled, keeping the first success: more
// restarts can only fool more points, and never lose one.
TEST_CASE("PGD restarts can only add fooled points, and each kept example is within budget",
          "[attacks]") {
  auto net = test::random_cnn(8);
  models::ClassifierModel model(net);
  torch::manual_seed(9);
  const at::Tensor x = torch::rand({32, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto options = attacks::PGDOptions(0.02).steps(3).step_size(0.01).seed(5);
  const auto once = attacks::pgd(model, x, y, attacks::PGDOptions(options).restarts(1));
  const auto many = attacks::pgd(model, x, y, attacks::PGDOptions(options).restarts(4));
  CHECK(once.success.logical_and(many.success.logical_not()).sum().item<int64_t>() == 0);
  CHECK(many.success.sum().item<int64_t>() >= once.success.sum().item<int64_t>());
  // Where the first restart already fooled a point, its example is kept unchanged.
  const at::Tensor first = once.success.nonzero().flatten();
  CHECK(many.adversarial.index_select(0, first).equal(once.adversarial.index_select(0, first)));
  CHECK(many.linf.max().item<double>() <= 0.02 + 1e-6);
  CHECK(many.forward_samples > once.forward_samples);  // the later restarts did run
}
