// Random starts drawn inside the kernels: the Philox stream is the standard one, the Linf start
// is exactly its documented transform, both starts are uniform in their balls and inside the
// box, and (tests named *_cuda, on a GPU host) the CUDA twin draws the same start as the CPU.
#include "kernels/random_start.h"

#include <ATen/ATen.h>
#include <ATen/core/PhiloxRNGEngine.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "kernels/noise.h"

using namespace rampart;

namespace {

// Word `i % 4` of Philox block `i / 4` of point `point`'s stream: element i's word, recomputed
// from scratch.
uint32_t word_of_element(uint64_t key, int64_t point, int64_t i) {
  at::Philox4_32 engine(kernels::noise::point_key(key, point), static_cast<uint64_t>(i / 4), 0);
  uint32_t word = 0;
  for (int64_t k = 0; k <= i % 4; ++k) word = engine();
  return word;
}

at::Tensor points(std::vector<int64_t> shape, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor x = at::rand(shape, gen, at::kFloat);
  x.flatten().slice(0, 0, 5).fill_(0.0);  // on the box faces: the clip must act
  x.flatten().slice(0, 5, 10).fill_(1.0);
  return x;
}

}  // namespace

TEST_CASE("the noise stream is the standard Philox4x32-10 (Random123 known answer)", "[kernels]") {
  // Random123's kat_vectors: philox4x32_10, counter 0, key 0. curand's Philox (the CUDA twin's
  // engine) is the same generator with the same counter and key layout.
  at::Philox4_32 engine(0, 0, 0);
  CHECK(engine() == 0x6627e8d5u);
  CHECK(engine() == 0xe169c58du);
  CHECK(engine() == 0xbc57ac4cu);
  CHECK(engine() == 0x9b00dbd8u);
  CHECK(kernels::noise::uniform(0u) == 0.0f);
  CHECK(kernels::noise::uniform(0xffffffffu) == 1.0f - 5.9604644775390625e-8f);  // below 1
}

TEST_CASE("linf_random_start is exactly clamp(x + eps * (2u - 1)) of each point's Philox words",
          "[kernels]") {
  const uint64_t seed = 0x5eedull;
  const at::Tensor x = points({5, 3, 7, 7}, 1);  // 147 elements per point: a partial block
  const at::Tensor ids = at::tensor(std::vector<int64_t>{7, 0, 1000003, 2, 41});
  at::Tensor out = at::empty_like(x);
  kernels::linf_random_start(out, x, 0.1, 0.0, 1.0, seed, ids);
  const float* xs = x.data_ptr<float>();
  const float* os = out.data_ptr<float>();
  const int64_t dim = 147;
  int64_t mismatches = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint32_t word = word_of_element(seed, ids[i / dim].item<int64_t>(), i % dim);
    const float delta = 0.1f * (2.0f * kernels::noise::uniform(word) - 1.0f);
    mismatches += os[i] != std::min(std::max(xs[i] + delta, 0.0f), 1.0f);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("a point's start depends on its id, not on its batch or position", "[kernels]") {
  // Eight identical points: whatever differs between their starts comes from the ids.
  const at::Tensor x = at::full({8, 1, 6, 6}, 0.5);
  const at::Tensor all_ids = at::arange(8, at::kLong);
  for (const bool linf : {true, false}) {
    INFO((linf ? "linf" : "l2"));
    const auto draw = [&](const at::Tensor& xs, const at::Tensor& ids) {
      at::Tensor out = at::empty_like(xs);
      linf ? kernels::linf_random_start(out, xs, 0.1, 0, 1, 99, ids)
           : kernels::l2_random_start(out, xs, 0.5, 0, 1, 99, ids);
      return out;
    };
    const at::Tensor whole = draw(x, all_ids);
    // Batches of four, and a cascade-like subset in another order, give every point its start.
    const at::Tensor halves = at::cat({draw(x.slice(0, 0, 4), all_ids.slice(0, 0, 4)),
                                       draw(x.slice(0, 4, 8), all_ids.slice(0, 4, 8))});
    CHECK(at::equal(halves, whole));
    const at::Tensor subset = at::tensor(std::vector<int64_t>{6, 1, 4});
    CHECK(at::equal(draw(x.index_select(0, subset), subset), whole.index_select(0, subset)));
    // Different points draw different starts: no two of the eight share a single offset.
    const at::Tensor deltas = (whole - x).flatten(1);
    for (int64_t a = 0; a < 8; ++a) {
      for (int64_t b = a + 1; b < 8; ++b) {
        CHECK(deltas[a].eq(deltas[b]).sum().item<int64_t>() == 0);
      }
    }
    // Without ids a batch is numbered from 0: the second batch of four repeats the first.
    CHECK(at::equal(draw(x.slice(0, 4, 8), {}), draw(x.slice(0, 0, 4), {})));
  }
  at::Tensor out = at::empty_like(x);
  CHECK_THROWS_WITH(kernels::linf_random_start(out, x, 0.1, 0, 1, 1, at::arange(3)),
                    Catch::Contains("point_ids must be [N] with N = 8"));
}

TEST_CASE("linf_random_start is uniform on [-eps, eps], seeded, and inside the box", "[kernels]") {
  const at::Tensor x = at::full({200, 1, 28, 28}, 0.5);
  at::Tensor a = at::empty_like(x), b = at::empty_like(x), c = at::empty_like(x);
  kernels::linf_random_start(a, x, 0.1, 0.0, 1.0, 7);
  kernels::linf_random_start(b, x, 0.1, 0.0, 1.0, 7);
  kernels::linf_random_start(c, x, 0.1, 0.0, 1.0, 8);
  CHECK(at::equal(a, b));
  CHECK_FALSE(at::equal(a, c));
  const at::Tensor delta = (a - x).flatten();
  CHECK(delta.abs().max().item<double>() <= 0.1 + 1e-7);
  CHECK(delta.mean().item<double>() == Approx(0.0).margin(0.001));
  CHECK(delta.abs().mean().item<double>() == Approx(0.05).margin(0.001));
  // Ten equal bins of [-eps, eps] each hold a tenth of the 156,800 draws (binomial sd ~ 0.08%).
  const at::Tensor bins = ((delta + 0.1) / 0.02).floor().clamp(0, 9).to(at::kLong).bincount({}, 10);
  CHECK((bins.to(at::kDouble) / delta.numel() - 0.1).abs().max().item<double>() < 0.005);
  // Points on the faces stay in the box.
  const at::Tensor edge = points({4, 1, 28, 28}, 2);
  at::Tensor clipped = at::empty_like(edge);
  kernels::linf_random_start(clipped, edge, 0.3, 0.0, 1.0, 9);
  CHECK(clipped.min().item<float>() >= 0.0f);
  CHECK(clipped.max().item<float>() <= 1.0f);
}

TEST_CASE("l2_random_start is uniform in the ball with isotropic Gaussian directions",
          "[kernels]") {
  const int64_t d = 784;
  const at::Tensor x = at::full({400, 1, 28, 28}, 0.5);
  at::Tensor a = at::empty_like(x), b = at::empty_like(x);
  kernels::l2_random_start(a, x, 2.0, 0.0, 1.0, 3);
  kernels::l2_random_start(b, x, 2.0, 0.0, 1.0, 3);
  CHECK(at::equal(a, b));
  const at::Tensor delta = (a - x).flatten(1);
  const at::Tensor ratio = delta.norm(2, 1) / 2.0;
  CHECK(ratio.max().item<double>() <= 1.0 + 1e-5);
  // Uniform in the d-ball: (r/eps)^d is uniform on [0, 1]; mean 1/2, sd of the mean ~ 0.014.
  CHECK(ratio.pow(d).mean().item<double>() == Approx(0.5).margin(0.06));
  // Directions: unit vectors u have E[u_i] = 0 and E[u_i^2] = 1/d in every coordinate.
  const at::Tensor unit = delta / delta.norm(2, 1, true);
  CHECK(unit.mean(0).abs().max().item<double>() < 0.01);
  CHECK((unit.pow(2).mean() * d).item<double>() == Approx(1.0).epsilon(1e-4));
  CHECK((unit.pow(2).mean(0) * d).sub(1).abs().mean().item<double>() < 0.1);
  // The words' normals themselves: mean 0, variance 1, kurtosis 3 over 313,600 draws.
  at::Tensor raw = at::empty({400 * d});
  float* r = raw.data_ptr<float>();
  for (int64_t i = 0; i < raw.numel(); ++i) {
    at::Philox4_32 engine(11, static_cast<uint64_t>(i / 4), 0);
    const uint32_t block[4] = {engine(), engine(), engine(), engine()};
    r[i] = kernels::noise::normal_of_block(block, static_cast<int>(i % 4));
  }
  CHECK(raw.mean().item<double>() == Approx(0.0).margin(0.01));
  CHECK(raw.var().item<double>() == Approx(1.0).margin(0.01));
  CHECK((raw.pow(4).mean() / raw.var().pow(2)).item<double>() == Approx(3.0).margin(0.05));
}

TEST_CASE("random starts take other dtypes, non-contiguous outputs and reject bad arguments",
          "[kernels]") {
  const at::Tensor x = points({3, 2, 4, 4}, 4);
  at::Tensor reference = at::empty_like(x);
  kernels::l2_random_start(reference, x, 0.5, 0.0, 1.0, 21);
  at::Tensor as_double = at::empty(x.sizes(), x.options().dtype(at::kDouble));
  kernels::l2_random_start(as_double, x.to(at::kDouble), 0.5, 0.0, 1.0, 21);
  CHECK(at::equal(as_double.to(at::kFloat), reference));  // drawn in float32, then cast
  at::Tensor storage = at::empty({3, 2, 4, 4});
  at::Tensor view = storage.transpose(2, 3);
  REQUIRE_FALSE(view.is_contiguous());
  kernels::l2_random_start(view, x, 0.5, 0.0, 1.0, 21);  // noise follows the logical order
  CHECK(at::equal(view, reference));
  at::Tensor wrong = at::empty({2, 2, 4, 4});
  CHECK_THROWS_WITH(kernels::linf_random_start(wrong, x, 0.1, 0, 1, 1),
                    Catch::Contains("out must have the shape"));
  CHECK_THROWS_WITH(kernels::l2_random_start(reference, x, -1.0, 0, 1, 1),
                    Catch::Contains("eps must be >= 0"));
}

TEST_CASE("random_start_cuda: the CUDA twin draws the CPU twin's start", "[kernels][cuda]") {
  if (!at::hasCUDA()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twin runs on a GPU host)");
    return;
  }
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{1, 1, 1, 1}, {5, 3, 7, 7}, {256, 1, 28, 28}, {3, 3, 32, 32}}) {
    INFO(at::IntArrayRef(shape));
    const at::Tensor x = points(shape, 5);
    const at::Tensor ids = at::arange(x.size(0), at::kLong) * 3 + 5;
    at::Tensor cpu_linf = at::empty_like(x), cpu_l2 = at::empty_like(x);
    kernels::linf_random_start(cpu_linf, x, 0.1, 0, 1, 77, ids);
    kernels::l2_random_start(cpu_l2, x, 1.0, 0, 1, 77, ids);
    at::Tensor gpu_linf = at::empty_like(x).cuda(), gpu_l2 = at::empty_like(x).cuda();
    kernels::linf_random_start(gpu_linf, x.cuda(), 0.1, 0, 1, 77, ids.cuda());
    kernels::l2_random_start(gpu_l2, x.cuda(), 1.0, 0, 1, 77, ids);  // ids moved to the device
    CHECK(at::equal(gpu_linf.cpu(), cpu_linf));             // tolerance: exact (same words)
    CHECK(at::allclose(gpu_l2.cpu(), cpu_l2, 1e-5, 1e-6));  // tolerance: log/sin/cos ulps
  }
}
