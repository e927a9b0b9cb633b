#!/usr/bin/env bash
# One seed of the label-flip measurement (docs/poisoning.md, "Label flips"): flip RATE of
# Fashion-MNIST's training labels to uniformly drawn other classes, train the small CNN on the
# flipped set and audit it with the label-margin and k-NN label detectors (rampart audit-data,
# ground truth given for recall and precision only).
#   tools/label_flip_run.sh SEED RATE [OUT]
#   DETECTORS="[label_margin]": the detectors (default: label_margin and knn_labels)
#   EPOCHS=3: the training recipe's epochs (default 5: the recipe the threshold of label_margin was
#     chosen for, docs/poisoning.md)
set -euo pipefail
seed=$1 rate=$2 out=${3:-runs/poisoning/label_flip-$2-s$1}
rampart=${RAMPART:-build/rampart}
fm=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
model='model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}'
cat > "$out/poison_train.yaml" <<YAML
$model
data: {format: idx, images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz}
poison: {attack: label_flip, rate: $rate, seed: $seed}
YAML
"$rampart" data poison "$out/poison_train.yaml" --out "$out/train_poisoned" > /dev/null
cat > "$out/audit.yaml" <<YAML
seed: $seed
$model
data: {format: npy, images: $out/train_poisoned/images.npy, labels: $out/train_poisoned/labels.npy, batch_size: 128}
train: {epochs: ${EPOCHS:-5}, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: $out/model}
audit: {detectors: ${DETECTORS:-[label_margin, knn_labels]}, save_features: true, ground_truth: $out/train_poisoned/poisoned.npy}
YAML
"$rampart" audit-data "$out/audit.yaml" --out "$out/audit" | tee "$out/audit.txt"
