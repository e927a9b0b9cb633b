#include "security/process_sandbox.h"

#include <seccomp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace rampart::security {
namespace {

int64_t current_address_space() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0;
  statm >> pages;
  return pages * sysconf(_SC_PAGESIZE);
}

// Sets soft and hard limit to `value`, or to the hard limit already in force when that is lower
// (a process may lower its limits, never raise them).
bool limit(int resource, rlim_t value) {
  struct rlimit r {};
  if (getrlimit(resource, &r) != 0) return false;
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < value) value = r.rlim_max;
  r.rlim_cur = r.rlim_max = value;
  return setrlimit(resource, &r) == 0;
}

bool install_seccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return false;
  bool ok = true;
  for (int call : {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(socket), SCMP_SYS(connect),
                   SCMP_SYS(ptrace)}) {
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, call, 0) == 0;
  }
  ok = ok && seccomp_load(ctx) == 0;
  seccomp_release(ctx);
  return ok;
}

}  // namespace

bool confine_process(const SandboxLimits& limits) {
  bool ok = limit(RLIMIT_CORE, 0) && limit(RLIMIT_FSIZE, 0) &&
            limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files)) &&
            limit(RLIMIT_CPU, static_cast<rlim_t>(limits.cpu_seconds)) &&
            limit(RLIMIT_AS, static_cast<rlim_t>(current_address_space() + limits.memory_bytes));
  signal(SIGXFSZ, SIG_DFL);
  return ok && install_seccomp();
}

}  // namespace rampart::security
