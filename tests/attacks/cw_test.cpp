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
