#!/usr/bin/env bash
# Label flips repaired instead of dropped: for a tools/label_flip_run.sh output RUN (flip seed
# SEED), retrains the same recipe without the audit's flagged points (data.exclude), relabels the
# flagged points with that model (`rampart data relabel`), trains on the relabelled set
# (data.relabel), trains the same recipe and seed on the unflipped data (the clean model), and
# prints the test accuracy of the four models and what the relabelling did to the flips
# (docs/poisoning.md, "Label flips relabelled").
#   DETECTORS="[label_margin]" tools/label_flip_run.sh SEED 0.05   (first: the audit)
#   tools/experiments/label_flip_relabel.sh SEED [RUN]
#   writes RUN/{retrained,relabel,clean}/ and RUN/relabel/result.txt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seed=$1
run=${2:-runs/poisoning/label_flip-0.05-s$seed}
rampart=${RAMPART:-build/rampart}
python=${PYTHON:-/usr/bin/python3}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
model='model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}'
flipped="{format: npy, images: $run/train_poisoned/images.npy, labels: $run/train_poisoned/labels.npy, batch_size: 128"
clean="{format: idx, images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz, batch_size: 128"
train() {  # NAME DATA: the recipe of tools/label_flip_run.sh, same seed
  mkdir -p "$run/$1"
  if [[ ! -f $run/$1/model/checkpoint.safetensors ]]; then
    cat > "$run/$1/train.yaml" <<YAML
seed: $seed
$model
data: $2}
train: {epochs: ${EPOCHS:-5}, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: $run/$1/model}
YAML
    "$rampart" train "$run/$1/train.yaml" > "$run/$1/train.txt" 2>&1
  fi
}
test_accuracy() {  # CHECKPOINT OUT: clean accuracy on the Fashion-MNIST test set
  cat > "$2/eval.yaml" <<YAML
model: {arch: small_cnn, checkpoint: $1, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}
data: {format: idx, images: $fm/t10k-images-idx3-ubyte.gz, labels: $fm/t10k-labels-idx1-ubyte.gz}
attacks: [{name: fgsm, eps: 0.0}]
YAML
  "$rampart" eval "$2/eval.yaml" --out "$2/eval" --allow-unpinned -q > /dev/null || true
  "$python" -c "import json; print('%.2f' % (100 * json.load(open('$2/eval/report.json'))['clean']['accuracy']))"
}

train retrained "$flipped, exclude: $run/audit"
mkdir -p "$run/relabel"
"$rampart" data relabel "$run/retrained/train.yaml" --model "$run/retrained/model/checkpoint.safetensors" \
  --out "$run/relabel/relabel.json" --allow-unpinned > "$run/relabel/relabel.txt"
train relabel "$flipped, relabel: $run/relabel/relabel.json"
train clean "$clean"

acc_flipped=$(test_accuracy "$run/model/checkpoint.safetensors" "$run")
acc_dropped=$(test_accuracy "$run/retrained/model/checkpoint.safetensors" "$run/retrained")
acc_relabelled=$(test_accuracy "$run/relabel/model/checkpoint.safetensors" "$run/relabel")
acc_clean=$(test_accuracy "$run/clean/model/checkpoint.safetensors" "$run/clean")
"$python" - "$run" "$fm" "$acc_flipped" "$acc_dropped" "$acc_relabelled" "$acc_clean" <<'PY' | tee "$run/relabel/result.txt"
import gzip, json, sys
import numpy as np
run, fm, flipped, dropped, relabelled, clean = sys.argv[1:]
with gzip.open(fm + "/train-labels-idx1-ubyte.gz") as f:
    truth = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
flips = set(np.load(run + "/train_poisoned/poisoned.npy").astype(np.int64).tolist())
r = json.load(open(run + "/relabel/relabel.json"))
moved = [(e["index"], e["to"]) for e in r["relabelled"]]
restored = sum(i in flips and truth[i] == to for i, to in moved)
flips_wrong = sum(i in flips and truth[i] != to for i, to in moved)
clean_broken = sum(i not in flips for i, _ in moved)  # a clean point given another label
left = r["left_out"]
flips_left_out = sum(i in flips for i in left)
flagged_flips = restored + flips_wrong + flips_left_out
print(f"{run.rstrip('/').split('/')[-1]}: flips {len(flips)}, flagged {len(moved) + len(left)} "
      f"({flagged_flips} flips); relabelled {len(moved)}: {restored} flips to their true class, "
      f"{flips_wrong} flips to another wrong class, {clean_broken} clean points mislabelled; "
      f"left out {len(left)} ({flips_left_out} flips); wrong labels in training: "
      f"flipped {len(flips)}, dropped {len(flips) - flagged_flips}, "
      f"relabelled {len(flips) - flagged_flips + flips_wrong + clean_broken}; "
      f"test accuracy: flipped {flipped}%, dropped {dropped}%, relabelled {relabelled}%, clean {clean}%")
PY
