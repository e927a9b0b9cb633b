#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::distributed {

/// Runs `workers` copies of this program (torchrun --standalone style) with `arguments` and
/// RANK, WORLD_SIZE, LOCAL_RANK and RAMPART_FILE_STORE (a FileStore in a fresh 0700 folder: only
/// this user can join) in their environment; rank 0 writes to this process's stdout and stderr,
/// rank r > 0 to `<log_dir>/worker<r>.log`. Waits for all; returns 0 when every worker exited
/// 0, else the first failing rank's exit code, after naming it on stderr and stopping the other
/// workers (SIGTERM), which would otherwise wait in a collective for it.
int launch_local_workers(int64_t workers, const std::vector<std::string>& arguments,
                         const std::string& log_dir);

}  // namespace rampart::distributed
