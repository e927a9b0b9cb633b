#pragma once

#include <cstdint>

namespace rampart::distributed {

/// The intra-op threads one rank uses. `threads: 0` (all cores) means the cores shared equally
/// among the ranks on this machine (torchrun's LOCAL_WORLD_SIZE, else `world_size`), at least
/// one each: four ranks that each took every core of a 2-core machine ran eight threads on two
/// cores. Any other request is returned as it is.
///
/// Example:
///   config.threads = threads_per_local_rank(config.threads, group.world_size());
int64_t threads_per_local_rank(int64_t requested, int64_t world_size);

}  // namespace rampart::distributed
