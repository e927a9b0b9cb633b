// The sandbox the probe runs models in, exercised directly: in a forked, confined child no path
// can be opened (EACCES), each forbidden system call kills the process with SIGSYS, writing a
// kept file raises SIGXFSZ, inherited descriptors are closed, the file system is unchanged (a
// watched directory hashes the same), the descriptor and memory limits hold, and allowed work
// (computing, threads, writing to the pipe) goes on.
#include "core/remove_tree.h"
#include "security/process_sandbox.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <cstring>
#include <functional>
#include <thread>

#include "support/test_support.h"

using namespace rampart;

namespace {

struct Outcome {
  bool signaled = false;
  int signal = 0;
  int exit_code = -1;
};

// Runs `body` in a forked child confined by `limits`; its return value is the exit code.
Outcome confined(const std::function<int()>& body, security::SandboxLimits limits = {}) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!security::confine_process(limits)) _exit(100);
    _exit(body());
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  Outcome out;
  out.signaled = WIFSIGNALED(status);
  if (out.signaled) out.signal = WTERMSIG(status);
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

}  // namespace

TEST_CASE("sandbox: execve, execveat, socket, connect and ptrace kill the child with SIGSYS",
          "[security][sandbox]") {
  const std::string dir = test::make_temp_dir("sandbox");
  const std::string canary = dir + "/canary";
  const Outcome exec = confined([&] {
    const std::string command = "touch " + canary;
    char* const argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                          const_cast<char*>(command.c_str()), nullptr};
    execv("/bin/sh", argv);
    return 10;  // execv returned: not killed
  });
  CHECK(exec.signaled);
  CHECK(exec.signal == SIGSYS);
  CHECK_FALSE(std::filesystem::exists(canary));

  const Outcome sock = confined([] { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 11 : 12; });
  CHECK(sock.signaled);
  CHECK(sock.signal == SIGSYS);
  // connect on a descriptor made before the filter (a socketpair would need socket too).
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  security::SandboxLimits keep_socket;
  keep_socket.keep_descriptors = {fds[0]};
  const Outcome conn = confined(
      [&] {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        return connect(fds[0], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 13 : 14;
      },
      keep_socket);
  close(fds[0]);
  close(fds[1]);
  CHECK(conn.signaled);
  CHECK(conn.signal == SIGSYS);
  const Outcome trace =
      confined([] { return ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 15 : 16; });
  CHECK(trace.signaled);
  CHECK(trace.signal == SIGSYS);
  const Outcome at = confined([] {
    return static_cast<int>(syscall(SYS_execveat, AT_FDCWD, "/bin/true", nullptr, nullptr, 0)) == 0
               ? 17
               : 18;
  });
  CHECK(at.signaled);
  CHECK(at.signal == SIGSYS);
  rampart::core::remove_tree(dir);
}

TEST_CASE("sandbox: no path can be opened, nothing in the file system changes, limits hold",
          "[security][sandbox]") {
  const std::string dir = test::make_temp_dir("sandbox-fs");
  const std::string secret = dir + "/secret", victim = dir + "/victim";
  test::write_bytes(secret, "the secret");
  test::write_bytes(victim, "keep me");
  const std::string before = test::directory_snapshot(dir);

  // Opening any path fails with EACCES: no creation, no truncation, no reading.
  const Outcome create = confined([&] {
    return open((dir + "/created").c_str(), O_WRONLY | O_CREAT, 0600) < 0 && errno == EACCES ? 20
                                                                                              : 21;
  });
  CHECK(create.exit_code == 20);
  const Outcome trunc_open = confined([&] {
    return open(victim.c_str(), O_WRONLY | O_TRUNC) < 0 && errno == EACCES ? 22 : 23;
  });
  CHECK(trunc_open.exit_code == 22);
  const Outcome read_secret = confined([&] {
    return open(secret.c_str(), O_RDONLY) < 0 && errno == EACCES ? 24 : 25;
  });
  CHECK(read_secret.exit_code == 24);
  // Calls that change the file system by path kill the process.
  for (const auto& [name, call] : std::vector<std::pair<std::string, std::function<int()>>>{
           {"truncate", [&] { return truncate(victim.c_str(), 0); }},
           {"unlink", [&] { return unlink(victim.c_str()); }},
           {"rename", [&] { return rename(victim.c_str(), (dir + "/moved").c_str()); }},
           {"mkdir", [&] { return mkdir((dir + "/sub").c_str(), 0700); }},
           {"symlink", [&] { return symlink(secret.c_str(), (dir + "/link").c_str()); }},
           {"chmod", [&] { return chmod(victim.c_str(), 0777); }}}) {
    INFO(name);
    const Outcome out = confined([&] { return call() == 0 ? 26 : 27; });
    CHECK(out.signaled);
    CHECK(out.signal == SIGSYS);
  }

  // A descriptor the child keeps: writing raises SIGXFSZ, ftruncate and a shared mapping of
  // the file are refused, so the file keeps its bytes.
  const int kept = open(victim.c_str(), O_RDWR);
  REQUIRE(kept >= 0);
  security::SandboxLimits keep;
  keep.keep_descriptors = {kept};
  const Outcome write_file = confined([&] { return write(kept, "x", 1) == 1 ? 30 : 31; }, keep);
  CHECK(write_file.signaled);
  CHECK(write_file.signal == SIGXFSZ);
  const Outcome ftrunc = confined([&] { return ftruncate(kept, 0) == 0 ? 32 : 33; }, keep);
  CHECK(ftrunc.signaled);
  CHECK(ftrunc.signal == SIGSYS);
  const Outcome shared = confined(
      [&] {
        void* p = mmap(nullptr, 7, PROT_READ | PROT_WRITE, MAP_SHARED, kept, 0);
        if (p != MAP_FAILED) {
          std::memcpy(p, "changed", 7);
          return 34;
        }
        return errno == EACCES ? 35 : 36;
      },
      keep);
  CHECK(shared.exit_code == 35);
  // A descriptor it does not keep is closed before anything untrusted runs.
  const Outcome inherited = confined([&] { return fcntl(kept, F_GETFD) < 0 && errno == EBADF ? 37 : 38; });
  CHECK(inherited.exit_code == 37);
  close(kept);
  CHECK(test::directory_snapshot(dir) == before);  // nothing created, truncated or rewritten
  rampart::core::remove_tree(dir);
}

TEST_CASE("sandbox: no new process, no signal to another, descriptor and memory caps, while "
          "computing goes on",
          "[security][sandbox]") {
  const Outcome forked = confined([] {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    return pid > 0 ? 40 : 41;
  });
  CHECK(forked.signaled);
  CHECK(forked.signal == SIGSYS);
  const Outcome signal_parent = confined([] { return kill(getppid(), 0) == 0 ? 42 : 43; });
  CHECK(signal_parent.signaled);
  CHECK(signal_parent.signal == SIGSYS);
  const Outcome signal_group = confined([] { return kill(0, 0) == 0 ? 44 : 45; });
  CHECK(signal_group.signaled);
  CHECK(signal_group.signal == SIGSYS);
  const Outcome own_signal = confined([] { return kill(getpid(), 0) == 0 ? 46 : 47; });
  CHECK(own_signal.exit_code == 46);
  // A queued signal or a resource limit of another process (the parent) was let through: a
  // confined model could kill it (rt_sigqueueinfo with SIGKILL) or cap its descriptors at 3.
  const Outcome queued_signal = confined([] {
    siginfo_t info{};
    info.si_code = SI_QUEUE;
    return syscall(SYS_rt_sigqueueinfo, getppid(), 0, &info) == 0 ? 48 : 49;
  });
  CHECK(queued_signal.signaled);
  CHECK(queued_signal.signal == SIGSYS);
  const Outcome parent_limit = confined([] {
    struct rlimit limit {};
    return syscall(SYS_prlimit64, getppid(), RLIMIT_NOFILE, nullptr, &limit) == 0 ? 54 : 55;
  });
  CHECK(parent_limit.signaled);
  CHECK(parent_limit.signal == SIGSYS);
  // A System V segment outlived the process, world-writable and shared with others.
  const Outcome shared_memory = confined([] { return shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0666) >= 0 ? 58 : 59; });
  CHECK(shared_memory.signaled);
  CHECK(shared_memory.signal == SIGSYS);
  // No capability is left (a root caller's CAP_SYS_RESOURCE could raise RLIMIT_AS again).
  const Outcome capabilities = confined([] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return 61;
    return data[0].effective == 0 && data[1].effective == 0 && data[0].permitted == 0 &&
                   data[1].permitted == 0
               ? 60
               : 62;
  });
  CHECK(capabilities.exit_code == 60);
  const Outcome own_limit = confined([] {  // glibc's getrlimit: prlimit64 with pid 0
    struct rlimit limit {};
    return getrlimit(RLIMIT_NOFILE, &limit) == 0 ? 56 : 57;
  });
  CHECK(own_limit.exit_code == 56);

  int fds[2];
  REQUIRE(pipe(fds) == 0);
  security::SandboxLimits few{int64_t{1} << 30, 10, 16, {fds[1]}};
  const Outcome descriptors = confined(
      [&] {
        for (int i = 0; i < 100; ++i) {
          if (dup(fds[1]) < 0) return errno == EMFILE ? 50 : 51;
        }
        return 52;
      },
      few);
  CHECK(descriptors.exit_code == 50);

  const Outcome memory = confined(
      [] {
        void* p = mmap(nullptr, std::size_t{2} << 30, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? 60 : 61;  // 2 GiB more than allowed: refused
      },
      {int64_t{256} << 20, 10, 64, {}});
  CHECK(memory.exit_code == 60);

  security::SandboxLimits with_pipe;
  with_pipe.keep_descriptors = {fds[1]};
  const Outcome work = confined(
      [&] {
        double sum = 0;
        for (int i = 1; i <= 1000000; ++i) sum += 1.0 / i;
        std::thread helper([&] { sum += 1; });  // threads are allowed
        helper.join();
        const char answer = sum > 14 ? 'y' : 'n';
        return write(fds[1], &answer, 1) == 1 ? 0 : 70;
      },
      with_pipe);
  CHECK(work.exit_code == 0);
  char answer = 0;
  CHECK(read(fds[0], &answer, 1) == 1);
  CHECK(answer == 'y');
  close(fds[0]);
  close(fds[1]);
}
