#include "attacks/pgd.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "attack_fixtures.h"
#include "attacks/cw.h"
#include "attacks/fgsm.h"

using namespace rampart;
using attacks::Norm;
using attacks::PGDOptions;

TEST_CASE("PGD-Linf without random init or early stop is exactly the textbook loop", "[pgd]") {
  auto net = test::random_cnn(5);
  net->eval();
  models::ClassifierModel model(net);
  torch::manual_seed(6);
  const at::Tensor x = torch::rand({16, 1, 28, 28});
  const at::Tensor y = torch::randint(0, 10, {16});
  const double eps = 0.03, alpha = 0.01;
  const auto r =
      attacks::pgd(model, x, y, PGDOptions(eps).steps(5).step_size(alpha).random_init(false));
  // The same 5 steps written out with plain libtorch calls.
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  at::Tensor xt = x.clone();
  for (int t = 0; t < 5; ++t) {
    at::Tensor leaf = xt.detach().requires_grad_(true);
    at::Tensor loss = torch::nn::functional::cross_entropy(
        net->forward(leaf), y,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    at::Tensor g = torch::autograd::grad({loss}, {leaf})[0];
    torch::NoGradGuard no_grad;
    xt = (x + (xt + alpha * g.sign() - x).clamp(-eps, eps)).clamp(0.0, 1.0);
  }
  for (auto& p : net->parameters()) p.set_requires_grad(true);
  CHECK((r.adversarial - xt).abs().max().item<double>() <= 1e-6);
  CHECK(r.forward_samples == 16 * 6);  // 5 gradient steps + the final verdict
  CHECK(r.backward_samples == 16 * 5);
  // Without the verdict (adversarial training's crafting): the same examples, one forward less.
  const auto options = PGDOptions(eps).steps(5).step_size(alpha).random_init(false);
  const auto unjudged = attacks::pgd(model, x, y, PGDOptions(options).verdict(false));
  CHECK(at::equal(r.adversarial, unjudged.adversarial));
  CHECK(unjudged.forward_samples == 16 * 5);
  CHECK(unjudged.backward_samples == 16 * 5);
  CHECK_FALSE(unjudged.success.any().item<bool>());
  CHECK_THROWS_WITH(attacks::pgd(model, x, y, PGDOptions(options).verdict(false).restarts(2)),
                    Catch::Contains("verdict false needs restarts 1 and no early stop"));
  CHECK_THROWS_WITH(attacks::pgd(model, x, y, PGDOptions(options).verdict(false).early_stop(true)),
                    Catch::Contains("verdict false needs restarts 1 and no early stop"));
}


// Issue 15, item 6: the library's default step was a fixed 2/255 whatever eps, so
// PGDOptions(0.3) could move at most 10 * 2/255 = 0.078 in 10 steps.
TEST_CASE("the default step is 2.5 * eps / steps, as in the harness", "[pgd]") {
  auto net = test::random_cnn(3);
  models::ClassifierModel model(net);
  const at::Tensor x = at::full({8, 1, 28, 28}, 0.5);
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto defaulted =
      attacks::pgd(model, x, y, PGDOptions(0.3).steps(10).random_init(false));
  const auto explicit_step = attacks::pgd(
      model, x, y, PGDOptions(0.3).steps(10).step_size(0.075).random_init(false));
  CHECK(at::equal(defaulted.adversarial, explicit_step.adversarial));
  CHECK(defaulted.linf.min().item<double>() == Approx(0.3).margin(1e-6));  // the whole ball
  CHECK_THROWS_WITH(attacks::pgd(model, x, y, PGDOptions(0.3).step_size(-1)),
                    Catch::Contains("step_size must be >= 0"));
}

TEST_CASE("without random init, batch size 1 and 64 give the same per-sample results", "[pgd]") {
  auto net = test::random_cnn(7);
  models::ClassifierModel model(net);
  torch::manual_seed(8);
  const at::Tensor x = torch::rand({64, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  // FGSM and CW (per-sample abort-early) are batch-invariant too.
  const std::vector<std::shared_ptr<attacks::Attack>> others{
      std::make_shared<attacks::FGSM>(attacks::FGSMOptions(0.05)),
      std::make_shared<attacks::CW>(
          attacks::CWOptions().steps(30).binary_search_steps(2).lr(0.05).abort_early(true))};
  for (const auto& attack : others) {
    const auto whole = attack->run(model, x, y);
    int64_t flag_mismatches = 0;
    for (int64_t i = 0; i < 64; ++i) {
      const auto one = attack->run(model, x.slice(0, i, i + 1), y.slice(0, i, i + 1));
      INFO(attack->id() << " sample " << i);
      REQUIRE((one.adversarial[0] - whole.adversarial[i]).abs().max().item<double>() <= 1e-4);
      flag_mismatches += one.success[0].item<bool>() != whole.success[i].item<bool>();
    }
    CHECK(flag_mismatches <= 1);  // a point exactly on a decision boundary may flip
    CHECK(whole.success.any().item<bool>());
  }
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    const auto options = PGDOptions(norm == Norm::kLinf ? 0.05 : 1.0)
                             .norm(norm)
                             .steps(5)
                             .step_size(norm == Norm::kLinf ? 0.02 : 0.4)
                             .random_init(false)
                             .early_stop(true);
    const auto whole = attacks::pgd(model, x, y, options);
    for (int64_t i = 0; i < 64; ++i) {
      const auto one = attacks::pgd(model, x.slice(0, i, i + 1), y.slice(0, i, i + 1), options);
      INFO("sample " << i);
      REQUIRE((one.adversarial[0] - whole.adversarial[i]).abs().max().item<double>() <= 1e-5);
      REQUIRE(one.success[0].item<bool>() == whole.success[i].item<bool>());
      REQUIRE(one.forward_samples <= 6);
    }
  }
}

TEST_CASE("random starts are uniform in the ball and reproducible under a seed", "[pgd]") {
  auto net = test::random_cnn(9);
  models::ClassifierModel model(net);
  const at::Tensor x = at::full({200, 1, 28, 28}, 0.5);
  const at::Tensor y = torch::randint(0, 10, {200});
  // One step of tiny size: the result is (almost) the random start itself.
  auto l2 = PGDOptions(2.0).norm(Norm::kL2).steps(1).step_size(1e-9).seed(3);
  const auto a = attacks::pgd(model, x, y, l2);
  const auto b = attacks::pgd(model, x, y, l2);
  CHECK(at::equal(a.adversarial, b.adversarial));
  CHECK_FALSE(at::equal(a.adversarial, attacks::pgd(model, x, y, l2.seed(4)).adversarial));
  // Uniform in the d-ball: radius/eps = U^(1/d), so nearly all mass is near the sphere but the
  // points are inside it; with d = 784 the mean of (r/eps)^d is 1/2.
  const at::Tensor ratio = a.l2 / 2.0;
  CHECK(ratio.max().item<double>() <= 1.0 + 1e-5);
  CHECK(ratio.min().item<double>() < 1.0);
  CHECK(ratio.pow(784).mean().item<double>() == Approx(0.5).margin(0.1));
  const auto linf = attacks::pgd(model, x, y, PGDOptions(0.1).steps(1).step_size(1e-9));
  const at::Tensor deltas = (linf.adversarial - x).flatten();
  CHECK(deltas.abs().max().item<double>() <= 0.1 + 1e-6);
  CHECK(deltas.mean().item<double>() == Approx(0.0).margin(0.002));
  CHECK(deltas.abs().mean().item<double>() ==
        Approx(0.05).margin(0.002));  // uniform on [-eps, eps]
}

TEST_CASE("early-stop checkpoints every k steps give the per-sample results of every step",
          "[pgd]") {
  auto net = test::random_cnn(11);
  models::ClassifierModel model(net);
  torch::manual_seed(12);
  const at::Tensor x = torch::rand({48, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    INFO(attacks::to_string(norm));
    const auto base = PGDOptions(norm == Norm::kLinf ? 0.05 : 1.0)
                          .norm(norm)
                          .steps(10)
                          .step_size(norm == Norm::kLinf ? 0.01 : 0.2)
                          .early_stop(true)
                          .seed(3);
    const auto each = attacks::pgd(model, x, y, PGDOptions(base).early_stop_every(1));
    const auto third = attacks::pgd(model, x, y, PGDOptions(base).early_stop_every(3));
    CHECK((each.adversarial - third.adversarial).abs().max().item<double>() <= 1e-4);
    CHECK(at::equal(each.success, third.success));
    CHECK(each.success.any().item<bool>());
    // Frozen samples ride along until the next checkpoint: more work, never less.
    CHECK(third.forward_samples >= each.forward_samples);
    CHECK(third.forward_samples <= 48 * 11);
  }
  CHECK_THROWS_WITH(attacks::pgd(model, x, y, PGDOptions(0.1).early_stop_every(-1)),
                    Catch::Contains("early_stop_every must be >= 0"));
}

TEST_CASE("pgd_cuda: CUDA-graph replay gives the eager GPU results and the CPU's", "[pgd][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN(
        "skipped: no CUDA device in this build or machine (the CUDA-graph path runs on a GPU "
        "host)");
    return;
  }
  auto net = test::random_cnn(17);
  models::ClassifierModel cpu_model(net);
  torch::manual_seed(18);
  const at::Tensor x = torch::rand({64, 1, 28, 28});
  const at::Tensor y = test::predicted_labels(*net, x);
  const auto base = PGDOptions(0.05).steps(12).step_size(0.01).early_stop(true).seed(5);
  const auto on_cpu = attacks::pgd(cpu_model, x, y, base);
  net->to(torch::kCUDA);
  models::ClassifierModel gpu_model(net);
  const auto eager =
      attacks::pgd(gpu_model, x.cuda(), y.cuda(), PGDOptions(base).cuda_graphs(false));
  const auto graph = attacks::pgd(gpu_model, x.cuda(), y.cuda(), base);
  // Tolerance: the same kernels replayed; sign steps flip only where a gradient is ~0.
  CHECK((graph.adversarial.cpu() - eager.adversarial.cpu()).abs().max().item<double>() <= 1e-4);
  CHECK(at::equal(graph.success.cpu(), eager.success.cpu()));
  // Against the CPU: cuDNN and the CPU differ in the last bits, so compare verdicts.
  CHECK(graph.success.cpu().eq(on_cpu.success).to(torch::kFloat).mean().item<double>() >= 0.95);
  CHECK(graph.linf.max().item<double>() <= 0.05 + 1e-6);
  net->to(torch::kCPU);
}
