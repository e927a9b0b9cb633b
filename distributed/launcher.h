#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::distributed {

/// Runs `workers` copies of this program (torchrun --standalone style) with `arguments` and
/// RANK, WORLD_SIZE, LOCAL_RANK and RAMPART_FILE_STORE (a FileStore in a fresh 0700 folder: only
/// this user can join) in their environment; rank 0 writes to this process's stdout and stderr,
/// rank r > 0 to `<log_dir>/worker<r>.log`. Waits for all and names each failed rank on
/// stderr. When rank 0 fails, or any rank without `survive_worker_loss`, it stops the other
/// workers (SIGTERM), which would otherwise wait in a collective for it, and returns that
/// rank's exit code. With `survive_worker_loss` (training, which regroups without a lost
/// worker) a rank r > 0 may fail: the result is rank 0's exit code.
int launch_local_workers(int64_t workers, const std::vector<std::string>& arguments,
                         const std::string& log_dir, bool survive_worker_loss);

}  // namespace rampart::distributed
