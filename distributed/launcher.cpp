#include "distributed/launcher.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/remove_tree.h"

extern char** environ;

namespace rampart::distributed {
namespace {

std::vector<std::string> worker_environment(int64_t rank, int64_t workers, const std::string& store) {
  const auto replaced = [](const std::string& entry) {
    for (const char* name : {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=",
                             "RAMPART_FILE_STORE="}) {
      if (entry.rfind(name, 0) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (!replaced(*e)) env.emplace_back(*e);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(workers));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(workers));
  env.push_back("RAMPART_FILE_STORE=" + store);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

int launch_local_workers(int64_t workers, const std::vector<std::string>& arguments,
                         const std::string& log_dir, bool survive_worker_loss) {
  std::filesystem::create_directories(log_dir);
  std::string folder = (std::filesystem::temp_directory_path() / "rampart-store-XXXXXX").string();
  if (!mkdtemp(folder.data())) throw std::runtime_error("distributed: cannot make a store folder");
  const std::string store = folder + "/store";
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) throw std::runtime_error("distributed: cannot find this program (/proc/self/exe)");
  self[length] = '\0';
  std::vector<std::string> argv{self};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  std::vector<pid_t> pids;
  for (int64_t rank = 0; rank < workers; ++rank) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log;
    if (rank > 0) {
      log = log_dir + "/worker" + std::to_string(rank) + ".log";
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
      posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    }
    std::vector<std::string> env = worker_environment(rank, workers, store);
    auto args = argv;
    auto argp = pointers(args);
    auto envp = pointers(env);
    pid_t pid = 0;
    const int error = posix_spawn(&pid, self, &actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      for (pid_t p : pids) kill(p, SIGTERM);
      throw std::runtime_error(std::string("distributed: cannot start worker ") +
                               std::to_string(rank) + ": " + std::strerror(error));
    }
    pids.push_back(pid);
  }
  std::string listed;
  for (std::size_t rank = 0; rank < pids.size(); ++rank) {
    listed += (rank ? ", " : "") + std::to_string(pids[rank]);
  }
  spdlog::info("distributed: launched {} workers, pids {}", workers, listed);
  // Wait for the workers in the order they end. A failure that the others cannot survive
  // stops them: they would only wait for the failed rank until their timeout.
  int result = 0;
  bool stopping = false;
  std::size_t running = pids.size();
  std::vector<bool> ended(pids.size(), false);
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const auto at = std::find(pids.begin(), pids.end(), pid);
    if (at == pids.end()) continue;
    const std::size_t rank = static_cast<std::size_t>(at - pids.begin());
    ended[rank] = true;
    --running;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) continue;
    if (stopping) {
      spdlog::info("distributed: worker {} stopped", rank);
      continue;
    }
    spdlog::error("distributed: worker {} {} {}{}", rank,
                  WIFEXITED(status) ? "exited with" : "was killed by signal",
                  WIFEXITED(status) ? code : WTERMSIG(status),
                  rank > 0 ? " (log: " + log_dir + "/worker" + std::to_string(rank) + ".log)" : "");
    if (survive_worker_loss && rank > 0) continue;  // the others regroup without it
    result = code;
    stopping = true;
    for (std::size_t other = 0; other < pids.size(); ++other) {
      if (!ended[other]) kill(pids[other], SIGTERM);
    }
  }
  core::remove_tree(folder);
  return result;
}

}  // namespace rampart::distributed
