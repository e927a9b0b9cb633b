#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "kernels/apgd_step.h"
#include "kernels/square_step.h"

using namespace rampart;

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("the fused APGD step matches its ATen definition (Linf and L2)", "[apgd][kernels]") {
  at::manual_seed(1);
  const at::Tensor x = at::rand({6, 3, 5, 5});
  const at::Tensor x_adv = (x + 0.05 * at::randn_like(x)).clamp(0, 1);
  const at::Tensor x_prev = (x + 0.05 * at::randn_like(x)).clamp(0, 1);
  const at::Tensor grad = at::randn_like(x);
  const at::Tensor step = at::rand({6}) * 0.2;
  for (const bool l2 : {false, true}) {
    const double eps = l2 ? 0.5 : 0.06;
    at::Tensor fused = x_adv.clone(), fused_prev = x_prev.clone();
    at::Tensor ref = x_adv.clone(), ref_prev = x_prev.clone();
    kernels::apgd_step_(fused, fused_prev, x, grad, step, 0.75, eps, 0.0, 1.0, l2);
    kernels::apgd_step_reference(ref, ref_prev, x, grad, step, 0.75, eps, 0.0, 1.0, l2);
    INFO("l2 " << l2);
    CHECK(max_diff(fused, ref) <= 1e-6);
    CHECK(max_diff(fused_prev, x_adv) == 0.0);  // x_prev takes the old iterate
    // Inside the ball and the box.
    const at::Tensor delta = (fused - x).flatten(1);
    const at::Tensor size = l2 ? delta.norm(2, 1) : delta.abs().amax(1);
    CHECK(size.max().item<double>() <= eps + 1e-6);
    CHECK(fused.min().item<double>() >= 0.0);
    CHECK(fused.max().item<double>() <= 1.0);
  }
}

TEST_CASE("the APGD step with alpha 1 is a plain projected step", "[apgd][kernels]") {
  at::manual_seed(2);
  const at::Tensor x = 0.5 + 0.1 * at::rand({4, 10});
  at::Tensor x_adv = x.clone(), x_prev = (x - 0.3).clamp(0, 1);
  const at::Tensor grad = at::randn_like(x);
  kernels::apgd_step_(x_adv, x_prev, x, grad, at::full({4}, 0.02), 1.0, 0.1, 0.0, 1.0, false);
  CHECK(max_diff(x_adv, x + 0.02 * grad.sign()) <= 1e-7);  // the previous point plays no part
}

TEST_CASE("the fused APGD bookkeeping matches its ATen definition", "[apgd][kernels]") {
  at::manual_seed(3);
  const int64_t n = 8;
  const at::Tensor x_adv = at::rand({n, 2, 3, 3}), grad = at::randn({n, 2, 3, 3});
  const at::Tensor loss = at::randn({n}), fooled_now = at::rand({n}).lt(0.5);
  const auto state = [&] {
    at::manual_seed(4);
    return std::vector<at::Tensor>{at::rand({n, 2, 3, 3}), at::randn({n, 2, 3, 3}), at::randn({n}),
                                   at::rand({n, 2, 3, 3}),  at::rand({n}).lt(0.3),
                                   at::randn({n}),          at::randint(0, 5, {n}, at::kInt)};
  };
  auto f = state(), r = state();
  kernels::apgd_track_(f[0], f[1], f[2], f[3], f[4], f[5], f[6], x_adv, grad, loss, fooled_now);
  kernels::apgd_track_reference(r[0], r[1], r[2], r[3], r[4], r[5], r[6], x_adv, grad, loss,
                                fooled_now);
  for (std::size_t i = 0; i < f.size(); ++i) {
    INFO("state " << i);
    CHECK(f[i].equal(r[i]));
  }
  // Spot checks of the rules themselves.
  const auto before = state();
  const at::Tensor improved = loss.gt(before[2]);
  CHECK(f[2].equal(at::maximum(before[2], loss)));
  CHECK(f[6].equal(before[6] + loss.gt(before[5]).to(at::kInt)));
  CHECK(f[4].equal(before[4].logical_or(fooled_now)));
  CHECK(f[0].index({improved}).equal(x_adv.index({improved})));
}

TEST_CASE("Square's Linf proposal changes one window per point, to the ball's vertices",
          "[square][kernels]") {
  at::manual_seed(5);
  const at::Tensor x = 0.2 + 0.6 * at::rand({5, 3, 12, 12});
  const double eps = 0.05;
  const at::Tensor ids = at::arange(100, 105);
  at::Tensor best = at::empty_like(x);
  kernels::square_linf_start(best, x, ids, eps, 0.0, 1.0, 7);
  // The start: vertical stripes at the vertices, one sign per (channel, column).
  const at::Tensor start_delta = best - x;
  CHECK(max_diff(start_delta.abs(), at::full_like(x, eps)) <= 1e-6);
  CHECK(start_delta.sign().eq(start_delta.sign().select(2, 0).unsqueeze(2)).all().item<bool>());
  const int64_t side = 4;
  at::Tensor proposal = at::empty_like(x);
  kernels::square_linf_proposal(proposal, best, x, ids, side, 3, eps, 0.0, 1.0, 7);
  CHECK((proposal - x).abs().max().item<double>() <= eps + 1e-6);
  const at::Tensor changed = proposal.ne(best);
  for (int64_t i = 0; i < x.size(0); ++i) {
    // Changed pixels lie in one side x side window (a sign that equals the start's changes
    // nothing there, so fewer pixels may differ).
    const at::Tensor where = changed[i].any(0).nonzero();
    if (where.size(0) == 0) continue;
    const int64_t rows = where.select(1, 0).max().item<int64_t>() - where.select(1, 0).min().item<int64_t>() + 1;
    const int64_t cols = where.select(1, 1).max().item<int64_t>() - where.select(1, 1).min().item<int64_t>() + 1;
    CHECK(rows <= side);
    CHECK(cols <= side);
  }
  // A point draws the same window in any batch: proposals for points 102..104 alone.
  at::Tensor alone = at::empty_like(x.slice(0, 2));
  kernels::square_linf_proposal(alone, best.slice(0, 2), x.slice(0, 2), ids.slice(0, 2), side, 3,
                                eps, 0.0, 1.0, 7);
  CHECK(alone.equal(proposal.slice(0, 2)));
  // Different iterations draw different windows.
  at::Tensor other = at::empty_like(x);
  kernels::square_linf_proposal(other, best, x, ids, side, 4, eps, 0.0, 1.0, 7);
  CHECK_FALSE(other.equal(proposal));
}

TEST_CASE("apgd_square_cuda: the CUDA twins of the APGD step, bookkeeping and Square draws agree "
          "with the CPU twins",
          "[apgd][square][kernels][cuda]") {
  if (!at::hasCUDA()) {
    WARN("skipped: no CUDA device in this build or machine (the CUDA twin runs on a GPU host)");
    return;
  }
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{1, 1, 1, 1}, {7, 3, 5, 5}, {256, 1, 28, 28}, {33, 3, 32, 32}}) {
    INFO(at::IntArrayRef(shape));
    at::manual_seed(11);
    const int64_t n = shape[0];
    const at::Tensor x = at::rand(shape);
    const at::Tensor x_adv = (x + 0.05 * at::randn_like(x)).clamp(0, 1);
    const at::Tensor x_prev = (x + 0.05 * at::randn_like(x)).clamp(0, 1);
    const at::Tensor grad = at::randn_like(x);
    const at::Tensor step = at::rand({n}) * 0.2;
    for (const bool l2 : {false, true}) {
      INFO("l2 " << l2);
      const double eps = l2 ? 0.5 : 0.06;
      at::Tensor cpu = x_adv.clone(), cpu_prev = x_prev.clone();
      at::Tensor gpu = x_adv.cuda(), gpu_prev = x_prev.cuda();
      kernels::apgd_step_(cpu, cpu_prev, x, grad, step, 0.75, eps, 0.0, 1.0, l2);
      kernels::apgd_step_(gpu, gpu_prev, x.cuda(), grad.cuda(), step.cuda(), 0.75, eps, 0.0, 1.0,
                          l2);
      // tolerance: Linf is the same float ops; L2 adds the norms' reduction order
      CHECK(max_diff(gpu.cpu(), cpu) <= (l2 ? 1e-6 : 0.0));
      CHECK(gpu_prev.cpu().equal(cpu_prev));
    }

    // Bookkeeping: exact (comparisons and copies).
    const at::Tensor loss = at::randn({n}), fooled_now = at::rand({n}).lt(0.5);
    const std::vector<at::Tensor> start{at::rand(shape), at::randn(shape),  at::randn({n}),
                                        at::rand(shape), at::rand({n}).lt(0.3), at::randn({n}),
                                        at::randint(0, 5, {n}, at::kInt)};
    std::vector<at::Tensor> cpu_state, gpu_state;
    for (const at::Tensor& t : start) {
      cpu_state.push_back(t.clone());
      gpu_state.push_back(t.cuda());
    }
    auto& c = cpu_state;
    auto& g = gpu_state;
    kernels::apgd_track_(c[0], c[1], c[2], c[3], c[4], c[5], c[6], x_adv, grad, loss, fooled_now);
    kernels::apgd_track_(g[0], g[1], g[2], g[3], g[4], g[5], g[6], x_adv.cuda(), grad.cuda(),
                         loss.cuda(), fooled_now.cuda());
    for (std::size_t i = 0; i < c.size(); ++i) {
      INFO("state " << i);
      CHECK(g[i].cpu().equal(c[i]));
    }

    // Square's start and proposals: the same Philox words, so exactly the same images.
    const at::Tensor ids = at::arange(n, at::kLong) * 5 + 3;
    at::Tensor cpu_best = at::empty_like(x), gpu_best = at::empty_like(x).cuda();
    kernels::square_linf_start(cpu_best, x, ids, 0.05, 0.0, 1.0, 9);
    kernels::square_linf_start(gpu_best, x.cuda(), ids.cuda(), 0.05, 0.0, 1.0, 9);
    CHECK(gpu_best.cpu().equal(cpu_best));
    const int64_t side = std::max<int64_t>(1, shape[2] / 3);
    for (const int64_t iteration : {0, 1, 17}) {
      INFO("iteration " << iteration);
      at::Tensor cpu_proposal = at::empty_like(x), gpu_proposal = at::empty_like(x).cuda();
      kernels::square_linf_proposal(cpu_proposal, cpu_best, x, ids, side, iteration, 0.05, 0.0,
                                    1.0, 9);
      kernels::square_linf_proposal(gpu_proposal, cpu_best.cuda(), x.cuda(), ids.cuda(), side,
                                    iteration, 0.05, 0.0, 1.0, 9);
      CHECK(gpu_proposal.cpu().equal(cpu_proposal));
    }
  }
}
