// Defensive distillation: the objectives' exact values, and what training at T = 100 does to
// the deployed (T = 1) model: saturated softmax, vanishing cross-entropy input gradients.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/config_node.h"
#include "datasets/synthetic.h"
#include "defenses/defended_training.h"
#include "defenses/distillation.h"
#include "models/small_cnn.h"
#include "support/test_support.h"

using namespace rampart;

TEST_CASE("distillation objectives have their exact values", "[defenses]") {
  torch::manual_seed(1);
  auto net = std::make_shared<models::SmallCNN>(models::InputSpec{{1, 16, 16}, 0, 1}, 4);
  net->eval();
  const at::Tensor x = torch::rand({8, 1, 16, 16});
  const at::Tensor y = torch::randint(0, 4, {8});
  const at::Tensor logits = net->forward(x);
  namespace F = torch::nn::functional;
  CHECK(defenses::temperature_cross_entropy(*net, x, y, 1.0).loss.item<double>() ==
        Approx(F::cross_entropy(logits, y).item<double>()).epsilon(1e-6));
  CHECK(defenses::temperature_cross_entropy(*net, x, y, 20.0).loss.item<double>() ==
        Approx(F::cross_entropy(logits / 20.0, y).item<double>()).epsilon(1e-6));
  // A student equal to its teacher: the loss is the entropy of the soft labels.
  const at::Tensor p = (logits / 5.0).softmax(1);
  const double entropy = -(p * p.log()).sum(1).mean().item<double>();
  CHECK(defenses::distillation_loss(*net, *net, x, 5.0).loss.item<double>() ==
        Approx(entropy).epsilon(1e-5));
  CHECK_THROWS_WITH(defenses::temperature_cross_entropy(*net, x, y, 0.0),
                    Catch::Contains("temperature must be > 0"));
}

TEST_CASE("a student distilled at T = 100 saturates and masks cross-entropy gradients",
          "[defenses]") {
  auto job = [](const std::string& out, const std::string& defense) {
    return "seed: 3\ndevice: cpu\nthreads: 2\n"
           "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 16, 16]}}\n"
           "data: {format: synthetic, num_samples: 1024, seed: 1, sample_seed: 1, batch_size: 32}\n"
           "train: {epochs: 4, optimizer: {name: adam, lr: 0.003}, output: " +
           out + "}\n" + defense;
  };
  auto run = [&](const std::string& name, const std::string& defense) {
    const auto root = core::parse_config(job(test::make_temp_dir(name), defense), "t.yaml");
    const auto config = training::parse_train_config(root);
    return defenses::train_with_defense(config, defenses::parse_defense_spec(root, 0, 1), {})
        .model;
  };
  auto standard = run("distill_standard", "");
  auto student = run("distill_student", "defense: {method: distillation, temperature: 100}\n");
  const auto test_data = datasets::make_synthetic(
      datasets::SyntheticOptions().num_samples(256).height(16).width(16).num_classes(4).seed(1)
          .sample_seed(2));
  auto measure = [&](models::Classifier& net) {
    net.eval();
    const at::Tensor x = test_data.images.clone().requires_grad_(true);
    const at::Tensor logits = net.forward(x);
    const at::Tensor loss = torch::nn::functional::cross_entropy(
        logits, test_data.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    const at::Tensor grad = torch::autograd::grad({loss}, {x})[0];
    struct {
      double accuracy, confidence, zero_gradients;
    } m{logits.argmax(1).eq(test_data.labels).to(torch::kDouble).mean().item<double>(),
        logits.softmax(1).amax(1).mean().item<double>(),
        grad.flatten(1).abs().amax(1).eq(0).to(torch::kDouble).mean().item<double>()};
    return m;
  };
  const auto s = measure(*standard), d = measure(*student);
  INFO("standard: accuracy " << s.accuracy << ", confidence " << s.confidence
                             << ", zero-gradient points " << s.zero_gradients);
  INFO("distilled: accuracy " << d.accuracy << ", confidence " << d.confidence
                              << ", zero-gradient points " << d.zero_gradients);
  CHECK(d.accuracy >= 0.9);  // the student learned the task from soft labels alone
  CHECK(d.confidence > 0.9999);
  CHECK(d.zero_gradients > 0.5);  // float32 softmax at T = 1 underflows: no gradient at all
  CHECK(s.zero_gradients < 0.05);
}
