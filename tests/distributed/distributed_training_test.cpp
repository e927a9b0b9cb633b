// `rampart train` with a distributed: section: real worker processes on c10d Gloo, launched by
// the CLI, with a simulated Byzantine rank; and the data shards.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "distributed/data_shards.h"
#include "models/safetensors.h"
#include "support/fixtures.h"
#include "support/test_support.h"

using namespace rampart;

extern char** environ;

namespace {

using rampart::test::kFmnist;

std::string config_text(const std::string& dir, const std::string& distributed) {
  return "seed: 3\ndevice: cpu\nthreads: 1\n"
         "model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
         "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " + kFmnist +
         "train-labels-idx1-ubyte.gz, limit: 1200, batch_size: 50}\n"
         "validation: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
         kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 500, batch_size: 500}\n"
         "train: {epochs: 1, optimizer: {name: sgd, lr: 0.05, momentum: 0.0}, "
         "schedule: {name: constant}, output: " + dir + "/out}\n"
         "distributed:\n" + distributed;
}

std::string write_config(const std::string& dir, const std::string& distributed) {
  const std::string path = dir + "/train.yaml";
  std::ofstream(path) << config_text(dir, distributed);
  return path;
}

}  // namespace

TEST_CASE("shards: equal sizes, disjoint, IID at heterogeneity 1 and label-sorted at 0",
          "[distributed][shards]") {
  const at::Tensor labels = at::arange(1000, at::kLong).remainder(10);
  for (double gamma : {0.0, 0.5, 1.0}) {
    INFO("heterogeneity " << gamma);
    const auto shards = distributed::shard_indices(labels, 4, gamma, 7);
    REQUIRE(shards.size() == 4);
    std::set<int64_t> seen;
    for (const auto& s : shards) {
      CHECK(s.size(0) == 250);
      for (int64_t i = 0; i < s.size(0); ++i) CHECK(seen.insert(s[i].item<int64_t>()).second);
    }
    const int64_t classes = std::get<0>(at::_unique(labels.index_select(0, shards[0]))).size(0);
    if (gamma == 1.0) CHECK(classes == 10);
    if (gamma == 0.0) CHECK(classes <= 3);  // 250 label-sorted points of 100 per class
  }
  CHECK(at::equal(distributed::shard_indices(labels, 4, 0.5, 7)[2],
                  distributed::shard_indices(labels, 4, 0.5, 7)[2]));
}

TEST_CASE("shards with simulated attackers: honest ranks get the honest-only run's shards",
          "[distributed]") {
  const at::Tensor labels = at::arange(1200, at::kLong).remainder(10);
  // 12 ranks, the last 2 simulated attackers: the data goes to the 10 honest ranks only.
  const auto honest_only = distributed::shard_indices(labels, 10, 0.5, 3);
  for (int64_t r = 0; r < 10; ++r) {
    CHECK(at::equal(distributed::worker_shard(labels, 12, 2, r, 0.5, 3), honest_only[r]));
  }
  CHECK(honest_only[0].size(0) == 120);
  // Attacker k takes honest rank k's shard (the same steps; label flips of real data).
  CHECK(at::equal(distributed::worker_shard(labels, 12, 2, 10, 0.5, 3), honest_only[0]));
  CHECK(at::equal(distributed::worker_shard(labels, 12, 2, 11, 0.5, 3), honest_only[1]));
  // No attackers: the plain split.
  CHECK(at::equal(distributed::worker_shard(labels, 4, 0, 3, 0.5, 3),
                  distributed::shard_indices(labels, 4, 0.5, 3)[3]));
  // More attackers than honest ranks cycle through the honest shards.
  CHECK(at::equal(distributed::worker_shard(labels, 5, 3, 4, 1.0, 0),
                  distributed::shard_indices(labels, 2, 1.0, 0)[0]));
}

TEST_CASE("rampart train, 4 workers: a Byzantine rank's Inf updates are refused and named every "
          "round, and every rank ends with the same weights",
          "[distributed][processes]") {
  const std::string dir = test::make_temp_dir("dist-train");
  const std::string keys = dir + "/workers.keys";
  {
    std::ofstream out(keys);
    for (int r = 0; r < 4; ++r) out << r << " " << std::string(63, 'a') << r << "\n";
  }
  ::chmod(keys.c_str(), 0600);
  const auto result = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 4\n  heterogeneity: 0.5\n"
                         "  aggregator: {name: trimmed_mean, f: 1}\n"
                         "  simulate_byzantine: {count: 1, attack: inf}\n"
                         "  auth: {keys: " + keys + "}\n")});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  // 1200 points over the 3 honest workers (the simulated attacker holds no data of its own),
  // batches of 50: 8 rounds.
  CHECK(result.output.find("distributed:         4 workers, 8 rounds, aggregator trimmed_mean(f=1)") !=
        std::string::npos);
  CHECK(result.output.find("rejected:          rank 3, 8 of 8 rounds (non-finite values (NaN or Inf))") !=
        std::string::npos);
  CHECK(result.output.find("final weights:     identical on every rank") != std::string::npos);
  CHECK(result.output.find("not authenticated") == std::string::npos);
  CHECK(std::filesystem::exists(dir + "/out/model.pt"));
  CHECK(std::filesystem::exists(dir + "/out/worker1.log"));
}

TEST_CASE("rampart train, distributed: without keys it warns, impossible setups are refused",
          "[distributed][config]") {
  const std::string dir = test::make_temp_dir("dist-config");
  const auto warned = test::run_process(
      {test::rampart_binary(), "train", write_config(dir, "  workers: 2\n"),
       "--set", "data.limit=200"});
  INFO(warned.output);
  CHECK(warned.exit_code == 0);
  CHECK(warned.output.find("updates are not authenticated, and anyone who can reach the store "
                           "can join the run") != std::string::npos);
  const auto too_many = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 3\n  simulate_byzantine: {count: 3, attack: ipm}\n")});
  CHECK(too_many.exit_code == 2);
  CHECK(too_many.output.find("distributed.simulate_byzantine.count: 3 Byzantine of 3 workers "
                             "leaves no honest one") != std::string::npos);
  const auto big_f = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 4\n  aggregator: {name: krum, f: 2}\n")});
  CHECK(big_f.exit_code == 2);
  CHECK(big_f.output.find("distributed.aggregator.f: f = 2 needs 2f < workers = 4") !=
        std::string::npos);
  // Checked at parse time, each naming its key: a pre-step's f, the rule's f against the
  // buckets left by bucketing (both failed in round 1, the second without a location), a
  // negative standard deviation (the worker died in libtorch and rank 0 waited 300 s), and a
  // distillation teacher that every worker would have trained alone on all the data.
  const std::vector<std::pair<std::string, std::string>> refused{
      {"  workers: 4\n  aggregator: {name: trimmed_mean, f: 1, pre: [{name: nnm, f: 3}]}\n",
       "distributed.aggregator.pre: nnm's f = 3 needs 2f < workers = 4"},
      {"  workers: 4\n  aggregator: {name: trimmed_mean, f: 1, pre: [{name: bucketing, s: 2}]}\n",
       "distributed.aggregator.f: f = 1 needs 2f < 2 buckets (bucketing s = 2)"},
      {"  workers: 3\n  simulate_byzantine: {count: 1, attack: gaussian, tau: -1}\n",
       "distributed.simulate_byzantine.tau: gaussian's tau is the noise's standard deviation"},
      {"  workers: 2\ndefense: {method: distillation}\n",
       "defense: distillation under distributed needs a trained teacher"},
  };
  for (const auto& [section, expected] : refused) {
    INFO(section);
    const auto result =
        test::run_process({test::rampart_binary(), "train", write_config(dir, section)});
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Catch::Contains(expected));
  }
}

namespace {

// Where a run is killed: when the log has `log_line` (then `delay` later), or the moment the
// `count`-th file whose name starts with `file_prefix` is renamed into the output directory
// (every checkpoint and worker state is written to a temporary file and renamed).
struct KillMoment {
  std::string name;
  std::string log_line;
  std::chrono::milliseconds delay{0};
  std::string file_prefix;
  int count = 1;
};

// Blocks until the moment comes (or three minutes pass): the caller kills at once, before the
// workers take another step.
void wait_for(const KillMoment& moment, const std::string& log, int inotify_fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  if (!moment.log_line.empty()) {
    while (test::file_text(log).find(moment.log_line) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(moment.delay);
    return;
  }
  int seen = 0;
  alignas(inotify_event) char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::read(inotify_fd, buffer, sizeof buffer);
    for (ssize_t at = 0; n > 0 && at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0 && std::string(event->name).rfind(moment.file_prefix, 0) == 0 &&
          ++seen == moment.count) {
        return;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

// `rampart train` in the background; rank 0 is killed with SIGKILL at `moment`. Returns the
// launcher's log.
std::string run_and_kill_rank0(const std::vector<std::string>& args, const std::string& output,
                               const KillMoment& moment) {
  std::filesystem::create_directories(output);
  const int inotify_fd = ::inotify_init1(IN_CLOEXEC);
  REQUIRE(inotify_fd >= 0);
  REQUIRE(::inotify_add_watch(inotify_fd, output.c_str(), IN_MOVED_TO) >= 0);
  const std::string log = output + "/../killed.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t launcher = 0;
  REQUIRE(posix_spawn(&launcher, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  // The pids are logged before any worker can write a file.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  std::string text;
  while ((text = test::file_text(log)).find("launched 3 workers, pids ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto at = text.find("launched 3 workers, pids ");
  REQUIRE(at != std::string::npos);
  const pid_t rank0 = static_cast<pid_t>(std::stol(text.substr(at + 25)));
  wait_for(moment, log, inotify_fd);
  ::kill(rank0, SIGKILL);
  ::close(inotify_fd);
  int status = 0;
  ::waitpid(launcher, &status, 0);
  INFO(test::file_text(log));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);  // the launcher reports the failed workers
  CHECK(test::file_text(log).find("distributed: worker 0 was killed by signal 9") != std::string::npos);
  return test::file_text(log);
}

}  // namespace

// Each worker keeps state of its own between epochs (its momentum); rank 0 keeps the weights.
// Wherever rank 0 dies, the files left behind must describe one epoch boundary, or the resumed
// run silently drifts from the uninterrupted one: the first CI failure of this test was a kill
// that left rank 0's checkpoint one epoch ahead of a worker's state.
TEST_CASE("rampart train, 3 workers: rank 0 killed in epoch 2, then --resume ends with the "
          "uninterrupted run's weights",
          "[distributed][processes][resume]") {
  const std::string dir = test::make_temp_dir("dist-resume");
  const std::string distributed =
      "  workers: 3\n  heterogeneity: 0.5\n  timeout_seconds: 20\n"
      "  aggregator: {name: trimmed_mean, f: 1, momentum: 0.9}\n";
  const std::string config = write_config(dir, distributed);
  const std::vector<std::string> epochs{"--set", "train.epochs=2", "--set", "data.limit=1800"};
  std::vector<std::string> full_args{test::rampart_binary(), "train", config, "--set",
                                     "train.output=" + dir + "/full"};
  full_args.insert(full_args.end(), epochs.begin(), epochs.end());
  const auto full = test::run_process(full_args);
  INFO(full.output);
  REQUIRE(full.exit_code == 0);
  const auto read = [](const std::string& path) {
    return models::parse_safetensors(test::file_text(path), path);
  };
  const auto a = read(dir + "/full/checkpoint.safetensors");

  const std::vector<KillMoment> moments{
      {"a little into epoch 2", "epoch 2/2: started", std::chrono::milliseconds(200), "", 1},
      {"as rank 0's first checkpoint lands", "", {}, "checkpoint.safetensors", 1},
      {"as rank 1 saves its state after epoch 2", "", {}, "worker1.", 2},
  };
  for (std::size_t k = 0; k < moments.size(); ++k) {
    const KillMoment& moment = moments[k];
    INFO("rank 0 killed " << moment.name);
    const std::string output = dir + "/run" + std::to_string(k) + "/out";
    std::vector<std::string> args{test::rampart_binary(), "train", config, "--set",
                                  "train.output=" + output};
    args.insert(args.end(), epochs.begin(), epochs.end());
    const std::string killed = run_and_kill_rank0(args, output, moment);
    INFO(killed);
    std::vector<std::string> resume_args = args;
    resume_args.push_back("--resume");
    const auto resumed = test::run_process(resume_args);
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.output.find("resuming from") != std::string::npos);
    CHECK(resumed.output.find("restarts from zero") == std::string::npos);
    const auto b = read(output + "/checkpoint.safetensors");
    CHECK(b.metadata.at("epochs_completed") == "2");
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {  // weights and optimizer state
      INFO(a.tensors[i].first);
      REQUIRE(a.tensors[i].first == b.tensors[i].first);
      CHECK(at::equal(a.tensors[i].second, b.tensors[i].second));
    }
  }
}
