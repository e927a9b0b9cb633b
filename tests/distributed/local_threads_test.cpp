// threads: 0 on a rank: the machine's cores shared among its local ranks.
#include "distributed/local_threads.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

TEST_CASE("threads 0 shares the cores among the local ranks, an explicit count is kept",
          "[distributed][threads]") {
  using rampart::distributed::threads_per_local_rank;
  const int64_t cores = std::max<unsigned>(std::thread::hardware_concurrency(), 1u);
  unsetenv("LOCAL_WORLD_SIZE");
  CHECK(threads_per_local_rank(3, 4) == 3);
  CHECK(threads_per_local_rank(0, 1) == cores);
  CHECK(threads_per_local_rank(0, 2) == std::max<int64_t>(1, cores / 2));
  CHECK(threads_per_local_rank(0, 4 * cores) == 1);
  // Ranks spread over machines: torchrun's LOCAL_WORLD_SIZE counts the ones on this machine.
  setenv("LOCAL_WORLD_SIZE", "1", 1);
  CHECK(threads_per_local_rank(0, 8) == cores);
  setenv("LOCAL_WORLD_SIZE", "bogus", 1);
  CHECK(threads_per_local_rank(0, 4 * cores) == 1);
  unsetenv("LOCAL_WORLD_SIZE");
}
