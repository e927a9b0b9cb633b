#!/bin/bash
# The GPU machine's run (the `device` tool; docs/gpu-validation.md records each one): builds the
# kernels, attacks and defenses test suites and the attack benches against the machine's
# CUDA-enabled libtorch, runs every CUDA parity test case (Catch tag [cuda]) and the attack
# benches on the GPU. Everything it reads back goes to $OUT (default: gpu-out/).
#
# Prepare here first: ../shared/gpu/fetch-debs.sh   (carry .gpu-deps in the run)
# On the device:      tools/gpu_validation.sh
#
# The CLI is off (its distributed module links Debian's Gloo, which the device lacks) and each
# step runs even when an earlier one failed, so one run returns every compile error at once.
set -u
out=${OUT:-gpu-out}
mkdir -p "$out"
build=build-gpu
step() { echo "=== $* ($(date +%T))"; }

{
  step environment
  source .gpu-deps/device-env.sh
  nvcc --version | tail -2
  c++ --version | head -1
  cmake --version | head -1
} 2>&1 | tee "$out/env.txt"
source .gpu-deps/device-env.sh >/dev/null 2>&1

step configure | tee "$out/build.txt"
# shellcheck disable=SC2086  # RAMPART_GPU_CMAKE_ARGS is a list of arguments
cmake -S . -B $build -G Ninja $RAMPART_GPU_CMAKE_ARGS -DRAMPART_BUILD_CLI=OFF \
  -DRAMPART_BUILD_BENCH=ON >>"$out/build.txt" 2>&1 || { tail -40 "$out/build.txt"; exit 1; }

# The kernels first (small): their parity results come back even if a larger suite fails.
{
  step build kernels_tests
  cmake --build $build --target kernels_tests -- -k 0
  step run kernels_tests [cuda]
  $build/tests/kernels/kernels_tests "[cuda]" --durations yes
} >>"$out/build.txt" 2>&1
grep -E "^=== |error|FAILED|passed|failed" "$out/build.txt" | tail -30

{
  step build attacks_tests defenses_tests bench_attacks
  cmake --build $build --target attacks_tests defenses_tests bench_attacks -- -k 0
} >>"$out/build.txt" 2>&1
grep -E "^=== |error:|FAILED" "$out/build.txt" | tail -30

{
  for suite in attacks defenses; do
    step run ${suite}_tests [cuda]
    [ -x $build/tests/$suite/${suite}_tests ] && $build/tests/$suite/${suite}_tests "[cuda]" --durations yes
  done
} 2>&1 | tee "$out/parity.txt"

step bench_attacks
[ -x $build/bench/bench_attacks ] &&
  RAMPART_BENCH_DEVICE=cuda timeout "${BENCH_SECONDS:-180}" $build/bench/bench_attacks \
    --benchmark_repetitions=3 --benchmark_enable_random_interleaving \
    --benchmark_report_aggregates_only=true --benchmark_min_time=0.1 \
    --benchmark_format=json >"$out/attacks.json" 2>"$out/bench_stderr.txt"
echo "bench rc $?"
python3 bench/ratios.py "$out/attacks.json" 2>&1 | tee "$out/ratios.txt"
