#include "models/checkpoint.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/remove_tree.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"
#include "support/intake_options.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

// Gives every BatchNorm running statistic a non-default value, so the round trip covers buffers.
void randomize_buffers(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& b : m.buffers()) {
    if (b.is_floating_point())
      b.uniform_(0.5, 1.5);
    else
      b.fill_(17);
  }
}

void require_identical(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto ta = models::state_tensors(a);
  auto tb = models::state_tensors(b);
  REQUIRE(ta.size() == tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    INFO(ta[i].first);
    REQUIRE(ta[i].first == tb[i].first);
    REQUIRE(ta[i].second.scalar_type() == tb[i].second.scalar_type());
    REQUIRE(torch::equal(ta[i].second, tb[i].second));
  }
}

}  // namespace

TEST_CASE("built-in models round-trip through safetensors bit-exactly", "[checkpoint]") {
  const std::string dir = test::make_temp_dir("ckpt");
  torch::manual_seed(1);
  models::PreActResNet18 saved(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  randomize_buffers(saved);
  models::save_checkpoint(dir + "/r.safetensors", saved, {}, {{"note", "x"}});
  torch::manual_seed(2);
  models::PreActResNet18 loaded(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  auto file = models::read_checkpoint(dir + "/r.safetensors", test::unpinned());
  CHECK(file.metadata.at("arch") == "preact_resnet18");
  CHECK(file.metadata.at("note") == "x");
  models::load_weights(loaded, file, dir + "/r.safetensors");
  require_identical(saved, loaded);
  saved.eval();
  loaded.eval();
  const at::Tensor x = torch::rand({4, 3, 32, 32});
  CHECK(torch::equal(saved.forward(x), loaded.forward(x)));

  models::SmallCNN cnn(models::InputSpec{}, 10);
  models::save_checkpoint(dir + "/c.safetensors", cnn);
  models::SmallCNN cnn2(models::InputSpec{}, 10);
  models::load_weights(cnn2, models::read_checkpoint(dir + "/c.safetensors", test::unpinned()),
                       "c");
  require_identical(cnn, cnn2);
  rampart::core::remove_tree(dir);
}

TEST_CASE("a checkpoint that does not fit the model is rejected by name", "[checkpoint]") {
  const std::string dir = test::make_temp_dir("ckpt-bad");
  models::SmallCNN ten(models::InputSpec{}, 10);
  models::save_checkpoint(dir + "/ten.safetensors", ten);
  auto file = models::read_checkpoint(dir + "/ten.safetensors", test::unpinned());

  models::SmallCNN five(models::InputSpec{}, 5);
  CHECK_THROWS_WITH(models::load_weights(five, file, "ten.safetensors"),
                    Catch::Contains("checkpoint has 10 classes but the config says 5"));
  models::PreActResNet18 resnet(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  CHECK_THROWS_WITH(models::load_weights(resnet, file, "ten.safetensors"),
                    Catch::Contains("is for architecture 'small_cnn'"));

  // Same arch metadata but a missing tensor / a wrong shape.
  auto tensors = models::state_tensors(ten);
  std::map<std::string, std::string> meta{{"arch", "small_cnn"}, {"num_classes", "10"}};
  auto missing = tensors;
  missing.pop_back();
  models::save_safetensors(dir + "/missing.safetensors", missing, meta);
  CHECK_THROWS_WITH(
      models::load_weights(
          ten, models::read_checkpoint(dir + "/missing.safetensors", test::unpinned()), "m"),
      Catch::Contains("is missing"));
  auto reshaped = tensors;
  reshaped[0].second = torch::zeros({32, 1, 5, 5});
  models::save_safetensors(dir + "/shape.safetensors", reshaped, meta);
  CHECK_THROWS_WITH(
      models::load_weights(
          ten, models::read_checkpoint(dir + "/shape.safetensors", test::unpinned()), "s"),
      Catch::Contains("has shape [32, 1, 5, 5] but the model needs [32, 1, 3, 3]"));
  auto extra = tensors;
  extra.emplace_back("stray.weight", torch::zeros({1}));
  models::save_safetensors(dir + "/extra.safetensors", extra, meta);
  CHECK_THROWS_WITH(
      models::load_weights(
          ten, models::read_checkpoint(dir + "/extra.safetensors", test::unpinned()), "e"),
      Catch::Contains("unexpected tensor 'stray.weight'"));

  // Intake: size limit, pin, and a file that is not safetensors at all.
  security::IntakeOptions small;
  small.policy.max_model_bytes = 1000;
  CHECK_THROWS_AS(models::read_checkpoint(dir + "/ten.safetensors", small), ModelRejected);
  security::IntakeOptions pinned;
  pinned.sha256 = std::string(64, '0');
  CHECK_THROWS_WITH(models::read_checkpoint(dir + "/ten.safetensors", pinned),
                    Catch::Contains("but the pin is"));
  test::write_bytes(dir + "/junk.safetensors", "this is not a checkpoint");
  CHECK_THROWS_AS(models::read_checkpoint(dir + "/junk.safetensors", test::unpinned()),
                  ModelRejected);
  CHECK_THROWS_AS(models::read_checkpoint(dir + "/absent.safetensors", test::unpinned()),
                  DataError);
  rampart::core::remove_tree(dir);
}
