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
  "$rampart" data relabel "$run/retrain.yaml" --model "$run/retrained/checkpoint.safetensors" \
    --out "$out/relabel.new.json" --allow-unpinned > "$out/relabel.txt"
  # The same relabelling as before (all but its created_at) keeps the earlier file, so a model
  # trained on it is kept; a model trained on other labels (its checkpoint records the SHA-256
  # of its relabel file) is trained again.
  python3 - "$out" <<'PY'
import hashlib, json, os, struct, sys
out = sys.argv[1]
new, old, model = (os.path.join(out, f) for f in ("relabel.new.json", "relabel.json", "model/checkpoint.safetensors"))
def entries(path):
    return {k: v for k, v in json.load(open(path)).items() if k != "created_at"}
if os.path.exists(old) and entries(old) == entries(new):
    os.remove(new)
else:
    os.replace(new, old)
if os.path.exists(model):
    with open(model, "rb") as f:
        meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0])).get("__metadata__", {})
    if meta.get("data_relabel_sha256") != hashlib.sha256(open(old, "rb").read()).hexdigest():
        os.remove(model)
PY
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    sed -e "s|exclude: [^,}]*|relabel: $out/relabel.json|" -e "s|output: [^}]*|output: $out/model|" \
      "$run/retrain.yaml" > "$out/train.yaml"
    "$rampart" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  tools/experiments/measure_model.sh "$out/model/checkpoint.safetensors" "$run" "$out" \
    "$(basename "$run") relabelled" | tee "$out/result.txt"
done
