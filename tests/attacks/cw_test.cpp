#include "attacks/cw.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "attack_fixtures.h"
#include "attacks/attack_ops.h"

using namespace rampart;

namespace {

// A smooth two-layer network (tanh), so finite differences are meaningful everywhere.
class SmoothModel : public models::Model {
 public:
  SmoothModel() {
    torch::manual_seed(11);
    w1_ = torch::randn({48, 16}, at::kDouble) * 0.5;
    w2_ = torch::randn({16, 5}, at::kDouble) * 0.5;
  }
  at::Tensor forward(const at::Tensor& x) override {
    return at::tanh(x.flatten(1).mm(w1_)).mm(w2_);
  }
  bool is_training() const override { return false; }
  void set_training(bool) override {}
  std::vector<at::Tensor> parameters() override { return {w1_, w2_}; }
  std::string describe() const override { return "smooth"; }

 private:
  at::Tensor w1_, w2_;
};

}  // namespace

TEST_CASE("the CW objective's gradient in the tanh variable matches finite differences", "[cw]") {
  SmoothModel model;
  torch::manual_seed(12);
  const at::Tensor x = torch::rand({3, 3, 4, 4}, at::kDouble);
  const at::Tensor y = torch::tensor({0, 3, 4}, at::kLong);
  const at::Tensor c = torch::tensor({0.5, 2.0, 10.0}, at::kDouble);
  for (bool targeted : {false, true}) {
    const auto options = attacks::CWOptions().kappa(0.1).targeted(targeted);
    const at::Tensor w = attacks::detail::to_tanh_space(x, 0, 1) + torch::randn_like(x) * 0.3;
    const at::Tensor leaf = w.clone().requires_grad_(true);
    const at::Tensor total = attacks::detail::cw_terms(model, leaf, x, y, c, options).loss.sum();
    const at::Tensor grad = torch::autograd::grad({total}, {leaf})[0];
    const double h = 1e-6;
    double worst = 0;
    for (int64_t i = 0; i < w.numel(); i += 7) {
      at::Tensor plus = w.clone(), minus = w.clone();
      plus.view(-1)[i] += h;
      minus.view(-1)[i] -= h;
      const double numeric =
          (attacks::detail::cw_terms(model, plus, x, y, c, options).loss.sum().item<double>() -
           attacks::detail::cw_terms(model, minus, x, y, c, options).loss.sum().item<double>()) /
          (2 * h);
      worst = std::max(worst, std::abs(numeric - grad.view(-1)[i].item<double>()));
    }
    INFO("targeted " << targeted);
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("the margin masks the label correctly when every logit is negative", "[cw]") {
  const at::Tensor logits = torch::tensor({{-5.0, -1.0, -3.0}, {-0.5, -9.0, -2.0}});
  const at::Tensor labels = torch::tensor({1, 0}, at::kLong);
  // Best other logit: row 0 excludes -1 -> -3; row 1 excludes -0.5 -> -2.
  CHECK(
      at::allclose(attacks::detail::best_other_logit(logits, labels), torch::tensor({-3.0, -2.0})));
  CHECK(at::allclose(attacks::detail::objective(logits, labels, attacks::Loss::kMargin, false),
                     torch::tensor({-2.0, -1.5})));
  CHECK(at::allclose(attacks::detail::objective(logits, labels, attacks::Loss::kMargin, true),
                     torch::tensor({2.0, 1.5})));
}

TEST_CASE("CW keeps the smallest successful perturbation and leaves failures untouched", "[cw]") {
  auto net = test::random_cnn(13);
  models::ClassifierModel model(net);
  torch::manual_seed(14);
  const at::Tensor x = torch::rand({8, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto weak = attacks::cw(
      model, x, y, attacks::CWOptions().steps(2).binary_search_steps(1).initial_const(1e-6));
  // Failures come back unperturbed.
  const at::Tensor failed = weak.success.logical_not();
  REQUIRE(failed.any().item<bool>());
  CHECK(weak.l2.masked_select(failed).abs().max().item<double>() == 0.0);
  auto options = attacks::CWOptions().steps(50).lr(0.1).initial_const(1.0);
  const auto strong = attacks::cw(model, x, y, options.binary_search_steps(4));
  INFO("success " << strong.success.to(at::kDouble).mean().item<double>());
  CHECK(strong.success.all().item<bool>());
  // More search can only find closer examples: a shorter search is a prefix of the longer one.
  const auto short_search = attacks::cw(model, x, y, options.binary_search_steps(2));
  const at::Tensor both = strong.success.logical_and(short_search.success);
  CHECK((strong.l2.masked_select(both) <= short_search.l2.masked_select(both) + 1e-6)
            .all()
            .item<bool>());
}


// Issue 15, item 8: the gradient test compared autograd with finite differences of the same
// function, so a wrong margin sign passed. On a linear model the answer is known in closed form.
TEST_CASE("CW on a linear model finds the closed-form minimal L2 perturbation within 2%",
          "[cw]") {
  test::LinearModel model;
  torch::manual_seed(22);
  // Points near the centre of the box, so the box does not bind at these distances.
  const at::Tensor x = 0.5 + 0.02 * torch::randn({16, 1, 8, 8});
  const at::Tensor y = model.forward(x).argmax(1);
  const at::Tensor minimal = model.minimal_distance(x, y, attacks::Norm::kL2);
  REQUIRE(minimal.max().item<double>() < 0.3);
  const auto r = attacks::cw(
      model, x, y,
      attacks::CWOptions().steps(300).binary_search_steps(9).initial_const(0.1).lr(0.01));
  REQUIRE(r.success.all().item<bool>());
  INFO("cw " << r.l2 << "\nminimal " << minimal);
  CHECK(r.l2.ge(minimal * (1 - 1e-4)).all().item<bool>());  // never below the true minimum
  CHECK(r.l2.le(minimal * 1.02).all().item<bool>());
  // Each example is really adversarial, by the model's own decision.
  CHECK(model.forward(r.adversarial).argmax(1).ne(y).all().item<bool>());
}

TEST_CASE("CW's constant rises tenfold after a failure and bisects once it has an upper bound",
          "[cw]") {
  auto s = attacks::detail::start_constant_search(3, 0.01, at::TensorOptions().dtype(at::kDouble));
  const auto flags = [](std::vector<bool> v) {
    at::Tensor t = at::zeros({static_cast<int64_t>(v.size())}, at::kBool);
    for (std::size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = static_cast<bool>(v[i]);
    return t;
  };
  const auto values = [](const at::Tensor& t) {
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  };
  using V = std::vector<double>;
  attacks::detail::update_constants(s, flags({true, false, false}));
  CHECK_THAT(values(s.upper), Catch::Matchers::Approx(V{0.01, 1e10, 1e10}));
  CHECK_THAT(values(s.lower), Catch::Matchers::Approx(V{0.0, 0.01, 0.01}));
  CHECK_THAT(values(s.c), Catch::Matchers::Approx(V{0.005, 0.1, 0.1}));  // success: bisect [0, 0.01]; failure: x10
  attacks::detail::update_constants(s, flags({false, true, false}));
  CHECK_THAT(values(s.lower), Catch::Matchers::Approx(V{0.005, 0.01, 0.1}));
  CHECK_THAT(values(s.upper), Catch::Matchers::Approx(V{0.01, 0.1, 1e10}));
  CHECK_THAT(values(s.c), Catch::Matchers::Approx(V{0.0075, 0.055, 1.0}));  // bisect within the known bounds
  attacks::detail::update_constants(s, flags({true, true, true}));
  CHECK_THAT(values(s.upper), Catch::Matchers::Approx(V{0.0075, 0.055, 1.0}));
  CHECK_THAT(values(s.c), Catch::Matchers::Approx(V{0.00625, 0.0325, 0.55}));
}
