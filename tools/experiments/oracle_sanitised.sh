#!/usr/bin/env bash
# What sanitising costs by itself: retrains RUN's poisoned training set without exactly its
# poisoned points (the ground truth, not the detector's flags: an oracle sanitiser) by the recipe
# and seed of tools/poisoning_run.sh, and measures the model's clean accuracy and ASR. Set beside
# RUN's own retrained model (the detector's flags) and its seed's clean model (all 60,000 clean
# images), it tells the detector's share of a clean-accuracy gap (false positives, missed
# poisons) from the share of the images the attack took away. docs/poisoning.md uses it for the
# BadNets 10% rows, whose retrained models lie up to 0.53 points under their clean models.
#   tools/experiments/oracle_sanitised.sh RUN...     RUN: a poisoning_run.sh output directory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rampart=${RAMPART:-build/rampart}
python=${PYTHON:-/usr/bin/python3}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
model='model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}'
for run in "$@"; do
  out=$run/oracle
  mkdir -p "$out"
  seed=$(awk '{print $2; exit}' "$run/setup.txt")
  epochs=$(sed -n 's/.* epochs \([0-9]*\).*/\1/p' "$run/setup.txt")
  # The ground truth as a data audit, so that data.exclude reads it like the detector's.
  "$python" -c "
import json, numpy as np
idx = sorted(int(i) for i in np.load('$run/train_poisoned/poisoned.npy'))
json.dump({'schema': 'rampart-data-audit/1', 'flagged': idx, 'data': {'points': 60000}}, open('$out/audit.json', 'w'))"
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    cat > "$out/train.yaml" <<YAML
seed: $seed
$model
data: {format: npy, images: $run/train_poisoned/images.npy, labels: $run/train_poisoned/labels.npy, batch_size: 128, exclude: $out/audit.json}
train: {epochs: $epochs, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: $out/model}
YAML
    "$rampart" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  for set in triggered clean; do
    if [[ $set == triggered ]]; then
      d="{format: npy, images: $run/test_triggered/asr_images.npy, labels: $run/test_triggered/asr_labels.npy}"
    else
      d="{format: idx, images: $fm/t10k-images-idx3-ubyte.gz, labels: $fm/t10k-labels-idx1-ubyte.gz}"
    fi
    cat > "$out/eval_$set.yaml" <<YAML
model: {arch: small_cnn, checkpoint: $out/model/checkpoint.safetensors, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}
data: $d
attacks: [{name: fgsm, eps: 0.0}]
YAML
    "$rampart" eval "$out/eval_$set.yaml" --out "$out/eval_$set" --allow-unpinned -q > /dev/null || true
  done
  "$python" -c "
import json
a = [json.load(open('$out/eval_' + s + '/report.json'))['clean']['accuracy'] for s in ('triggered', 'clean')]
print('$run oracle-sanitised: clean accuracy %.2f%%, ASR %.2f%%' % (100 * a[1], 100 * a[0]))" | tee "$out/result.txt"
done
