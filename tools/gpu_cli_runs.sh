#!/bin/bash
# The GPU machine's CLI run (the `device` tool; docs/gpu-validation.md records each one):
#  1. builds the rampart CLI, with the distributed module, and the distributed test suite against
#     the machine's libtorch 2.x (c10d Gloo on 2.x: Gloo's headers from libtorch when it ships
#     them, else the ones tools/gpu_prepare.sh carried; cmake/RampartDependencies.cmake);
#  2. runs the distributed suite (real ranks on loopback, on the machine's CPUs) in the
#     background, one process per test file (a crash in one cannot hide the others);
#  3. runs the poisoning measurement of docs/poisoning.md (tools/poisoning_run.sh) on the GPU for
#     SEEDS, one chain of runs per seed, all chains at once, until BUDGET_SECONDS from the start;
#  4. packs what every finished run wrote, minus the data, models and per-point scores, into
#     $OUT/poisoning.tar.gz (tools/poisoning_table.py reads it as it reads runs/poisoning/...).
# Prepare here first: tools/gpu_prepare.sh   (then carry .gpu-deps in the run)
set -u
start=$(date +%s)
out=${OUT:-gpu-out}
mkdir -p "$out"
OUT_ABS=$(cd "$out" && pwd)
build=build-gpu
seeds=${SEEDS:-0 1 2 3 4 5 6 7 8 9}
deadline=$((start + ${BUDGET_SECONDS:-540}))
step() { echo "=== $* ($(( $(date +%s) - start )) s)"; }

{
  step environment
  source .gpu-deps/device-env.sh
  nvcc --version | tail -1
  torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  echo "libtorch_cpu exports $(nm -D --defined-only "$torch_lib/libtorch_cpu.so" | grep -c gloo) gloo symbols"
  ls -d "$torch_lib/../include/gloo" 2>&1
} 2>&1 | tee "$out/env.txt"
source .gpu-deps/device-env.sh >/dev/null 2>&1
torch_include=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
gloo_include=$torch_include
[ -d "$torch_include/gloo" ] || gloo_include=$PWD/.gpu-deps/gloo-include

configure() {  # $1: ON or OFF (the distributed module)
  # shellcheck disable=SC2086  # RAMPART_GPU_CMAKE_ARGS is a list of arguments
  cmake -S . -B $build -G Ninja $RAMPART_GPU_CMAKE_ARGS -DRAMPART_WITH_DISTRIBUTED="$1" \
    -DRAMPART_GLOO_INCLUDE_DIR="$gloo_include" >>"$out/build.txt" 2>&1
}
{
  step configure
  configure ON || configure OFF || exit 1
  step build rampart_distributed
  if ! cmake --build $build --target rampart_distributed -- -k 0; then
    step "the distributed module does not build here: the CLI without it"
    configure OFF
  fi
  step build rampart_cli rampart_eval_worker distributed_tests
  cmake --build $build --target rampart_cli rampart_eval_worker -- -k 0
  [ -d $build/tests/distributed ] && cmake --build $build --target distributed_tests -- -k 0
  step built
} >>"$out/build.txt" 2>&1
grep -E "^=== |error:|FAILED|Rampart:" "$out/build.txt" | tail -40
[ -x $build/rampart ] || exit 1

test_pids=()
if [ -x $build/tests/distributed/distributed_tests ]; then
  step "distributed_tests, one process per test file (background)"
  mkdir -p /tmp/dist-cases
  # The suite's fixtures read Fashion-MNIST where dataset-fashion-mnist puts it.
  [ -e /usr/share/datasets/fashion-mnist ] ||
    { mkdir -p /usr/share/datasets && ln -s "$PWD/.gpu-deps/fashion-mnist" /usr/share/datasets/fashion-mnist; }
  for f in byzantine_simulation_test distributed_eval_test distributed_training_test \
           message_auth_test update_exchange_test worker_loss_test; do
    (cd $build/tests/distributed &&
       timeout $((deadline - $(date +%s) - 30)) ./distributed_tests -# "[#$f]" --durations yes \
         >/tmp/dist-cases/$f.txt 2>&1; echo "rc $?" >>/tmp/dist-cases/$f.txt) &
    test_pids+=($!)
  done
fi

# One chain per seed (tools/poisoning_chain.sh: the unpoisoned run first, its model the clean floor).
chain() {
  THREADS=1 RAMPART=$build/rampart PYTHON=python3 FASHION_MNIST=$PWD/.gpu-deps/fashion-mnist \
    tools/poisoning_chain.sh "$1" runs/poisoning/gpu
}
mkdir -p runs/poisoning/gpu
step "poisoning chains for seeds $seeds"
pids=()
for s in $seeds; do chain "$s" & pids+=($!); done
running() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while (( $(date +%s) < deadline - 25 )) && running; do sleep 5; done
step "packing"
python3 - <<'PY'
import json, os
root = "runs/poisoning/gpu"
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d, "audit", "audit.json")
    try:  # the per-point scores stay behind (60,000 of them per detector)
        a = json.load(open(p))
        a.pop("scores", None)
        json.dump(a, open(p, "w"))
    except (OSError, ValueError):  # not written yet, or being written when the deadline came
        pass
PY
(cd runs/poisoning && tar czf "$OUT_ABS/poisoning.tar.gz" --exclude='*.npy' --exclude='*.safetensors' \
  --exclude='*.pt' --exclude='*.html' --exclude='*.png' --exclude='eval_*' gpu)
python3 tools/poisoning_table.py runs/poisoning/gpu >"$OUT_ABS/table.md" 2>&1
tail -12 "$OUT_ABS/table.md"
step done
(( ${#test_pids[@]} )) && wait "${test_pids[@]}"  # each ends by its own timeout
for f in /tmp/dist-cases/*.txt; do echo "##### $f"; cat "$f"; done >"$OUT_ABS/distributed_tests.txt" 2>/dev/null
grep -E "^##### |test cases|All tests|rc " "$OUT_ABS/distributed_tests.txt" 2>/dev/null
