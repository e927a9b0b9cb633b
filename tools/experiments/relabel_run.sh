#!/usr/bin/env bash
# The flagged points relabelled instead of dropped: for a poisoning_run.sh output RUN, predicts
# its audit's flagged points with RUN's sanitised model (retrained with data.exclude) by
# `rampart data relabel`, trains RUN's retraining recipe (same seed) on the relabelled set
# (data.relabel instead of data.exclude), and measures the model's clean accuracy and ASR, beside
# RUN's retrained model and its seed's clean model. docs/poisoning.md ("Relabelling instead of
# dropping") reports it for BadNets 10% and 5%.
#   tools/experiments/relabel_run.sh RUN...     writes RUN/relabel/{relabel.json,model,result.txt}
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rampart=${RAMPART:-build/rampart}
for run in "$@"; do
  out=$run/relabel
  mkdir -p "$out"
  before=$(sha256sum "$out/relabel.json" 2>/dev/null || true)
  "$rampart" data relabel "$run/retrain.yaml" --model "$run/retrained/checkpoint.safetensors" \
    --out "$out/relabel.json" --allow-unpinned > "$out/relabel.txt"
  # A model trained on other labels (the sanitised model was retrained since) is trained again.
  [[ $before == "$(sha256sum "$out/relabel.json")" ]] || rm -rf "$out/model"
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    sed -e "s|exclude: [^,}]*|relabel: $out/relabel.json|" -e "s|output: [^}]*|output: $out/model|" \
      "$run/retrain.yaml" > "$out/train.yaml"
    "$rampart" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  tools/experiments/measure_model.sh "$out/model/checkpoint.safetensors" "$run" "$out" \
    "$(basename "$run") relabelled" | tee "$out/result.txt"
done
