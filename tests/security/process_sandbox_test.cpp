// The sandbox the probe runs models in, exercised directly: in a forked, confined child each
// forbidden system call kills the process with SIGSYS, writing a file raises SIGXFSZ, the
// descriptor and memory limits hold, and allowed work (computing, writing to a pipe) goes on.
#include "security/process_sandbox.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <functional>

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
  const Outcome conn = confined([&] {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    return connect(fds[0], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 13 : 14;
  });
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
  std::filesystem::remove_all(dir);
}

TEST_CASE("sandbox: no file writes, a descriptor cap and a memory cap, while computing goes on",
          "[security][sandbox]") {
  const std::string dir = test::make_temp_dir("sandbox-limits");
  const std::string file = dir + "/written";
  const Outcome write_file = confined([&] {
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT, 0600);
    if (fd < 0) return 20;
    return write(fd, "x", 1) == 1 ? 21 : 22;
  });
  CHECK(write_file.signaled);
  CHECK(write_file.signal == SIGXFSZ);
  CHECK(std::filesystem::file_size(file) == 0);  // created (open is allowed), nothing written

  const Outcome descriptors = confined(
      [] {
        for (int i = 0; i < 100; ++i) {
          if (open("/dev/null", O_RDONLY) < 0) return errno == EMFILE ? 30 : 31;
        }
        return 32;
      },
      {int64_t{1} << 30, 10, 16});
  CHECK(descriptors.exit_code == 30);

  const Outcome memory = confined(
      [] {
        void* p = mmap(nullptr, std::size_t{2} << 30, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? 40 : 41;  // 2 GiB more than allowed: refused
      },
      {int64_t{256} << 20, 10, 64});
  CHECK(memory.exit_code == 40);

  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const Outcome work = confined([&] {
    double sum = 0;
    for (int i = 1; i <= 1000000; ++i) sum += 1.0 / i;
    const char answer = sum > 14 ? 'y' : 'n';
    return write(fds[1], &answer, 1) == 1 ? 0 : 50;
  });
  CHECK(work.exit_code == 0);
  char answer = 0;
  CHECK(read(fds[0], &answer, 1) == 1);
  CHECK(answer == 'y');
  close(fds[0]);
  close(fds[1]);
  std::filesystem::remove_all(dir);
}
