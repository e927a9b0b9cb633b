#!/usr/bin/env bash
# How much the clean floor of the backdoor bar moves between clean models: trains the small CNN
# on the unpoisoned training set with the recipe of tools/poisoning_run.sh under other training
# seeds, and measures each model's rate of "target" on RUN's triggered test set (the same number
# poisoning_run.sh calls the clean floor). docs/poisoning.md uses it for seed 0 (target shirt),
# whose retrained models' ASR landed above its one clean model's + 1 point with 100% recall.
#   tools/experiments/asr_floor_spread.sh RUN SEED...     RUN: a poisoning_run.sh output directory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
run=$1; shift
rampart=${RAMPART:-build/rampart}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
model='model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}'
for seed in "$@"; do
  out=$run/floor-seed$seed
  mkdir -p "$out"
  if [[ ! -f $out/model/checkpoint.safetensors ]]; then
    cat > "$out/train.yaml" <<YAML
seed: $seed
$model
data: {format: idx, images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz, batch_size: 128}
train: {epochs: ${EPOCHS:-5}, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: $out/model}
YAML
    "$rampart" train "$out/train.yaml" > "$out/train.txt" 2>&1
  fi
  tools/experiments/measure_model.sh "$out/model/checkpoint.safetensors" "$run" "$out" "training seed $seed"
done
