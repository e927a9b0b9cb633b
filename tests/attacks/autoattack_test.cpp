// APGD, APGD-T, FAB-T, Square and their AutoAttack ensemble (issue 16): the reference's
// schedule and losses on hand-made numbers, closed forms on linear models, and the properties
// the ensemble promises.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "attack_fixtures.h"
#include "attacks/apgd.h"
#include "attacks/autoattack.h"
#include "attacks/dlr_loss.h"
#include "attacks/fab.h"
#include "attacks/square.h"
#include "attacks/square_l2.h"
#include "core/error.h"

using namespace rampart;
using attacks::Norm;

namespace {

// A model whose logits ignore the input: nothing can fool it.
class ConstantModel : public models::Model {
 public:
  at::Tensor forward(const at::Tensor& x) override {
    return at::tensor({2.0f, 0.0f, -1.0f}).expand({x.size(0), 3}) + 0 * x.flatten(1).sum(1, true);
  }
  bool is_training() const override { return false; }
  void set_training(bool) override {}
  std::vector<at::Tensor> parameters() override { return {}; }
  std::string describe() const override { return "constant"; }
};

std::vector<std::pair<int64_t, int64_t>> pairs(std::initializer_list<std::pair<int64_t, int64_t>> v) {
  return v;
}

}  // namespace

TEST_CASE("APGD's checkpoints for 100 iterations are the reference's", "[apgd]") {
  CHECK(attacks::apgd_checkpoints(100) ==
        pairs({{22, 22}, {41, 19}, {57, 16}, {70, 13}, {80, 10}, {87, 7}, {93, 6}, {99, 6}}));
  CHECK(attacks::apgd_checkpoints(10) == pairs({{2, 2}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1},
                                                {8, 1}, {9, 1}, {10, 1}}));
}

TEST_CASE("the DLR losses on hand-made logits", "[apgd]") {
  const at::Tensor z = at::tensor({3.0, 1.0, 2.0, 0.0, -1.0}).unsqueeze(0);
  const auto y = [](int64_t v) { return at::tensor({v}); };
  // Label on top: -(3 - 2) / (3 - 1).
  CHECK(attacks::dlr_loss(z, y(0)).item<double>() == Approx(-0.5));
  // Label not on top: -(1 - 3) / (3 - 1).
  CHECK(attacks::dlr_loss(z, y(1)).item<double>() == Approx(1.0));
  // Targeted, y = 0, t = 2: -(3 - 2) / (3 - (1 + 0) / 2).
  CHECK(attacks::targeted_dlr_loss(z, y(0), y(2)).item<double>() == Approx(-0.4));
  // Shift and scale invariance.
  CHECK(attacks::dlr_loss(z * 7 + 3, y(0)).item<double>() == Approx(-0.5));
  CHECK_THROWS_AS(attacks::dlr_loss(z.slice(1, 0, 2), y(0)), ConfigError);
  CHECK_THROWS_AS(attacks::targeted_dlr_loss(z.slice(1, 0, 3), y(0), y(2)), ConfigError);
  // The k-th other class by logit: 2, then 1, then 3.
  CHECK(attacks::kth_other_class(z, y(0), 1).item<int64_t>() == 2);
  CHECK(attacks::kth_other_class(z, y(0), 2).item<int64_t>() == 1);
  CHECK(attacks::kth_other_class(z, y(2), 1).item<int64_t>() == 0);
}

TEST_CASE("APGD with alpha 1 and no checkpoint firing is the textbook PGD loop", "[apgd]") {
  // Two classes: the CE loss rises along the fixed direction sign(w_other - w_y) every step, so
  // no checkpoint halves the step, and with alpha = 1 no momentum enters.
  test::LinearModel model(2, 64, 31);
  torch::manual_seed(32);
  const at::Tensor x = 0.4 + 0.2 * torch::rand({6, 1, 8, 8});
  const at::Tensor y = model.forward(x).argmax(1);
  const double eps = 0.3, step = 0.002;
  const auto r = attacks::apgd(model, x, y,
                               attacks::APGDOptions(eps).steps(25).alpha(1.0).step_size(step).random_init(false));
  // The textbook loop; a point that is fooled keeps that iterate (APGD retires it there).
  at::Tensor xt = x.clone();
  at::Tensor frozen = at::zeros({6}, at::kBool);
  for (int t = 0; t < 25; ++t) {
    at::Tensor leaf = xt.detach().requires_grad_(true);
    at::Tensor loss = torch::nn::functional::cross_entropy(
        model.forward(leaf), y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    at::Tensor g = torch::autograd::grad({loss}, {leaf})[0];
    torch::NoGradGuard no_grad;
    const at::Tensor next = (x + (xt + step * g.sign() - x).clamp(-eps, eps)).clamp(0.0, 1.0);
    xt = at::where(frozen.view({-1, 1, 1, 1}), xt, next);
    frozen = frozen.logical_or(model.forward(xt).argmax(1).ne(y));
  }
  CHECK(r.success.equal(frozen));
  CHECK((r.adversarial - xt).abs().max().item<double>() <= 1e-6);
}

TEST_CASE("APGD stays in the ball and the box, and its counts add up", "[apgd]") {
  auto net = test::random_cnn(41);
  models::ClassifierModel model(net);
  torch::manual_seed(42);
  const at::Tensor x = torch::rand({12, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  for (const Norm norm : {Norm::kLinf, Norm::kL2}) {
    const double eps = norm == Norm::kLinf ? 0.02 : 0.5;
    const auto r = attacks::apgd(model, x, y, attacks::APGDOptions(eps).norm(norm).steps(20));
    const at::Tensor size = norm == Norm::kLinf ? r.linf : r.l2;
    CHECK(size.max().item<double>() <= eps + 1e-5);
    CHECK(r.adversarial.min().item<double>() >= 0.0);
    CHECK(r.adversarial.max().item<double>() <= 1.0);
    CHECK(r.backward_samples <= 12 * 21);
    CHECK(r.forward_samples >= r.backward_samples);
    // Every claimed success is adversarial by the model's own decision.
    CHECK(net->forward(r.adversarial).argmax(1).ne(y).equal(r.success));
    // With EOT (a randomised model) every point is attacked to the last step, as the reference
    // does: a point fooled once used to leave with that first, barely fooling iterate.
    const double wide = norm == Norm::kLinf ? 0.1 : 2.5;  // wide enough to fool some points
    const auto eot = attacks::apgd(model, x, y, attacks::APGDOptions(wide).norm(norm).steps(20).eot_samples(2));
    REQUIRE(eot.success.any().item<bool>());
    CHECK(eot.backward_samples == 12 * 2 * 21);
    CHECK(net->forward(eot.adversarial).argmax(1).ne(y).equal(eot.success));
  }
}

TEST_CASE("APGD-T tries the runner-up classes in turn and beats a single target", "[apgd]") {
  auto net = test::random_cnn(43);
  models::ClassifierModel model(net);
  torch::manual_seed(44);
  const at::Tensor x = torch::rand({24, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto one = attacks::apgd(model, x, y, attacks::APGDOptions(0.01).steps(20).target_classes(1));
  const auto three = attacks::apgd(model, x, y, attacks::APGDOptions(0.01).steps(20).target_classes(3));
  // The first target class runs the same draws in both: more targets only add fooled points.
  CHECK(one.success.logical_and(three.success.logical_not()).sum().item<int64_t>() == 0);
  CHECK(three.success.sum().item<int64_t>() >= one.success.sum().item<int64_t>());
}

TEST_CASE("FAB's projection reaches the hyperplane with the known minimal step", "[fab]") {
  const auto check = [](Norm norm, std::vector<double> t, std::vector<double> w, double b,
                        std::vector<double> expected) {
    const at::Tensor tt = at::tensor(t).unsqueeze(0), wt = at::tensor(w).unsqueeze(0);
    const at::Tensor d = attacks::fab_projection(tt, wt, at::tensor({b}), norm, 0.0, 1.0);
    INFO("norm " << attacks::to_string(norm) << " d " << d);
    CHECK((d.squeeze(0) - at::tensor(expected)).abs().max().item<double>() < 1e-9);
  };
  // Box not binding: Linf moves every coordinate by |c| / ||w||_1, L2 along w by |c| / ||w||^2.
  check(Norm::kLinf, {0.5, 0.5}, {1.0, 1.0}, 1.6, {0.3, 0.3});
  check(Norm::kL2, {0.5, 0.5}, {1.0, 2.0}, 2.0, {0.1, 0.2});
  check(Norm::kLinf, {0.5, 0.5}, {1.0, -1.0}, -0.4, {-0.2, 0.2});
  // The box binds the first coordinate at 1: the second takes the rest.
  check(Norm::kLinf, {0.9, 0.5}, {1.0, 1.0}, 1.8, {0.1, 0.3});
  check(Norm::kL2, {0.9, 0.5}, {1.0, 1.0}, 1.8, {0.1, 0.3});
  // Unreachable inside the box: the step that ignores it.
  check(Norm::kLinf, {0.9, 0.9}, {1.0, 1.0}, 2.4, {0.3, 0.3});
  // A zero normal component never moves.
  check(Norm::kLinf, {0.5, 0.5, 0.5}, {1.0, 0.0, 1.0}, 1.4, {0.2, 0.0, 0.2});
}

TEST_CASE("FAB-T on a linear model finds the minimal Linf and L2 perturbation", "[fab]") {
  test::LinearModel model(2, 64, 51);
  torch::manual_seed(52);
  const at::Tensor x = 0.5 + 0.02 * torch::randn({10, 1, 8, 8});
  const at::Tensor y = model.forward(x).argmax(1);
  for (const Norm norm : {Norm::kLinf, Norm::kL2}) {
    const at::Tensor minimal = model.minimal_distance(x, y, norm);
    const double largest = minimal.max().item<double>();
    INFO("norm " << attacks::to_string(norm) << " minimal " << minimal);
    REQUIRE(largest < 0.2);  // the box does not bind
    const auto r = attacks::fab(model, x, y,
                                attacks::FABOptions(largest * 1.05).norm(norm).target_classes(1));
    REQUIRE(r.success.all().item<bool>());
    const at::Tensor size = norm == Norm::kLinf ? r.linf : r.l2;
    CHECK(size.ge(minimal * (1 - 1e-4)).all().item<bool>());
    CHECK(size.le(minimal * 1.05 + 1e-6).all().item<bool>());
    // Below the smallest minimal distance nothing is fooled.
    const auto below = attacks::fab(
        model, x, y, attacks::FABOptions(minimal.min().item<double>() * 0.95).norm(norm).target_classes(1));
    CHECK_FALSE(below.success.any().item<bool>());
  }
}

TEST_CASE("Square queries each point only until it is fooled, inside the ball", "[square]") {
  ConstantModel constant;
  torch::manual_seed(61);
  const at::Tensor x = torch::rand({3, 1, 10, 10});
  const at::Tensor y = at::zeros({3}, at::kLong);
  const auto never = attacks::square(constant, x, y, attacks::SquareOptions(0.1).queries(40));
  CHECK_FALSE(never.success.any().item<bool>());
  CHECK(never.forward_samples == 3 * 41);  // the start and 40 proposals each, as square.py
  CHECK(never.linf.max().item<double>() <= 0.1 + 1e-6);
  // Wrong labels: every point is fooled by its first query, and the confirmation costs one more.
  const auto at_once = attacks::square(constant, x, at::ones({3}, at::kLong),
                                       attacks::SquareOptions(0.1).queries(40));
  CHECK(at_once.success.all().item<bool>());
  CHECK(at_once.forward_samples == 3 * 2);
  // On a CNN: never outside the ball or the box.
  auto net = test::random_cnn(62);
  models::ClassifierModel model(net);
  const at::Tensor xs = torch::rand({8, 1, 28, 28});
  const at::Tensor ys = test::predicted_labels(*net, xs);
  const auto r = attacks::square(model, xs, ys, attacks::SquareOptions(0.03).queries(200));
  CHECK(r.linf.max().item<double>() <= 0.03 + 1e-6);
  CHECK(r.adversarial.min().item<double>() >= 0.0);
  CHECK(r.adversarial.max().item<double>() <= 1.0);
  CHECK(r.forward_samples <= 8 * 201 + 8);
  CHECK(net->forward(r.adversarial).argmax(1).ne(ys).equal(r.success));
  CHECK(attacks::square_fraction(0.8, 10) == 0.8);
  CHECK(attacks::square_fraction(0.8, 11) == 0.4);
  CHECK(attacks::square_fraction(0.8, 8001) == Approx(0.8 / 512));
  CHECK(attacks::square_side(0.8, 28, 28) == 25);
}

TEST_CASE("AutoAttack fools every point any of its components fools alone", "[autoattack]") {
  auto net = test::random_cnn(71);
  models::ClassifierModel model(net);
  torch::manual_seed(72);
  // A budget at which APGD-CE fools most points and Square has a few left to query (each
  // robust point costs Square its 5000 queries, twice here).
  const at::Tensor x = torch::rand({10, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const double eps = 0.03;
  attacks::AutoAttack ensemble(attacks::AutoAttackOptions(eps)
                                   .version(attacks::AutoAttackVersion::kCustom)
                                   .components({"apgd-ce", "square"})
                                   .stream(9));
  REQUIRE(ensemble.components() ==
          std::vector<std::string>{"apgd-ce-linf-0.03", "square-linf-0.03"});
  const auto all = ensemble.run(model, x, y);
  // Each component alone, with the stream the ensemble gives it: its draws per point are the
  // same, so whatever it fools alone the ensemble fools too.
  const auto parts = attacks::autoattack_components(attacks::AutoAttackOptions(eps)
                                                        .version(attacks::AutoAttackVersion::kCustom)
                                                        .components({"apgd-ce", "square"})
                                                        .stream(9));
  for (const auto& part : parts) {
    const auto alone = part->run(model, x, y);
    INFO(part->id());
    CHECK(alone.success.logical_and(all.success.logical_not()).sum().item<int64_t>() == 0);
  }
  // fooled_by names the component that fooled each point; -1 exactly where none did.
  CHECK(all.fooled_by.ge(0).equal(all.success));
  CHECK(all.fooled_by.le(1).all().item<bool>());
  CHECK(all.linf.max().item<double>() <= eps + 1e-6);
  CHECK_THROWS_AS(attacks::AutoAttack(attacks::AutoAttackOptions(eps)
                                          .version(attacks::AutoAttackVersion::kCustom)
                                          .components({"apgd-ce", "apgd-ce"})),
                  ConfigError);
  CHECK_THROWS_AS(attacks::AutoAttack(attacks::AutoAttackOptions(eps)
                                          .version(attacks::AutoAttackVersion::kCustom)
                                          .components({"pgd"})),
                  ConfigError);
  CHECK(attacks::AutoAttack(attacks::AutoAttackOptions(eps)).components() ==
        std::vector<std::string>{"apgd-ce-linf-0.03", "apgd-t-linf-0.03", "fab-t-linf-0.03",
                                 "square-linf-0.03"});
  // custom keeps the reference's constructor defaults (autoattack.py: APGDAttack and
  // FABAttack_PT with n_restarts=5; set_version runs only for standard, plus and rand): custom
  // ran every component with 1 restart, apgd-ce 0.525 robust where the reference gets 0.505.
  const auto custom = attacks::autoattack_components(
      attacks::AutoAttackOptions(eps)
          .version(attacks::AutoAttackVersion::kCustom)
          .components({"apgd-ce", "apgd-dlr", "fab", "apgd-t", "fab-t"}));
  const auto apgd = [&](std::size_t k) {
    return dynamic_cast<const attacks::APGD&>(*custom.at(k)).options();
  };
  const auto fab = [&](std::size_t k) {
    return dynamic_cast<const attacks::FAB&>(*custom.at(k)).options();
  };
  CHECK(apgd(0).restarts() == 5);
  CHECK(apgd(1).restarts() == 5);
  CHECK(fab(2).restarts() == 5);
  CHECK(apgd(3).restarts() == 1);
  CHECK(apgd(3).target_classes() == 9);
  CHECK(fab(4).restarts() == 1);
  CHECK(fab(4).target_classes() == 9);
  const auto standard = attacks::autoattack_components(attacks::AutoAttackOptions(eps));
  CHECK(dynamic_cast<const attacks::APGD&>(*standard.at(0)).options().restarts() == 1);
}

TEST_CASE("Square-L2's pattern is the reference's, and it stays in the L2 ball", "[square]") {
  // fra31/auto-attack square.py, eta(5) and eta(3) without the random transpose.
  const at::Tensor eta5 = at::tensor({0.049162, 0.159777, 0.159777, 0.159777, 0.049162,  //
                                      0.049162, 0.159777, 0.602237, 0.159777, 0.049162,  //
                                      -0.045590, -0.148168, -0.148168, -0.148168, -0.045590,  //
                                      -0.045590, -0.148168, -0.558479, -0.148168, -0.045590,  //
                                      -0.045590, -0.148168, -0.148168, -0.148168, -0.045590})
                              .view({5, 5});
  CHECK((attacks::detail::square_eta(5) - eta5).abs().max().item<double>() < 1e-6);
  const at::Tensor eta3 = at::tensor({0.136083, 0.680414, 0.136083, -0.129099, -0.129099,
                                      -0.129099, -0.129099, -0.645497, -0.129099})
                              .view({3, 3});
  CHECK((attacks::detail::square_eta(3) - eta3).abs().max().item<double>() < 1e-6);
  CHECK(attacks::detail::square_l2_side(0.8, 28, 28) == 25);
  CHECK(attacks::detail::square_l2_side(0.001, 28, 28) == 3);
  auto net = test::random_cnn(63);
  models::ClassifierModel model(net);
  torch::manual_seed(64);
  const at::Tensor x = torch::rand({8, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto r = attacks::square(model, x, y, attacks::SquareOptions(0.5).norm(Norm::kL2).queries(150));
  CHECK(r.l2.max().item<double>() <= 0.5 + 1e-5);
  CHECK(r.adversarial.min().item<double>() >= 0.0);
  CHECK(r.adversarial.max().item<double>() <= 1.0);
  CHECK(net->forward(r.adversarial).argmax(1).ne(y).equal(r.success));
  // A point's draws do not depend on its batch: the last four alone end where they did.
  const auto alone = attacks::square(model, x.slice(0, 4), y.slice(0, 4),
                                     attacks::SquareOptions(0.5).norm(Norm::kL2).queries(150),
                                     at::arange(4, 8));
  CHECK(alone.adversarial.equal(r.adversarial.slice(0, 4)));
}
