#!/usr/bin/env bash
# What sanitising costs by itself: retrains RUN's poisoned training set without exactly its
# poisoned points (the ground truth, not the detector's flags: an oracle sanitiser) by RUN's own
# retraining config (recipe and seed), and measures the model's clean accuracy and ASR. Beside
# RUN's retrained model (the detector's flags) and its seed's clean model (all 60,000 clean
# images), it separates the detector's share of a clean-accuracy gap (false positives, missed
# poisons) from the images the attack took away. docs/poisoning.md uses it for BadNets 10%.
#   tools/experiments/oracle_sanitised.sh RUN...     RUN: a poisoning_run.sh output directory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rampart=${RAMPART:-build/rampart}
python=${PYTHON:-/usr/bin/python3}
for run in "$@"; do
  out=$run/oracle
  mkdir -p "$out"
  # The ground truth as a data audit, so that data.exclude reads it like the detector's.
  "$python" -c "
import json, numpy as np
idx = sorted(int(i) for i in np.load('$run/train_poisoned/poisoned.npy'))
points = len(np.load('$run/train_poisoned/labels.npy', mmap_mode='r'))
json.dump({'schema': 'rampart-data-audit/1', 'flagged': idx, 'data': {'points': points}}, open('$out/audit.json', 'w'))"
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    # RUN's own retraining config with the ground truth excluded instead of the flags.
    sed -e "s|exclude: [^,}]*|exclude: $out/audit.json|" -e "s|output: [^}]*|output: $out/model|" \
      "$run/retrain.yaml" > "$out/train.yaml"
    "$rampart" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  tools/experiments/measure_model.sh "$out/model/checkpoint.safetensors" "$run" "$out" \
    "$run oracle-sanitised" | tee "$out/result.txt"
done
