#!/usr/bin/env bash
# One seed's chain of the poisoning measurement (docs/poisoning.md, the issue's tables): the
# unpoisoned run first (its model is the clean floor of the others), then BadNets (checker
# patch) at 5%, 10% and 1%, and the blended trigger at 5%, each by tools/poisoning_run.sh.
#   tools/poisoning_chain.sh SEED ROOT       runs land in ROOT/<attack>-<rate>-s<SEED>
# A run that finished before (its asr_after.txt, or asr_before.txt for the unpoisoned run) is
# skipped, so a stopped chain resumes where it was. The environment goes to poisoning_run.sh
# (RAMPART, THREADS, FASHION_MNIST, PYTHON, POSITION); EPOCHS defaults to 5 and AC to 0 here.
# RUNS="badnets:0.01" runs only those attack:rate pairs after the unpoisoned run.
# tools/gpu_cli_runs.sh runs ten chains at once on a GPU machine; on a CPU:
#   for s in 0 1 2 3 4 5 6 7 8 9; do tools/poisoning_chain.sh $s runs/poisoning/cpu-openblas; done
set -euo pipefail
seed=$1 root=$2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export EPOCHS=${EPOCHS:-5} AC=${AC:-0}
mkdir -p "$root"
log=$root/log-s$seed.txt
clean=$root/none-0-s$seed
if [[ ! -f $clean/asr_before.txt ]]; then
  rm -rf "$clean"
  PATTERN=checker tools/poisoning_run.sh "$seed" 0 none "$clean" >>"$log" 2>&1
fi
export CLEAN_MODEL=$clean/model/checkpoint.safetensors
for run in ${RUNS:-badnets:0.05 badnets:0.1 badnets:0.01 blend:0.05}; do
  attack=${run%:*} rate=${run#*:} pattern=checker
  [[ $attack == blend ]] && pattern=solid
  out=$root/$attack-$rate-s$seed
  [[ -f $out/asr_after.txt ]] && continue
  rm -rf "$out"  # a run stopped half-way starts again from nothing
  PATTERN=$pattern tools/poisoning_run.sh "$seed" "$rate" "$attack" "$out" >>"$log" 2>&1 ||
    echo "poisoning_chain: $out failed (exit $?), see $log" >&2  # the chain goes on
done
