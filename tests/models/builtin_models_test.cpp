#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "core/config_node.h"
#include "core/error.h"
#include "models/mlp.h"
#include "models/model_spec.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

using namespace rampart;

namespace {

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace

TEST_CASE("small_cnn maps [N,1,28,28] to [N,classes] with the documented layer sizes", "[models]") {
  torch::manual_seed(0);
  models::SmallCNN net(models::InputSpec{}, 10);
  CHECK(net.forward(torch::rand({5, 1, 28, 28})).sizes() == at::IntArrayRef{5, 10});
  // conv1 1*32*9+32, conv2 32*64*9+64, fc1 3136*128+128, fc2 128*10+10
  CHECK(count_parameters(net) == 320 + 18496 + 401536 + 1290);
  models::SmallCNN seven(models::InputSpec{{3, 16, 16}, 0, 1}, 7);
  CHECK(seven.forward(torch::rand({2, 3, 16, 16})).sizes() == at::IntArrayRef{2, 7});
  CHECK_THROWS_AS(models::SmallCNN(models::InputSpec{{1, 30, 30}, 0, 1}, 10), ConfigError);
}

TEST_CASE("preact_resnet18 has the standard 11.17M parameters and named blocks", "[models]") {
  models::PreActResNet18 net(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  // 11,171,146 for the blocks, stem and linear layer plus 1,024 for the final BatchNorm of the
  // version used by adversarial-training papers (Wong et al. 2020).
  CHECK(count_parameters(net) == 11172170);
  net.eval();
  CHECK(net.forward(torch::rand({2, 3, 32, 32})).sizes() == at::IntArrayRef{2, 10});
  bool found = false;
  for (const auto& p : net.named_parameters())
    found = found || p.key() == "layer2.0.shortcut.0.weight";
  CHECK(found);
  models::PreActResNet18 hundred(models::InputSpec{{3, 32, 32}, 0, 1}, 100);
  CHECK(hundred.forward(torch::rand({1, 3, 32, 32})).size(1) == 100);
}

TEST_CASE("mlp flattens the input into one hidden ReLU layer of the configured width", "[models]") {
  torch::manual_seed(0);
  models::MLP net(models::InputSpec{}, 10, 32);
  // fc1 784*32+32, fc2 32*10+10: the 784-32-10 model of the Byzantine simulations
  CHECK(count_parameters(net) == 25450);
  const at::Tensor x = torch::rand({4, 1, 28, 28});
  CHECK(net.features(x).sizes() == at::IntArrayRef{4, 32});
  CHECK(net.features(x).min().item<float>() >= 0.0F);
  CHECK(net.forward(x).sizes() == at::IntArrayRef{4, 10});
  models::MLP colour(models::InputSpec{{3, 5, 7}, 0, 1}, 3, 8);
  CHECK(count_parameters(colour) == 105 * 8 + 8 + 8 * 3 + 3);

  auto root = core::parse_config(
      "narrow: {arch: mlp, hidden: 32}\n"
      "default: {arch: mlp}\n"
      "cnn: {arch: small_cnn, hidden: 32}\n"
      "zero: {arch: mlp, hidden: 0}\n",
      "mlp.yaml");
  const auto spec = models::parse_model_spec(root.child("narrow"), true);
  CHECK(spec.hidden == 32);
  CHECK(count_parameters(*models::make_classifier(spec)) == 25450);
  CHECK(models::make_classifier(spec)->arch() == "mlp");
  CHECK(models::parse_model_spec(root.child("default"), true).hidden == 128);
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("cnn"), true),
                    Catch::Contains("mlp.yaml:3:32: cnn.hidden: is the width of the 'mlp' "
                                    "architecture only"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("zero"), true),
                    Catch::Contains("zero.hidden"));
}

TEST_CASE("model specs are built from config and validated", "[models]") {
  auto root = core::parse_config(
      "model: {arch: preact_resnet18, num_classes: 5}\n"
      "bad: {arch: vgg}\n"
      "both: {arch: small_cnn, path: m.pt}\n"
      "pin: {path: m.pt, sha256: xyz}\n"
      "noarch: {path: m.pt}\n"
      "half_signed: {path: m.pt, signature: m.pt.sig}\n"
      "signed: {path: m.pt, signature: m.pt.sig, public_key: k.pem}\n"
      "script_and_weights: {path: m.pt, checkpoint: w.safetensors}\n",
      "m.yaml");
  auto spec = models::parse_model_spec(root.child("model"), true);
  CHECK(spec.input.shape == std::vector<int64_t>{3, 32, 32});
  CHECK(models::make_classifier(spec)->num_classes() == 5);
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("bad"), true),
                    Catch::Contains("m.yaml:2:13: bad.arch: unknown value 'vgg'"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("both"), false),
                    Catch::Contains("not both"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("pin"), false),
                    Catch::Contains("64 hexadecimal digits"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("noarch"), true),
                    Catch::Contains("missing required key 'arch'"));
  // A checkpoint beside a TorchScript path was ignored (the file's own weights were evaluated).
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("script_and_weights"), false),
                    Catch::Contains("script_and_weights.checkpoint: is for a built-in 'arch'"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("half_signed"), false),
                    Catch::Contains("m.yaml:6:38: half_signed.signature: an Ed25519 signature "
                                    "needs both 'signature' and 'public_key'"));
  const auto signed_spec = models::parse_model_spec(root.child("signed"), false);
  CHECK(signed_spec.intake.signature == "m.pt.sig");
  CHECK(signed_spec.intake.public_key == "k.pem");
}

// An input shape sizes the first layer: [1, 4e6, 4e6] asked for a 1e12-input layer (bad_alloc,
// exit 5), [2^32, 2^32, 1] overflowed the MLP's width.
TEST_CASE("an input shape too large for any layer is a located config error", "[models]") {
  const auto root = core::parse_config(
      "side: {arch: small_cnn, input: {shape: [1, 4000000, 4000000]}}\n"
      "total: {arch: mlp, input: {shape: [16384, 16384, 16384]}}\n"
      "ok: {arch: mlp, input: {shape: [3, 512, 512]}}\n",
      "s.yaml");
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("side"), true),
                    Catch::Contains("s.yaml:1:") && Catch::Contains("input.shape: each of C, H, W "
                                                                    "must be at most 16384"));
  CHECK_THROWS_WITH(models::parse_model_spec(root.child("total"), true),
                    Catch::Contains("s.yaml:2:") && Catch::Contains("C x H x W must be at most 2^28"));
  CHECK(models::parse_model_spec(root.child("ok"), true).input.shape == std::vector<int64_t>{3, 512, 512});
}

TEST_CASE("transform specs: gaussian_noise needs a positive sigma", "[models]") {
  auto root = core::parse_config(
      "ok: {name: gaussian_noise, sigma: 0.25}\n"
      "missing: {name: gaussian_noise}\n"
      "zero: {name: gaussian_noise, sigma: 0}\n"
      "extra: {name: gaussian_noise, sigma: 0.1, quality: 5}\n",
      "t.yaml");
  const auto ok = models::parse_transform_spec(root.child("ok"));
  CHECK(ok.sigma == 0.25);
  CHECK(ok.is_random());
  CHECK(models::describe(ok) == "gaussian_noise(sigma=0.25)");
  CHECK_THROWS_WITH(models::parse_transform_spec(root.child("missing")),
                    Catch::Contains("missing: missing required key 'sigma'"));
  CHECK_THROWS_WITH(models::parse_transform_spec(root.child("zero")),
                    Catch::Contains("zero.sigma: must be > 0"));
  CHECK_THROWS_WITH(models::parse_transform_spec(root.child("extra")),
                    Catch::Contains("quality"));
}
