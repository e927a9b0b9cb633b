// Ensembles: the output is exactly the configured combination of the members' outputs, the
// vote is a majority with a probability tie-break, and attacks see every member.
#include "defenses/ensemble.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

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
