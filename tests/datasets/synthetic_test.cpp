#include "datasets/synthetic.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/error.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::MessageContains;

TEST_CASE("make_synthetic is deterministic for a seed and well formed", "[synthetic]") {
  const auto options =
      SyntheticOptions().num_samples(203).channels(3).height(9).width(11).num_classes(7).seed(42);
  const Dataset a = make_synthetic(options);
  const Dataset b = make_synthetic(options);
  REQUIRE(at::equal(a.images, b.images));
  REQUIRE(at::equal(a.labels, b.labels));

  REQUIRE(a.images.sizes() == at::IntArrayRef({203, 3, 9, 11}));
  REQUIRE(a.images.scalar_type() == at::kFloat);
  REQUIRE(a.images.is_contiguous());
  REQUIRE(a.labels.scalar_type() == at::kLong);
  REQUIRE(a.num_classes == 7);
  REQUIRE(a.images.min().item<float>() >= 0.0f);
  REQUIRE(a.images.max().item<float>() <= 1.0f);
  REQUIRE(a.labels.min().item<int64_t>() >= 0);
  REQUIRE(a.labels.max().item<int64_t>() < 7);
  // Balanced: 203 = 7 * 29.
  REQUIRE(at::equal(at::bincount(a.labels), at::full({7}, 29, at::kLong)));

  // The thread count does not matter (everything is drawn serially from our own generator).
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const Dataset single = make_synthetic(options);
  at::set_num_threads(threads);
  REQUIRE(at::equal(single.images, a.images));

  const Dataset other_seed = make_synthetic(SyntheticOptions(options).seed(43));
  REQUIRE_FALSE(at::equal(other_seed.images, a.images));
  const Dataset other_sample = make_synthetic(SyntheticOptions(options).sample_seed(1));
  REQUIRE_FALSE(at::equal(other_sample.images, a.images));
  REQUIRE_FALSE(at::equal(other_sample.labels, a.labels));

  // Zero noise gives each class's prototype exactly: all points of a class are equal.
  const Dataset clean = make_synthetic(SyntheticOptions(options).noise(0.0));
  const at::Tensor cls0 = clean.images.index({clean.labels == 0});
  REQUIRE(at::equal(cls0, cls0[0].unsqueeze(0).expand_as(cls0)));
}

TEST_CASE("make_synthetic data is learnable by a linear classifier", "[synthetic]") {
  const auto options = SyntheticOptions().num_samples(2000).seed(3);  // 1x28x28, 10 classes
  const Dataset train = make_synthetic(options);
  const Dataset test = make_synthetic(SyntheticOptions(options).num_samples(1000).sample_seed(1));
  const int64_t d = 28 * 28, k = 10;
  const at::Tensor x = train.images.reshape({-1, d}) - 0.5;
  const at::Tensor y = at::one_hot(train.labels, k).to(at::kFloat);
  at::Tensor w = at::zeros({d, k});
  at::Tensor bias = at::zeros({k});
  for (int step = 0; step < 60; ++step) {  // full-batch softmax regression, hand-written gradient
    const at::Tensor p = at::softmax(x.matmul(w) + bias, 1);
    const at::Tensor g = (p - y) / x.size(0);
    w -= 0.5 * x.t().matmul(g);
    bias -= 0.5 * g.sum(0);
  }
  const at::Tensor pred = ((test.images.reshape({-1, d}) - 0.5).matmul(w) + bias).argmax(1);
  const double accuracy = pred.eq(test.labels).to(at::kDouble).mean().item<double>();
  INFO("test accuracy " << accuracy);
  REQUIRE(accuracy > 0.9);
}

TEST_CASE("SyntheticOptions are validated", "[synthetic]") {
  REQUIRE_NOTHROW(validate(SyntheticOptions()));
  REQUIRE_THROWS_MATCHES(make_synthetic(SyntheticOptions().num_samples(0)), ConfigError,
                         MessageContains({"num_samples must be positive"}));
  REQUIRE_THROWS_MATCHES(make_synthetic(SyntheticOptions().num_classes(-1)), ConfigError,
                         MessageContains({"num_classes must be positive"}));
  REQUIRE_THROWS_MATCHES(make_synthetic(SyntheticOptions().noise(-0.1)), ConfigError,
                         MessageContains({"noise"}));
  REQUIRE_THROWS_MATCHES(make_synthetic(SyntheticOptions().noise(NAN)), ConfigError,
                         MessageContains({"noise"}));
  REQUIRE_THROWS_MATCHES(make_synthetic(SyntheticOptions().num_samples(int64_t{1} << 40)),
                         ConfigError, MessageContains({"2^32"}));
}
