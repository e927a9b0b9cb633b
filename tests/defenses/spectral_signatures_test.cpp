// Spectral signatures: equal to a plain SVD of the centred class matrix, and a planted shifted
// cluster scores highest.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include "defenses/poisoning/feature_extraction.h"
#include "defenses/poisoning/spectral_signatures.h"
#include "models/small_cnn.h"

using namespace rampart;

TEST_CASE("spectral scores equal the plain SVD reference to 1e-6 relative",
          "[defenses][poisoning][spectral]") {
  at::manual_seed(11);
  for (const auto& [n, d] : std::vector<std::pair<int64_t, int64_t>>{{50, 8}, {600, 128}, {40, 64}}) {
    INFO(n << " x " << d);
    const at::Tensor r = at::randn({n, d}, at::kFloat) * at::linspace(0.5, 3.0, d) + 2.0;
    // Reference: Tran et al.'s Algorithm 1 written plainly: the top right singular vector of
    // the centred matrix, score = ((r_i - mean) . v)^2.
    const at::Tensor centred = r.to(at::kDouble) - r.to(at::kDouble).mean(0, true);
    const auto [u, s, vh] = at::linalg_svd(centred, /*full_matrices=*/false);
    const at::Tensor reference = centred.mv(vh[0]).square();
    const auto sig = defenses::poisoning::spectral_signature(r);
    CHECK(((sig.scores - reference).abs() / reference.abs().max()).max().item<double>() < 1e-6);
    CHECK(sig.top_singular_value == Approx(s[0].item<double>()).epsilon(1e-9));
    CHECK(std::abs(sig.direction.dot(vh[0]).item<double>()) == Approx(1.0).epsilon(1e-9));
  }
}

TEST_CASE("a planted shifted cluster gets the highest spectral scores",
          "[defenses][poisoning][spectral]") {
  at::manual_seed(3);
  const at::Tensor clean = at::randn({500, 32}, at::kFloat);
  at::Tensor shift = at::zeros({32});
  shift[5] = 6.0;  // far enough (8.5 SDs) that the two groups do not overlap
  shift[9] = -6.0;
  const at::Tensor planted = at::randn({50, 32}, at::kFloat) + shift;
  const auto sig = defenses::poisoning::spectral_signature(at::cat({clean, planted}));
  const at::Tensor top = std::get<1>(sig.scores.topk(50));
  CHECK(top.ge(500).sum().item<int64_t>() == 50);
}

TEST_CASE("penultimate features in batches: the last layer maps them to the logits",
          "[defenses][poisoning][features]") {
  models::InputSpec input;
  input.shape = {1, 28, 28};
  models::SmallCNN net(input, 10);
  net.train();
  const at::Tensor x = at::rand({70, 1, 28, 28});
  const at::Tensor f = defenses::poisoning::extract_features(net, x, 16, c10::Device(c10::kCPU));
  REQUIRE(f.sizes() == at::IntArrayRef({70, 128}));
  CHECK(net.is_training());  // restored
  net.eval();
  at::NoGradGuard no_grad;
  CHECK(at::allclose(f, net.features(x), 1e-5, 1e-6));
  // fc2 (the last layer) applied to the features gives the logits.
  const auto params = net.named_parameters();
  const at::Tensor logits = at::linear(f, params["fc2.weight"], params["fc2.bias"]);
  CHECK(at::allclose(logits, net.forward(x), 1e-4, 1e-5));
}
