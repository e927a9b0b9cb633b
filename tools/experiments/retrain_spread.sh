#!/usr/bin/env bash
# How much a sanitised retraining's clean accuracy moves with the training seed alone: retrains
# RUN's poisoned training set without the detector's flags (RUN/audit, as tools/poisoning_run.sh
# did) under other training seeds, and measures each model's clean accuracy and ASR. For a run
# whose retrained model missed the clean-accuracy bar with few false positives (docs/poisoning.md).
# For an unpoisoned run (none-0-sN, no retraining) it trains the clean model again instead: the
# audit's training section on the clean set.
#   tools/experiments/retrain_spread.sh RUN SEED...     RUN: a poisoning_run.sh output directory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
run=$1; shift
epochs=$(sed -n 's/.* epochs \([0-9]*\).*/\1/p' "$run/setup.txt")
for seed in "$@"; do
  out=$run/retrain-seed$seed
  mkdir -p "$out"
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    recipe=$run/retrain.yaml
    [[ -f $recipe ]] || recipe=$run/audit.yaml
    sed -e "s|^seed: .*|seed: $seed|" -e "s|output: [^}]*|output: $out/model|" -e "/^audit:/d" "$recipe" > "$out/train.yaml"
    "${RAMPART:-build/rampart}" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  tools/experiments/measure_model.sh "$out/model/checkpoint.safetensors" "$run" "$out" \
    "$run $([[ -f $run/retrain.yaml ]] && echo retrained || echo "clean model"), training seed $seed ($epochs epochs)" | tee "$out/result.txt"
done
