// Ensembles: the output is exactly the configured combination of the members' outputs, the
// vote is a majority with a probability tie-break, and attacks see every member.
#include "defenses/ensemble.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "attacks/attack_fixtures.h"
#include "attacks/cw.h"
#include "attacks/pgd.h"
#include "models/model.h"
#include "models/small_cnn.h"

using namespace rampart;

namespace {

// logits = x.flatten(1) @ weight: a model whose outputs a test can choose exactly.
class LinearModel : public models::Model {
 public:
  explicit LinearModel(at::Tensor weight) : weight_(std::move(weight)) {}
  at::Tensor forward(const at::Tensor& x) override { return x.flatten(1).matmul(weight_); }
  bool is_training() const override { return training_; }
  void set_training(bool training) override { training_ = training; }
  std::vector<at::Tensor> parameters() override { return {weight_}; }
  std::string describe() const override { return "linear"; }

 private:
  at::Tensor weight_;
  bool training_ = false;
};

std::shared_ptr<models::Model> cnn(int64_t seed) {
  torch::manual_seed(seed);
  auto net = std::make_shared<models::SmallCNN>(models::InputSpec{{1, 16, 16}, 0.0, 1.0}, 5);
  net->eval();
  return std::make_shared<models::ClassifierModel>(net);
}

std::shared_ptr<models::Model> linear(std::vector<float> rows) {
  return std::make_shared<LinearModel>(at::tensor(rows).reshape({3, 3}));
}

}  // namespace

TEST_CASE("ensemble: logit averaging is the mean of the members' logits", "[defenses][ensemble]") {
  std::vector<std::shared_ptr<models::Model>> members{cnn(1), cnn(2), cnn(3)};
  defenses::EnsembleModel ensemble(members, models::Combine::kLogits);
  const at::Tensor x = at::rand({6, 1, 16, 16});
  at::NoGradGuard no_grad;
  const at::Tensor expected =
      (members[0]->forward(x) + members[1]->forward(x) + members[2]->forward(x)) / 3.0;
  CHECK(at::allclose(ensemble.forward(x), expected, 1e-6, 1e-6));
  CHECK(at::equal(ensemble.predict(x), expected.argmax(1)));
  CHECK(ensemble.predicts_by_argmax());
  CHECK(ensemble.parameters().size() == 3 * members[0]->parameters().size());
  CHECK(ensemble.straight_through() == nullptr);
}

TEST_CASE("ensemble: probability averaging gives log of the mean softmax",
          "[defenses][ensemble]") {
  std::vector<std::shared_ptr<models::Model>> members{cnn(4), cnn(5)};
  defenses::EnsembleModel ensemble(members, models::Combine::kProbabilities);
  const at::Tensor x = at::rand({6, 1, 16, 16});
  at::NoGradGuard no_grad;
  const at::Tensor mean_probabilities =
      (members[0]->forward(x).softmax(1) + members[1]->forward(x).softmax(1)) / 2.0;
  const at::Tensor out = ensemble.forward(x);
  CHECK(at::allclose(out.exp(), mean_probabilities, 1e-6, 1e-6));
  CHECK(at::allclose(out.exp().sum(1), at::ones({6}), 1e-6, 1e-6));  // already normalised
}

TEST_CASE("ensemble: the vote is the majority, ties go to the higher mean probability",
          "[defenses][ensemble]") {
  // Inputs are one-hot rows e_0, e_1, e_2, so member m's logits for input i are row i of W_m.
  auto a = linear({5, 0, 0, /**/ 0, 5, 0, /**/ 0, 0, 5});
  auto b = linear({4, 0, 0, /**/ 0, 0, 9, /**/ 0, 0, 5});
  auto c = linear({0, 3, 0, /**/ 0, 0, 9, /**/ 0, 4, 0});
  defenses::EnsembleModel vote({a, b, c}, models::Combine::kVote);
  const at::Tensor x = at::eye(3).reshape({3, 1, 1, 3});
  at::NoGradGuard no_grad;
  // input 0: votes 0,0,1 -> 0. input 1: votes 1,2,2 -> 2. input 2: votes 2,2,1 -> 2.
  CHECK(at::equal(vote.predict(x), at::tensor({0, 2, 2}, at::kLong)));
  CHECK_FALSE(vote.predicts_by_argmax());
  // forward is the averaged-logits surrogate, whose argmax may differ from the vote: input 1
  // averages to (0, 5/3, 6) so both agree there, input 0 to (3, 1, 0).
  CHECK(at::allclose(vote.forward(x), (a->forward(x) + b->forward(x) + c->forward(x)) / 3.0));
  CHECK(vote.describe().find("averaged-logits surrogate") != std::string::npos);

  // A 1-1 tie between two members: the class with the higher mean probability wins.
  auto d = linear({9, 0, 0, /**/ 0, 0, 0, /**/ 0, 0, 0});  // input 0 -> class 0, very sure
  auto e = linear({0, 1, 0, /**/ 0, 0, 0, /**/ 0, 0, 0});  // input 0 -> class 1, unsure
  defenses::EnsembleModel tie({d, e}, models::Combine::kVote);
  CHECK(tie.predict(x.slice(0, 0, 1)).item<int64_t>() == 0);
  defenses::EnsembleModel tie_swapped({e, d}, models::Combine::kVote);
  CHECK(tie_swapped.predict(x.slice(0, 0, 1)).item<int64_t>() == 0);
}

TEST_CASE("ensemble: an attack's input gradient is the mean of the members' gradients",
          "[defenses][ensemble]") {
  std::vector<std::shared_ptr<models::Model>> members{cnn(6), cnn(7), cnn(8)};
  defenses::EnsembleModel ensemble(members, models::Combine::kLogits);
  const at::Tensor x0 = at::rand({4, 1, 16, 16});
  const at::Tensor w = at::randn({4, 5});
  auto gradient = [&](models::Model& m) {
    const at::Tensor x = x0.clone().requires_grad_(true);
    return torch::autograd::grad({(m.forward(x) * w).sum()}, {x})[0];
  };
  const at::Tensor expected =
      (gradient(*members[0]) + gradient(*members[1]) + gradient(*members[2])) / 3.0;
  CHECK(at::allclose(gradient(ensemble), expected, 1e-5, 1e-7));
}

TEST_CASE("ensemble: every member's mode is saved and restored", "[defenses][ensemble]") {
  std::vector<std::shared_ptr<models::Model>> members{cnn(9), cnn(10)};
  defenses::EnsembleModel ensemble(members, models::Combine::kLogits);
  members[1]->set_training(true);
  const std::vector<bool> modes = ensemble.module_modes();
  {
    models::AttackModeGuard guard(ensemble);
    CHECK_FALSE(members[0]->is_training());
    CHECK_FALSE(members[1]->is_training());
    for (auto& p : ensemble.parameters()) CHECK_FALSE(p.requires_grad());
  }
  CHECK(ensemble.module_modes() == modes);
  CHECK_FALSE(members[0]->is_training());
  CHECK(members[1]->is_training());
}

// Issue 15, item 1: PGD's early stop, its restarts and CW's tracking judged "fooled" by the
// averaged logits while the harness judged the vote: a point whose averaged logits flipped but
// whose vote did not was frozen there and then counted robust.
TEST_CASE("a voting ensemble is attacked and judged by its vote: early stop never raises robust "
          "accuracy, and CW fools it",
          "[defenses][ensemble]") {
  auto base = test::trained_fmnist_cnn();
  if (!base) return;
  // Three different members: the trained CNN and two copies with seeded weight noise.
  std::vector<std::shared_ptr<models::Model>> members;
  for (int seed = 0; seed < 3; ++seed) {
    auto net = std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
    torch::NoGradGuard no_grad;
    torch::manual_seed(100 + seed);
    const auto from = base->parameters();
    const auto to = net->parameters();
    for (std::size_t i = 0; i < to.size(); ++i) {
      to[i].copy_(from[i] + (seed == 0 ? 0.0 : 0.3) * from[i].std() * torch::randn_like(from[i]));
    }
    net->eval();
    members.push_back(std::make_shared<models::ClassifierModel>(net));
  }
  defenses::EnsembleModel vote(members, models::Combine::kVote);
  REQUIRE_FALSE(vote.predicts_by_argmax());
  const datasets::Dataset data = test::clean_correct(vote, test::fmnist_test(40));
  REQUIRE(data.size() > 25);
  const auto robust = [&](const at::Tensor& adversarial) {
    torch::NoGradGuard no_grad;
    return vote.predict(adversarial).eq(data.labels).to(at::kDouble).mean().item<double>();
  };
  const auto pgd = [&](bool early_stop) {
    return attacks::pgd(vote, data.images, data.labels,
                        attacks::PGDOptions(0.03).steps(20).step_size(0.0075).early_stop(early_stop)
                            .seed(1));
  };
  const auto stopped = pgd(true), full = pgd(false);
  const double with_stop = robust(stopped.adversarial), without = robust(full.adversarial);
  INFO("robust with early stop " << with_stop << ", without " << without);
  CHECK(with_stop <= without);
  CHECK(without < 0.95);  // the attack does something
  // The attack's own verdict is the vote's.
  torch::NoGradGuard no_grad;
  CHECK(at::equal(stopped.success, vote.predict(stopped.adversarial).ne(data.labels)));
  // Unbounded CW, judged by the vote, fools (almost) every point.
  const auto cw = attacks::cw(
      vote, data.images, data.labels,
      attacks::CWOptions().steps(40).binary_search_steps(6).initial_const(0.1).lr(0.1));
  const double fooled = 1.0 - robust(cw.adversarial);
  INFO("CW fooled " << fooled);
  CHECK(fooled >= 0.99);
  CHECK(at::equal(cw.success, vote.predict(cw.adversarial).ne(data.labels)));
}
