// main() of the Google Benchmark executables. It tunes glibc's heap first, as `rampart`, its
// evaluation worker and `import rampart` do (core/heap_tuning.h), so that a bench measures what
// users run; until 2026-12-05 the benches ran with glibc's default, and the sandbox bench
// compared a tuned worker with an untuned process. RAMPART_HEAP_TUNING=0 measures the default.
// The JSON output's context records which one ran ("heap_tuning": "on" or "off").
#include <benchmark/benchmark.h>

#include "core/heap_tuning.h"

int main(int argc, char** argv) {
  const bool tuned = rampart::core::tune_heap_for_tensors();
  benchmark::AddCustomContext("heap_tuning", tuned ? "on" : "off");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
