#!/bin/bash
# The distributed suite on the GPU machine's libtorch 2.x (c10d Gloo; docs/gpu-validation.md):
# builds it with CUDA off (the suite needs none), runs each test file's cases in a process of
# their own, all files at once (one crash cannot hide the other files' results), and a
# backtrace of CRASH_FILE's cases under cuda-gdb (the machine has no gdb).
# Prepare here first: tools/gpu_prepare.sh   (then carry .gpu-deps in the run)
set -u
start=$(date +%s)
out=${OUT:-gpu-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=build-gpu
deadline=$((start + ${BUDGET_SECONDS:-280}))
source .gpu-deps/device-env.sh >"$out/env.txt" 2>&1
# The suite's fixtures read Fashion-MNIST where dataset-fashion-mnist puts it.
[ -e /usr/share/datasets/fashion-mnist ] ||
  { mkdir -p /usr/share/datasets && ln -s "$PWD/.gpu-deps/fashion-mnist" /usr/share/datasets/fashion-mnist; }
torch_include=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
gloo_include=$torch_include
[ -d "$torch_include/gloo" ] || gloo_include=$PWD/.gpu-deps/gloo-include
# shellcheck disable=SC2086  # RAMPART_GPU_CMAKE_ARGS is a list of arguments
cmake -S . -B $build -G Ninja $RAMPART_GPU_CMAKE_ARGS -DRAMPART_WITH_CUDA=OFF \
  -DRAMPART_WITH_DISTRIBUTED=ON -DRAMPART_GLOO_INCLUDE_DIR="$gloo_include" >"$out/build.txt" 2>&1
cmake --build $build --target rampart_cli rampart_eval_worker distributed_tests -- -k 0 >>"$out/build.txt" 2>&1
echo "built at $(( $(date +%s) - start )) s"
grep -E "error:|FAILED" "$out/build.txt" | head -20
cd $build/tests/distributed || exit 1
mkdir -p /tmp/cases
left=$((deadline - $(date +%s)))
for f in byzantine_simulation_test distributed_eval_test distributed_training_test message_auth_test \
         update_exchange_test worker_loss_test; do
  (timeout $((left - 15)) ./distributed_tests -# "[#$f]" --durations yes >/tmp/cases/$f.txt 2>&1
   echo "rc $?" >>/tmp/cases/$f.txt) &
done
(timeout $((left - 15)) cuda-gdb -batch -ex run -ex bt -ex "info threads" \
   --args ./distributed_tests -# "[#${CRASH_FILE:-distributed_eval_test}]" >/tmp/cases/backtrace.txt 2>&1) &
wait
for f in /tmp/cases/*.txt; do echo "##### $f"; cat "$f"; done >"$out/cases.txt"
grep -E "^##### |test cases|rc |SIGSEGV|FAILED" "$out/cases.txt"
echo "done at $(( $(date +%s) - start )) s"
