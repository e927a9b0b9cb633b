// Distributed training that loses a worker: one killed with SIGKILL mid-run, and an outsider
// that joins a TCPStore job without the real key. The others regroup without it and finish.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/fixtures.h"
#include "support/test_support.h"

using namespace rampart;

extern char** environ;

namespace {

using rampart::test::kFmnist;

std::string write_config(const std::string& dir, const std::string& name,
                         const std::string& distributed) {
  const std::string path = dir + "/" + name;
  std::ofstream(path)
      << "seed: 3\ndevice: cpu\nthreads: 1\n"
         "model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
         "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " + kFmnist +
         "train-labels-idx1-ubyte.gz, limit: 2400, batch_size: 50}\n"
         "train: {epochs: 2, optimizer: {name: sgd, lr: 0.05, momentum: 0.0}, "
         "schedule: {name: constant}, output: " + dir + "/out}\n"
         "distributed:\n" + distributed;
  return path;
}

// Starts `args` with `env` added to this environment, stdout and stderr to `log`.
pid_t start(std::vector<std::string> args, const std::vector<std::string>& env,
            const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> environment = env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("RANK=", 0) != 0 && entry.rfind("WORLD_SIZE=", 0) != 0) environment.push_back(entry);
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void write_keys(const std::string& path, const std::vector<std::pair<int, char>>& keys) {
  {
    std::ofstream out(path);
    for (const auto& [rank, digit] : keys) out << rank << " " << std::string(64, digit) << "\n";
  }
  ::chmod(path.c_str(), 0600);
}

}  // namespace

TEST_CASE("rampart train, 4 workers: a worker killed mid-run is lost, and the rest finish with "
          "identical weights",
          "[distributed][processes][faults]") {
  const std::string dir = test::make_temp_dir("dist-loss");
  const std::string config = write_config(
      dir, "train.yaml",
      "  workers: 4\n  timeout_seconds: 5\n  aggregator: {name: trimmed_mean, f: 1}\n");
  const std::string log = dir + "/launcher.log";
  const pid_t launcher = start({test::rampart_binary(), "train", config}, {}, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (test::file_text(log).find("epoch 2/2: started") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string text = test::file_text(log);
  const auto at = text.find("launched 4 workers, pids ");
  REQUIRE(at != std::string::npos);
  std::stringstream pids(text.substr(at + 25));
  pid_t rank_pid[4];
  char comma = 0;
  pids >> rank_pid[0] >> comma >> rank_pid[1] >> comma >> rank_pid[2] >> comma >> rank_pid[3];
  ::kill(rank_pid[2], SIGKILL);
  const int code = wait_exit(launcher);
  const std::string output = test::file_text(log);
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("distributed: worker 2 was killed by signal 9") != std::string::npos);
  CHECK(output.find("lost:              rank 2 in round 1000") != std::string::npos);  // epoch 2
  CHECK(output.find("final weights:     identical on every remaining rank") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/out/model.pt"));
}

TEST_CASE("rampart train on a TCPStore: an outsider that takes a rank without its key is refused "
          "every round, named, and dropped, the others finish",
          "[distributed][processes][security]") {
  const std::string dir = test::make_temp_dir("dist-outsider");
  write_keys(dir + "/workers.keys", {{0, 'a'}, {1, 'b'}, {2, 'c'}, {3, 'd'}});
  write_keys(dir + "/outsider.keys", {{3, 'e'}});  // it does not know rank 3's key
  const std::string distributed = "  timeout_seconds: 5\n  aggregator: {name: trimmed_mean, f: 1}\n";
  const std::string honest =
      write_config(dir, "train.yaml", distributed + "  auth: {keys: " + dir + "/workers.keys}\n");
  const std::string outsider = write_config(
      dir, "outsider.yaml", distributed + "  auth: {keys: " + dir + "/outsider.keys}\n");
  const int port = 20000 + static_cast<int>(::getpid() % 30000);
  const auto env = [&](int rank) {
    return std::vector<std::string>{"RANK=" + std::to_string(rank), "WORLD_SIZE=4",
                                    "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)};
  };
  std::vector<pid_t> ranks;
  for (int r = 0; r < 4; ++r) {
    ranks.push_back(start({test::rampart_binary(), "train", r == 3 ? outsider : honest}, env(r),
                          dir + "/rank" + std::to_string(r) + ".log"));
  }
  std::vector<int> codes;
  for (pid_t pid : ranks) codes.push_back(wait_exit(pid));
  const std::string rank0 = test::file_text(dir + "/rank0.log");
  INFO(rank0);
  INFO(test::file_text(dir + "/rank3.log"));
  CHECK(codes[0] == 0);
  CHECK(codes[1] == 0);
  CHECK(codes[2] == 0);
  // The outsider cannot verify the launch nonce's tag under rank 3's key (before any round: it
  // used to send one frame, refused, and stop at the aggregate's tag) and stops.
  CHECK(codes[3] != 0);
  CHECK(test::file_text(dir + "/rank3.log").find("the launch nonce fails its authentication tag") !=
        std::string::npos);
  CHECK(rank0.find("lost:              rank 3 in round 1") != std::string::npos);
  CHECK(rank0.find("final weights:     identical on every remaining rank") != std::string::npos);
}
