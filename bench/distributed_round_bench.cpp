// One training round's communication on c10d Gloo, N ranks forked on this machine: a plain
// allreduce of d floats (what unprotected data-parallel training does) against Rampart's robust
// round (gather to rank 0, checks, trimmed mean, broadcast), with and without authentication.
// Ratios from one run; every rank uses one thread.
//   build/bench/bench_distributed_round [ranks=12] [d=1200000] [rounds=10] [batch=0]
// With batch > 0 each timed round also contains what a training round does before it
// communicates: the small CNN's forward and backward on `batch` Fashion-MNIST-sized images, whose
// flattened gradient (d = 421,642) is the update. Then the ratios are those of whole training
// rounds (`train:` in the issue: one round = one step of every worker).
// Not Google Benchmark: a round needs every rank, so the program forks them itself and rank 0
// prints the medians.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/heap_tuning.h"
#include "core/remove_tree.h"
#include "defenses/aggregation/aggregator.h"
#include "distributed/message_auth.h"
#include "distributed/process_group.h"
#include "distributed/update_exchange.h"
#include "models/small_cnn.h"

namespace {

using namespace rampart;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One local step of the small CNN on `batch` random images: the flattened parameter gradient.
int64_t net_size(models::SmallCNN& net) {
  int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  return n;
}

at::Tensor local_step(models::SmallCNN& net, int64_t batch) {
  const at::Tensor x = at::rand({batch, 1, 28, 28});
  const at::Tensor y = at::randint(10, {batch}, at::kLong);
  net.zero_grad();
  at::cross_entropy_loss(net.forward(x), y).backward();
  std::vector<at::Tensor> grads;
  for (const auto& p : net.parameters()) grads.push_back(p.grad().reshape({-1}));
  return at::cat(grads);
}

void run_rank(int64_t rank, int64_t ranks, int64_t d, int64_t rounds, int64_t batch,
              const std::string& store) {
  at::set_num_threads(1);
  distributed::GroupSpec spec;
  spec.rank = rank;
  spec.world_size = ranks;
  spec.file_store = store;
  distributed::GlooGroup group(spec);
  distributed::KeyRing keys;
  for (int64_t r = 0; r < ranks; ++r) {
    distributed::Key key{};
    key.fill(static_cast<uint8_t>(r + 1));
    keys.keys[r] = key;
  }
  defenses::aggregation::AggregatorSpec rule;
  rule.name = "trimmed_mean";
  rule.f = std::max<int64_t>(1, ranks / 6);
  defenses::aggregation::RobustAggregator aggregator(rule);
  distributed::UpdateExchange signed_exchange(group, "bench", &keys, 0);
  distributed::UpdateExchange plain_exchange(group, "bench", nullptr, 0);
  at::manual_seed(rank);
  models::SmallCNN net(models::InputSpec{}, 10);
  const at::Tensor random_update = at::randn({d});
  // The update of one round: the fixed random vector, or a fresh training step's gradient.
  auto update_of_round = [&] { return batch > 0 ? local_step(net, batch) : random_update; };
  std::vector<double> allreduce, robust_plain, robust_signed;
  for (int64_t i = 0; i < rounds + 1; ++i) {  // the first round of each warms up
    group.barrier();
    auto t0 = Clock::now();
    at::Tensor sum = update_of_round().clone();
    group.allreduce_sum(sum);
    auto t1 = Clock::now();
    group.barrier();
    auto t2 = Clock::now();
    plain_exchange.round(update_of_round(), 2 * i + 1, rank == 0 ? &aggregator : nullptr);
    auto t3 = Clock::now();
    group.barrier();
    auto t4 = Clock::now();
    signed_exchange.round(update_of_round(), 2 * i + 2, rank == 0 ? &aggregator : nullptr);
    auto t5 = Clock::now();
    if (i == 0) continue;
    allreduce.push_back(std::chrono::duration<double>(t1 - t0).count());
    robust_plain.push_back(std::chrono::duration<double>(t3 - t2).count());
    robust_signed.push_back(std::chrono::duration<double>(t5 - t4).count());
  }
  if (rank == 0) {
    const double a = median(allreduce), p = median(robust_plain), s = median(robust_signed);
    std::printf("ranks %lld, d %lld, %lld rounds, %s, rank 0's medians:\n",
                static_cast<long long>(ranks), static_cast<long long>(batch > 0 ? net_size(net) : d),
                static_cast<long long>(rounds),
                batch > 0 ? ("a small-CNN step on " + std::to_string(batch) + " images in each round").c_str()
                          : "communication only");
    std::printf("  plain round, allreduce (sum)        %8.1f ms\n", 1e3 * a);
    std::printf("  robust round, trimmed mean, no auth %8.1f ms  (%.2fx allreduce)\n", 1e3 * p, p / a);
    std::printf("  robust round, trimmed mean, HMAC    %8.1f ms  (%.2fx allreduce; auth %.1f%% of the round)\n",
                1e3 * s, s / a, 100.0 * (s - p) / s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  rampart::core::tune_heap_for_tensors();  // as `rampart` runs; the forked ranks inherit it
  const int64_t ranks = argc > 1 ? std::atoll(argv[1]) : 12;
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 1200000;
  const int64_t rounds = argc > 3 ? std::atoll(argv[3]) : 10;
  const int64_t batch = argc > 4 ? std::atoll(argv[4]) : 0;
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("rampart-round-bench-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  std::vector<pid_t> children;
  for (int64_t rank = 0; rank < ranks; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      run_rank(rank, ranks, d, rounds, batch, dir + "/store");
      std::fflush(stdout);
      _exit(0);
    }
    children.push_back(pid);
  }
  int failed = 0;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  rampart::core::remove_tree(dir);
  return failed == 0 ? 0 : 1;
}
