// The fused early-stop mask update against ATen's argmax/compare/or: exact, including ties
// (first maximum) and NaN logits; the CUDA twin (test named *_cuda) against the CPU twin.
#include "kernels/success_mask.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using namespace rampart;

namespace {

struct Batch {
  at::Tensor fooled, logits, labels;
};

// Random logits with planted ties and NaNs, labels that often are the argmax, and a fooled
// mask that is already partly set.
Batch make_batch(int64_t n, int64_t classes, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Batch b;
  b.logits = at::randn({n, classes}, gen, at::kFloat);
  b.logits.round_();  // integers: many ties
  if (n > 4 && classes > 2) {
    b.logits[0][1] = std::numeric_limits<float>::quiet_NaN();
    b.logits[1].fill_(std::numeric_limits<float>::quiet_NaN());
    b.logits[2].fill_(3.0f);  // an all-tie row: argmax is 0
  }
  const at::Tensor predicted = b.logits.argmax(1);
  b.labels = at::where(at::rand({n}, gen).lt(0.5), predicted,
                       at::randint(0, classes, {n}, gen, at::kLong));
  b.fooled = at::rand({n}, gen).lt(0.2);
  return b;
}

}  // namespace

TEST_CASE("update_fooled_ equals the ATen argmax sequence exactly, ties and NaN included",
          "[kernels]") {
  for (const auto& [n, classes] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 3}, {256, 10}, {33, 1000}}) {
    for (bool targeted : {false, true}) {
      INFO(n << " x " << classes << (targeted ? " targeted" : ""));
      const Batch b = make_batch(n, classes, static_cast<uint64_t>(n + classes));
      at::Tensor fused = b.fooled.clone();
      kernels::update_fooled_(fused, b.logits, b.labels, targeted);
      CHECK(at::equal(fused,
                      kernels::update_fooled_reference(b.fooled, b.logits, b.labels, targeted)));
      CHECK(fused.logical_or(b.fooled).equal(fused));  // a fooled sample stays fooled
    }
  }
  // Exact small case: rows [1, 3, 3] (argmax 1), [NaN, 5, 0] (0), [2, 2, 2] (0).
  const at::Tensor logits = at::tensor({1.f, 3.f, 3.f, NAN, 5.f, 0.f, 2.f, 2.f, 2.f}).view({3, 3});
  const at::Tensor labels = at::tensor(std::vector<int64_t>{1, 1, 0});
  at::Tensor fooled = at::zeros({3}, at::kBool);
  kernels::update_fooled_(fooled, logits, labels, false);
  CHECK(at::equal(fooled, at::tensor(std::vector<int64_t>{0, 1, 0}).to(at::kBool)));
  // Other dtypes take the reference; mismatched shapes are refused.
  at::Tensor as_double = at::zeros({3}, at::kBool);
  kernels::update_fooled_(as_double, logits.to(at::kDouble), labels, false);
  CHECK(at::equal(as_double, fooled));
  at::Tensor wrong = at::zeros({2}, at::kBool);
  CHECK_THROWS_WITH(kernels::update_fooled_(wrong, logits, labels, false),
                    Catch::Contains("fooled and labels must be [N]"));
}

TEST_CASE("success_mask_cuda: the CUDA twin agrees with the CPU twin", "[kernels][cuda]") {
  if (!at::hasCUDA()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twin runs on a GPU host)");
    return;
  }
  for (bool targeted : {false, true}) {
    const Batch b = make_batch(300, 10, 9);
    at::Tensor cpu = b.fooled.clone();
    at::Tensor gpu = b.fooled.cuda();
    kernels::update_fooled_(cpu, b.logits, b.labels, targeted);
    // Non-contiguous logits: a transposed copy viewed back.
    const at::Tensor logits = b.logits.t().contiguous().cuda().t();
    kernels::update_fooled_(gpu, logits, b.labels.cuda(), targeted);
    CHECK(at::equal(gpu.cpu(), cpu));  // tolerance: exact (comparisons only)
  }
}
