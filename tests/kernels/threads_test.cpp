// The CPU twins split their loops over threads (at::parallel_for, compiled with OpenMP since
// 2026-12-05): every kernel must give the same bits on one thread and on two, since each
// thread owns whole points (or whole coordinate blocks) and draws its noise from the point's
// own Philox stream. Shapes are chosen so that every loop is longer than its grain and does
// split. The pairwise distances add per-chunk float64 partial sums: the same on every run.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <functional>

#include "kernels/apgd_step.h"
#include "kernels/coordinate_stats.h"
#include "kernels/cw_step.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"
#include "kernels/pairwise_distances.h"
#include "kernels/random_start.h"
#include "kernels/square_step.h"
#include "kernels/success_mask.h"

using namespace rampart;

namespace {

// Runs make() under `threads` intra-op threads and restores the count.
at::Tensor on_threads(int threads, const std::function<at::Tensor()>& make) {
  const int before = at::get_num_threads();
  at::set_num_threads(threads);
  at::Tensor out = make();
  at::set_num_threads(before);
  return out;
}

void check_same_bits_on_one_and_two_threads(const std::function<at::Tensor()>& make) {
  const at::Tensor one = on_threads(1, make);
  const at::Tensor two = on_threads(2, make);
  REQUIRE(one.sizes() == two.sizes());
  CHECK(one.equal(two));
}

struct Inputs {
  at::Tensor x, x_adv, grad;
};

Inputs inputs(int64_t n, int64_t d, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Inputs in;
  in.x = at::rand({n, d}, gen, at::kFloat);
  in.x_adv = (in.x + (at::rand({n, d}, gen, at::kFloat) - 0.5) * 0.1).clamp(0, 1);
  in.grad = at::randn({n, d}, gen, at::kFloat);
  return in;
}

}  // namespace

TEST_CASE("the fused steps give the same bits on one thread and on two", "[kernels][threads]") {
  const Inputs in = inputs(256, 784, 1);  // grains: 32,768 elements, 20 rows
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor x_adv = in.x_adv.clone();
    kernels::linf_step_(x_adv, in.x, in.grad, 0.01, 0.03, 0.0, 1.0);
    return x_adv;
  });
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor x_adv = in.x_adv.clone();
    kernels::l2_step_(x_adv, in.x, in.grad, 0.1, 0.5, 0.0, 1.0);
    return x_adv;
  });
  for (const bool l2 : {false, true}) {
    check_same_bits_on_one_and_two_threads([&] {
      at::Tensor x_adv = in.x_adv.clone(), x_prev = in.x.clone();
      const at::Tensor eta = at::full({256}, 0.02, at::kFloat);
      kernels::apgd_step_(x_adv, x_prev, in.x, in.grad, eta, 0.75, l2 ? 0.5 : 0.03, 0.0, 1.0, l2);
      return at::cat({x_adv, x_prev});
    });
  }
}

TEST_CASE("the fused CW update gives the same bits on one thread and on two",
          "[kernels][threads][cw]") {
  const Inputs in = inputs(256, 784, 2);
  const at::Tensor hit = at::arange(256) % 3 == 0;
  const at::Tensor moving = at::arange(256) % 5 != 0;
  check_same_bits_on_one_and_two_threads([&] {
    kernels::CWState s{at::atanh(in.x_adv * 1.98 - 0.99), at::zeros_like(in.x),
                       at::zeros_like(in.x), in.x.clone(), at::full({256}, 1e9, at::kFloat)};
    for (int64_t t = 1; t <= 3; ++t) kernels::cw_step_(s, in.grad, in.x_adv, in.x, hit, moving, 0.01, t);
    return at::cat({s.w, s.m, s.v, s.best, s.best_l2.unsqueeze(1).expand({256, 784})});
  });
}

TEST_CASE("random starts and Square draw the same noise on one thread and on two",
          "[kernels][threads][square]") {
  const Inputs in = inputs(64, 3 * 16 * 16, 3);
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor out = at::empty_like(in.x);
    kernels::linf_random_start(out, in.x, 0.03, 0.0, 1.0, 11);
    return out;
  });
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor out = at::empty_like(in.x);
    kernels::l2_random_start(out, in.x, 0.5, 0.0, 1.0, 12);
    return out;
  });
  const at::Tensor images = in.x.view({64, 3, 16, 16});
  const at::Tensor ids = at::arange(500, 564);
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor best = at::empty_like(images), proposal = at::empty_like(images);
    kernels::square_linf_start(best, images, ids, 0.05, 0.0, 1.0, 7);
    kernels::square_linf_proposal(proposal, best, images, ids, 4, 3, 0.05, 0.0, 1.0, 7);
    return at::cat({best, proposal});
  });
}

TEST_CASE("the success mask and the coordinate statistics are the same on one thread and on two",
          "[kernels][threads]") {
  at::Generator gen = at::detail::createCPUGenerator(4);
  const at::Tensor logits = at::randn({5000, 10}, gen, at::kFloat);  // grain 1,024 rows
  const at::Tensor labels = at::randint(0, 10, {5000}, gen, at::kLong);
  check_same_bits_on_one_and_two_threads([&] {
    at::Tensor fooled = at::arange(5000) % 7 == 0;
    kernels::update_fooled_(fooled, logits, labels, false);
    return fooled;
  });
  const at::Tensor updates = at::randn({9, 5000}, gen, at::kFloat);  // 157 blocks, grain 64
  check_same_bits_on_one_and_two_threads([&] {
    return at::cat({kernels::sorted_range_mean(updates, 2, 7),
                    kernels::median_window_mean(updates, 5)});
  });
}

TEST_CASE("pairwise distances on two threads: the same on every run, and exact to 1e-6",
          "[kernels][threads]") {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor x = at::randn({12, 20000}, gen, at::kFloat);  // 79 blocks of 256, grain 16
  const at::Tensor first = on_threads(2, [&] { return kernels::pairwise_sq_distances(x); });
  for (int run = 0; run < 5; ++run) {
    CHECK(on_threads(2, [&] { return kernels::pairwise_sq_distances(x); }).equal(first));
  }
  const at::Tensor reference = kernels::pairwise_sq_distances_reference(x).to(first.dtype());
  CHECK(((first - reference).abs() / reference.abs().clamp_min(1.0)).max().item<double>() <= 1e-6);
}
