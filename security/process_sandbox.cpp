#include "security/process_sandbox.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// 0, 1, 2 onto /dev/null; every other descriptor closed unless kept.
bool close_descriptors(std::vector<int> keep) {
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return false;
  for (int fd = 0; fd <= 2; ++fd) {
    if (std::find(keep.begin(), keep.end(), fd) == keep.end() && dup2(null, fd) < 0) return false;
  }
  close(null);
  keep.push_back(2);  // 0..2 stay open on /dev/null
  std::sort(keep.begin(), keep.end());
  int from = 3;
  for (int fd : keep) {
    if (fd < from) continue;
    if (fd > from && syscall(SYS_close_range, from, fd - 1, 0) != 0) return false;
    from = fd + 1;
  }
  return syscall(SYS_close_range, from, ~0U, 0) == 0;
}

int landlock_abi() {
  return static_cast<int>(
      syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION));
}

// A ruleset that handles every file-system right this kernel knows, with no rule granting any:
// no path can be read, written, executed, created or removed.
bool restrict_with_landlock() {
  const int abi = landlock_abi();
  if (abi < 1) return true;  // not offered by this kernel: seccomp alone
  landlock_ruleset_attr attr{};
  attr.handled_access_fs =
      LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
      LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) attr.handled_access_fs |= 1ULL << 13;  // LANDLOCK_ACCESS_FS_REFER
  if (abi >= 3) attr.handled_access_fs |= 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE
  const int ruleset = static_cast<int>(
      syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr.handled_access_fs), 0));
  if (ruleset < 0) return false;
  const bool ok = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
                  syscall(SYS_landlock_restrict_self, ruleset, 0) == 0;
  close(ruleset);
  return ok;
}

// System calls that kill the process: running programs, the network, changing the file system,
// reaching other processes or the kernel. Names this libseccomp does not know are skipped
// (their numbers do not exist on the kernels it targets).
constexpr const char* kKill[] = {
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg",
    "sendmmsg", "recvfrom", "recvmsg", "recvmmsg", "creat", "truncate", "ftruncate", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
    "fchownat", "mknod", "mknodat", "utime", "utimes", "utimensat", "futimesat", "setxattr",
    "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "mount", "umount2",
    "pivot_root", "chroot", "chdir", "fchdir", "swapon", "swapoff", "reboot", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open",
    "userfaultfd", "unshare", "setns", "keyctl", "add_key", "request_key", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "name_to_handle_at", "open_by_handle_at",
    "fanotify_init", "inotify_init", "inotify_init1", "memfd_secret", "pidfd_open",
    "pidfd_getfd", "pidfd_send_signal", "process_madvise", "setuid", "setgid", "setreuid",
    "setregid", "setresuid", "setresgid", "setgroups", "acct", "quotactl", "syslog",
    // the new mount API, comparing other processes' kernel objects, moving their memory
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "kcmp", "process_mrelease", "migrate_pages", "move_pages", "ioprio_set",
    // System V and POSIX IPC objects outlive the process and are shared with others; the
    // clock, the host name and I/O ports are the machine's
    "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "ioperm", "iopl", "clock_settime", "settimeofday", "adjtimex",
    "clock_adjtime", "sethostname", "setdomainname"};

// System calls that reach another process when their first argument names one: killed unless it
// is 0 (the caller: glibc's getrlimit and setrlimit pass 0 to prlimit64).
constexpr const char* kKillForOthers[] = {"rt_sigqueueinfo", "rt_tgsigqueueinfo", "prlimit64"};

// The scheduling policy of a thread or process other than the caller: refused (EPERM), not
// killed. (sched_setaffinity stays allowed: glibc and libgomp set their own threads' affinity
// by thread id, and a failure there is fatal to OpenMP under OMP_PROC_BIND.)
constexpr const char* kDenyForOthers[] = {"sched_setscheduler", "sched_setparam", "sched_setattr"};

// System calls that fail with EACCES: opening a path. libtorch and the C library may probe a
// file now and then; a failed open is an error they handle, not a reason to die.
constexpr const char* kDeny[] = {"open", "openat", "openat2", "access", "faccessat",
                                 "faccessat2", "readlink", "readlinkat"};

// Every capability, from the bounding set too, once the limits are set: a process started as
// root (CI containers) could otherwise raise RLIMIT_AS again (CAP_SYS_RESOURCE) or reach what
// root may. Dropping the bounding set needs CAP_SETPCAP; without it there is none to drop.
bool drop_capabilities() {
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  return syscall(SYS_capset, &header, data) == 0;
}

bool install_seccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return false;
  bool ok = true;
  auto add = [&](uint32_t action, const char* name) {
    const int call = seccomp_syscall_resolve_name(name);
    if (call == __NR_SCMP_ERROR) return;
    ok = ok && seccomp_rule_add(ctx, action, call, 0) == 0;
  };
  for (const char* name : kKill) add(SCMP_ACT_KILL_PROCESS, name);
  for (const char* name : kDeny) add(SCMP_ACT_ERRNO(EACCES), name);
  // mmap of a file (no MAP_ANONYMOUS): refused, whatever descriptor it names.
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(mmap), 1,
                              SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0)) == 0;
  // Signals only to itself (abort() raises SIGABRT on its own thread group).
  const auto self = static_cast<scmp_datum_t>(getpid());
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kill), 1,
                              SCMP_A0(SCMP_CMP_NE, self)) == 0;
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_NE, self)) == 0;
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(tkill), 0) == 0;
  // Queued signals and resource limits of another process: its pid is the first argument.
  for (const char* name : kKillForOthers) {
    const int call = seccomp_syscall_resolve_name(name);
    if (call == __NR_SCMP_ERROR) continue;
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, call, 1,
                                SCMP_A0(SCMP_CMP_NE, 0)) == 0;
  }
  for (const char* name : kDenyForOthers) {
    const int call = seccomp_syscall_resolve_name(name);
    if (call == __NR_SCMP_ERROR) continue;
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), call, 1, SCMP_A0(SCMP_CMP_NE, 0)) == 0;
  }
  // setpriority(which, who, prio): another process when `who` is not 0.
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(setpriority), 1,
                              SCMP_A1(SCMP_CMP_NE, 0)) == 0;
  // Threads yes, processes no: glibc's fork() is clone() without CLONE_THREAD. clone3 passes
  // its flags in memory, out of the filter's sight: ENOSYS makes glibc fall back to clone.
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) == 0;
  add(SCMP_ACT_ERRNO(ENOSYS), "clone3");
  ok = ok && seccomp_load(ctx) == 0;
  seccomp_release(ctx);
  return ok;
}

}  // namespace

AddressSpaceCap::AddressSpaceCap(int64_t extra_bytes) {
  struct rlimit r {};
  if (getrlimit(RLIMIT_AS, &r) != 0) return;
  previous_ = r.rlim_cur;
  rlim_t value = static_cast<rlim_t>(current_address_space() + extra_bytes);
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < value) value = r.rlim_max;
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < value) return;  // already tighter
  r.rlim_cur = value;
  set_ = setrlimit(RLIMIT_AS, &r) == 0;
}

AddressSpaceCap::~AddressSpaceCap() {
  if (!set_) return;
  struct rlimit r {};
  if (getrlimit(RLIMIT_AS, &r) != 0) return;
  r.rlim_cur = static_cast<rlim_t>(previous_);
  setrlimit(RLIMIT_AS, &r);
}

bool landlock_available() { return landlock_abi() >= 1; }

bool confine_process(const SandboxLimits& limits) {
  bool ok = close_descriptors(limits.keep_descriptors) && limit(RLIMIT_CORE, 0) &&
            limit(RLIMIT_FSIZE, 0) &&
            limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files)) &&
            limit(RLIMIT_CPU, limits.cpu_seconds > 0 ? static_cast<rlim_t>(limits.cpu_seconds) : RLIM_INFINITY) &&
            limit(RLIMIT_AS, static_cast<rlim_t>(current_address_space() + limits.memory_bytes));
  signal(SIGXFSZ, SIG_DFL);
  return ok && drop_capabilities() && restrict_with_landlock() && install_seccomp();
}

}  // namespace rampart::security
