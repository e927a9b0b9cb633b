// threads: 0 on a rank: the machine's cores shared among its local ranks.
#include "distributed/local_threads.h"

#include <catch2/catch.hpp>

#include <sched.h>

#include <cstdlib>
#include <thread>

#include "core/runtime.h"

TEST_CASE("threads 0 shares the cores among the local ranks, an explicit count is kept",
          "[distributed][threads]") {
  using rampart::distributed::threads_per_local_rank;
  const int64_t cores = rampart::core::available_cores();
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

// std::thread::hardware_concurrency counts the machine's cores, not the ones this process may
// use: under `taskset -c 0` libtorch started a thread per core on one core.
TEST_CASE("threads 0 means the cores of the process's CPU affinity", "[distributed][threads]") {
  cpu_set_t all;
  REQUIRE(sched_getaffinity(0, sizeof(all), &all) == 0);
  CHECK(rampart::core::available_cores() == CPU_COUNT(&all));
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  unsetenv("LOCAL_WORLD_SIZE");
  const int available = rampart::core::available_cores();
  const int64_t per_rank = rampart::distributed::threads_per_local_rank(0, 1);
  const int threads = rampart::core::set_threads(0);
  REQUIRE(sched_setaffinity(0, sizeof(all), &all) == 0);
  rampart::core::set_threads(0);
  CHECK(available == 1);
  CHECK(per_rank == 1);
  CHECK(threads == 1);
}
