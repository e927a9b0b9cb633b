// The fused attack updates against their ATen definitions: the CPU twin on several shapes,
// non-contiguous inputs, other dtypes and the edges of the box and the ball; the CUDA twin
// (tests named *_cuda) against the CPU twin when a GPU is present.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <limits>

#include "kernels/cw_step.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"

using namespace rampart;

namespace {

struct Case {
  at::Tensor x_adv, x, grad;
};

// x in the box, x_adv within (and partly beyond) eps of it, a gradient with exact zeros.
Case make_case(std::vector<int64_t> shape, uint64_t seed, double eps) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Case c;
  c.x = at::rand(shape, gen, at::kFloat);
  c.x.flatten().slice(0, 0, 3).fill_(0.0);  // points on the box boundary
  c.x.flatten().slice(0, 3, 6).fill_(1.0);
  c.x_adv = (c.x + (at::rand(shape, gen, at::kFloat) * 2 - 1) * eps * 1.3).clamp(0, 1);
  c.grad = at::randn(shape, gen, at::kFloat);
  c.grad.flatten().slice(0, 6, 9).zero_();  // sign(0) = 0: no move
  return c;
}

const std::vector<std::vector<int64_t>> kShapes{
    {1, 1, 1, 1}, {7, 3, 5, 5}, {256, 1, 28, 28}, {3, 3, 32, 32}};

}  // namespace

TEST_CASE("linf_step_ equals the ATen sequence exactly on float32", "[kernels]") {
  for (const auto& shape : kShapes) {
    INFO(at::IntArrayRef(shape));
    const Case c = make_case(shape, 1, 0.1);
    at::Tensor fused = c.x_adv.clone();
    kernels::linf_step_(fused, c.x, c.grad, 0.025, 0.1, 0.0, 1.0);
    const at::Tensor ref = kernels::linf_step_reference(c.x_adv, c.x, c.grad, 0.025, 0.1, 0, 1);
    CHECK(at::equal(fused, ref));
    // The constraints hold: inside the box and within eps of x.
    CHECK(fused.min().item<float>() >= 0.0f);
    CHECK(fused.max().item<float>() <= 1.0f);
    CHECK((fused - c.x).abs().max().item<float>() <= 0.1f + 1e-7f);
  }
}

TEST_CASE("linf_step_ handles non-contiguous tensors, other dtypes and exact edges", "[kernels]") {
  const Case c = make_case({4, 3, 8, 8}, 2, 0.05);
  // A transposed (non-contiguous) x_adv is updated in place through its view.
  at::Tensor storage = c.x_adv.transpose(2, 3).contiguous();
  at::Tensor view = storage.transpose(2, 3);
  REQUIRE_FALSE(view.is_contiguous());
  kernels::linf_step_(view, c.x, c.grad, 0.01, 0.05, 0.0, 1.0);
  CHECK(at::equal(view, kernels::linf_step_reference(c.x_adv, c.x, c.grad, 0.01, 0.05, 0, 1)));
  // float64 runs the reference.
  at::Tensor d = c.x_adv.to(at::kDouble);
  kernels::linf_step_(d, c.x.to(at::kDouble), c.grad.to(at::kDouble), 0.01, 0.05, 0, 1);
  CHECK(at::allclose(d.to(at::kFloat), view, 0, 1e-6));
  // Exact small case: a step past the ball is pulled back to eps, past the box to the box.
  at::Tensor adv = at::tensor({0.50f, 0.50f, 0.95f, 0.20f});
  const at::Tensor x = at::tensor({0.50f, 0.50f, 0.95f, 0.20f});
  const at::Tensor g = at::tensor({1.0f, -2.0f, 3.0f, 0.0f});
  kernels::linf_step_(adv, x, g, 0.3, 0.1, 0.0, 1.0);
  CHECK(at::allclose(adv, at::tensor({0.60f, 0.40f, 1.00f, 0.20f})));
  CHECK_THROWS_WITH(kernels::linf_step_(adv, x, g.view({2, 2}), 0.1, 0.1, 0, 1),
                    Catch::Contains("one shape"));
}

TEST_CASE("l2_step_ matches the ATen sequence and stays in the ball and the box", "[kernels]") {
  for (const auto& shape : kShapes) {
    INFO(at::IntArrayRef(shape));
    const Case c = make_case(shape, 3, 0.02);
    for (double eps : {0.05, 0.5, 5.0}) {  // projection active, and inactive for large eps
      INFO(eps);
      at::Tensor fused = c.x_adv.clone();
      kernels::l2_step_(fused, c.x, c.grad, 0.2, eps, 0.0, 1.0);
      const at::Tensor ref = kernels::l2_step_reference(c.x_adv, c.x, c.grad, 0.2, eps, 0, 1);
      CHECK(at::allclose(fused, ref, 1e-5, 1e-6));
      CHECK(fused.min().item<float>() >= 0.0f);
      CHECK(fused.max().item<float>() <= 1.0f);
      CHECK((fused - c.x).flatten(1).norm(2, 1).max().item<double>() <= eps * (1 + 1e-5));
    }
  }
  // A sample with an all-zero gradient does not move (norm clamped, no division by zero).
  at::Tensor adv = at::full({2, 1, 2, 2}, 0.5f);
  at::Tensor g = at::zeros({2, 1, 2, 2});
  g[1].fill_(1.0);
  kernels::l2_step_(adv, at::full({2, 1, 2, 2}, 0.5f), g, 0.2, 1.0, 0.0, 1.0);
  CHECK(at::equal(adv[0], at::full({1, 2, 2}, 0.5f)));
  CHECK(adv[1].sub(0.5).norm().item<double>() == Approx(0.2).epsilon(1e-6));  // step alpha
}

namespace {

kernels::CWState random_cw_state(const std::vector<int64_t>& shape, at::Generator& gen) {
  const int64_t n = shape[0];
  kernels::CWState s{at::randn(shape, gen, at::kFloat), at::randn(shape, gen, at::kFloat) * 0.1,
                     at::rand(shape, gen, at::kFloat) * 0.01, at::rand(shape, gen, at::kFloat),
                     at::rand({n}, gen, at::kFloat) * 3};
  s.best_l2[0] = std::numeric_limits<float>::infinity();  // no example yet
  return s;
}

kernels::CWState clone(const kernels::CWState& s) {
  return {s.w.clone(), s.m.clone(), s.v.clone(), s.best.clone(), s.best_l2.clone()};
}

}  // namespace

TEST_CASE("cw_step_ equals the ATen sequence: tracking and masked Adam", "[kernels]") {
  for (const auto& shape : kShapes) {
    INFO(at::IntArrayRef(shape));
    at::Generator gen = at::detail::createCPUGenerator(5);
    const kernels::CWState start = random_cw_state(shape, gen);
    const at::Tensor x = at::rand(shape, gen, at::kFloat);
    const at::Tensor x_adv = (x + at::randn(shape, gen, at::kFloat) * 0.05).clamp(0, 1);
    const at::Tensor grad = at::randn(shape, gen, at::kFloat);
    const int64_t n = shape[0];
    const at::Tensor hit = at::rand({n}, gen, at::kFloat).lt(0.6);
    at::Tensor moving = at::rand({n}, gen, at::kFloat).lt(0.7);
    moving[0] = true;
    hit[0] = true;
    for (int64_t t : {1, 7}) {
      INFO("t = " << t);
      kernels::CWState fused = clone(start), ref = clone(start);
      kernels::cw_step_(fused, grad, x_adv, x, hit, moving, 0.01, t);
      kernels::cw_step_reference(ref, grad, x_adv, x, hit, moving, 0.01, t);
      CHECK(at::allclose(fused.w, ref.w, 1e-6, 1e-7));
      CHECK(at::equal(fused.m, ref.m));
      CHECK(at::equal(fused.v, ref.v));
      CHECK(at::allclose(fused.best_l2, ref.best_l2, 1e-6, 0));
      CHECK(at::equal(fused.best, ref.best));
      // Samples not moving keep w, m, v; samples not hit keep their best.
      const at::Tensor still = moving.logical_not();
      CHECK(at::equal(fused.w.index({still}), start.w.index({still})));
      CHECK(at::equal(fused.m.index({still}), start.m.index({still})));
      const at::Tensor missed = hit.logical_not();
      CHECK(at::equal(fused.best_l2.index({missed}), start.best_l2.index({missed})));
      // The first sample had no example: it now has x_adv at its exact distance.
      CHECK(at::equal(fused.best[0], x_adv[0]));
      CHECK(fused.best_l2[0].item<float>() ==
            Approx((x_adv[0] - x[0]).norm().item<float>()).epsilon(1e-6));
    }
  }
}

TEST_CASE("step_kernels_cuda: the CUDA twins agree with the CPU twins", "[kernels][cuda]") {
  if (!at::hasCUDA()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twin runs on a GPU host)");
    return;
  }
  for (const auto& shape : kShapes) {
    INFO(at::IntArrayRef(shape));
    const Case c = make_case(shape, 4, 0.1);
    at::Tensor cpu_linf = c.x_adv.clone(), cpu_l2 = c.x_adv.clone();
    kernels::linf_step_(cpu_linf, c.x, c.grad, 0.02, 0.1, 0, 1);
    kernels::l2_step_(cpu_l2, c.x, c.grad, 0.2, 0.5, 0, 1);
    at::Tensor gpu_linf = c.x_adv.cuda(),
               gpu_l2 =
                   c.x_adv.cuda().transpose(2, 3).contiguous().transpose(2, 3);  // non-contiguous
    kernels::linf_step_(gpu_linf, c.x.cuda(), c.grad.cuda(), 0.02, 0.1, 0, 1);
    kernels::l2_step_(gpu_l2, c.x.cuda(), c.grad.cuda(), 0.2, 0.5, 0, 1);
    CHECK(at::equal(gpu_linf.cpu(), cpu_linf));             // tolerance: exact (same float ops)
    CHECK(at::allclose(gpu_l2.cpu(), cpu_l2, 1e-5, 1e-6));  // tolerance: reduction order

    at::Generator gen = at::detail::createCPUGenerator(6);
    const kernels::CWState start = random_cw_state(shape, gen);
    const at::Tensor hit = at::rand({shape[0]}, gen, at::kFloat).lt(0.6);
    const at::Tensor moving = at::rand({shape[0]}, gen, at::kFloat).lt(0.7);
    kernels::CWState on_cpu = clone(start);
    kernels::CWState on_gpu{start.w.cuda(), start.m.cuda(), start.v.cuda(), start.best.cuda(),
                            start.best_l2.cuda()};
    kernels::cw_step_(on_cpu, c.grad, c.x_adv, c.x, hit, moving, 0.01, 3);
    kernels::cw_step_(on_gpu, c.grad.cuda(), c.x_adv.cuda(), c.x.cuda(), hit.cuda(), moving.cuda(),
                      0.01, 3);
    CHECK(at::allclose(on_gpu.w.cpu(), on_cpu.w, 1e-5, 1e-6));  // tolerance: sqrt/div ulps
    CHECK(at::allclose(on_gpu.best_l2.cpu(), on_cpu.best_l2, 1e-5, 0));
    CHECK(at::equal(on_gpu.best.cpu(), on_cpu.best));
  }
}
