#!/usr/bin/env bash
# One seed of the poisoning measurement (docs/poisoning.md): poison Fashion-MNIST's training
# set (BadNets 3x3 patch, value 1, at a border position drawn from the seed, target drawn from
# the seed), train the small CNN on it and audit it (rampart audit-data, no target or rate
# given), retrain without the flagged points (data.exclude), and measure the attack success
# rate (ASR: clean accuracy on every non-target test image with the trigger, labelled target)
# before and after.
#   tools/poisoning_run.sh SEED RATE [ATTACK] [OUT]     ATTACK: badnets (default) | blend | none
#   EPOCHS=5 (default 3): the training recipe's epochs, for the poisoned and the retrained model
#   AC=0: skip the activation-clustering comparison audit
#   RETRAIN=0: stop after the audit and the poisoned model's ASR (detector checks on the CPU)
#   RELABEL=0: skip the second retraining, with the flagged points relabelled (relabel_run.sh)
#   DETECTORS="[spectral]": the detectors of the audit whose flags the retraining excludes
#   CLEAN_MODEL=CHECKPOINT: a model trained on the unpoisoned data by the same recipe; its ASR on
#     this run's trigger (the clean floor) goes to asr_floor.txt
#   REUSE_MODEL=1: keep the model a previous run of the same OUT trained; audit it again
#   PATTERN=checker (default solid): the patch alternates 1 and 0, visible on bright garments too
#   POSITION=corner (default border): the patch in one of the four corners drawn from the seed;
#     POSITION=top: in one of the two top corners, where garments reach least (docs/poisoning.md);
#     POSITION=quiet: at (0, 0), (0, 1) or (1, 0), the border positions no class's garments reach
#   THREADS=N: the intra-op threads of every rampart step (default: all cores); FASHION_MNIST=DIR:
#     where the IDX files are (default /usr/share/datasets/fashion-mnist); PYTHON: a python3 with
#     numpy (default /usr/bin/python3). tools/gpu_poisoning_runs.sh runs many seeds on a GPU.
set -euo pipefail
seed=$1 rate=$2 attack=${3:-badnets} out=${4:-runs/poisoning/${3:-badnets}-$2-s$1}
rampart=${RAMPART:-build/rampart}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
python=${PYTHON:-/usr/bin/python3}
threads="threads: ${THREADS:-0}"
# tools/bootstrap.sh with a target (README's quickstart) installs no numpy; say so before any step.
"$python" -c "import numpy" 2>/dev/null ||
  { echo "poisoning_run: $python has no numpy (apt-get install python3-numpy, or PYTHON=...)" >&2; exit 2; }
mkdir -p "$out"
# Target and position from the seed: a border position (rows/cols 0-2 or 25-27 hold the image's
# black frame), or with POSITION=corner one of the four corners (BadNets' placement), where
# garments almost never reach, or with POSITION=top one of the two top corners (under 1% of any
# class's training images is bright there, against up to 5.8% at the bottom corners), or with
# POSITION=quiet one of the three border positions where at most 0.3% of every class's training
# images is bright under the patch (mean above 0.3; the top-right corner: 0.85% of ankle boots). The target is the same draw in every case.
read -r target row col < <(python3 -c "
import random; r = random.Random($seed)
t = r.randrange(10)
if '${POSITION:-border}' == 'corner':
    print(t, r.choice([0, 25]), r.choice([0, 25]))
elif '${POSITION:-border}' == 'top':
    print(t, 0, r.choice([0, 25]))
elif '${POSITION:-border}' == 'quiet':
    print(t, *r.choice([(0, 0), (0, 1), (1, 0)]))
else:
    side = r.randrange(4); a = r.choice([0, 1, 25]); b = r.randrange(26)
    print(t, *([a, b] if side < 2 else [b, a]))")
echo "seed $seed rate $rate attack $attack target $target patch ($row, $col) epochs ${EPOCHS:-3} pattern ${PATTERN:-solid} position ${POSITION:-border}" > "$out/setup.txt"
model='model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}'
train='train: {epochs: '${EPOCHS:-3}', optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: OUTPUT}'
if [[ $attack == blend ]]; then trig='{type: blend, alpha: 0.2, pattern_seed: '$seed'}'
else trig="{type: patch, size: 3, row: $row, col: $col, value: 1.0, pattern: ${PATTERN:-solid}}"; fi
# The triggered test set (every non-target image, labelled target): ASR = its clean accuracy.
cat > "$out/poison_test.yaml" <<YAML
$model
data: {format: idx, images: $fm/t10k-images-idx3-ubyte.gz, labels: $fm/t10k-labels-idx1-ubyte.gz}
poison: {attack: ${attack/none/badnets}, rate: 0.9, target: $target, seed: $seed, trigger: $trig}
YAML
"$rampart" data poison "$out/poison_test.yaml" --out "$out/test_triggered" > /dev/null
"$python" -c "
import numpy as np; d = '$out/test_triggered/'; i = np.load(d + 'poisoned.npy')
np.save(d + 'asr_images.npy', np.load(d + 'images.npy')[i]); np.save(d + 'asr_labels.npy', np.load(d + 'labels.npy')[i])"
if [[ $attack == none ]]; then
  data="{format: idx, images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz, batch_size: 128}"
  truth=""
else
  cat > "$out/poison_train.yaml" <<YAML
$model
data: {format: idx, images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz}
poison: {attack: $attack, rate: $rate, target: $target, seed: $seed, trigger: $trig}
YAML
  "$rampart" data poison "$out/poison_train.yaml" --out "$out/train_poisoned" > /dev/null
  data="{format: npy, images: $out/train_poisoned/images.npy, labels: $out/train_poisoned/labels.npy, batch_size: 128}"
  truth=", ground_truth: $out/train_poisoned/poisoned.npy"
fi
cat > "$out/audit.yaml" <<YAML
seed: $seed
$threads
$model
data: $data
${train/OUTPUT/$out/model}
audit: {detectors: ${DETECTORS:-[spectral]}, save_features: true$truth}
YAML
if [[ ${REUSE_MODEL:-0} == 1 && -f $out/model/checkpoint.safetensors ]]; then
  # Re-audit the model an earlier run of this script trained (a changed detector): no training.
  "$rampart" audit-data "$out/audit.yaml" --out "$out/audit" --set security.allow_unpinned=true \
    --set model.checkpoint="$out/model/checkpoint.safetensors" | tee "$out/audit.txt"
else
  "$rampart" audit-data "$out/audit.yaml" --out "$out/audit" | tee "$out/audit.txt"
fi
# Activation clustering on the same model, for comparison (not used for the retraining).
[[ ${AC:-1} == 0 ]] || "$rampart" audit-data "$out/audit.yaml" --out "$out/audit_ac" --set security.allow_unpinned=true \
  --set model.checkpoint="$out/model/checkpoint.safetensors" \
  --set 'audit.detectors=[activation_clustering]' --set audit.save_features=false > "$out/audit_ac.txt"
asr() {  # checkpoint -> ASR and clean accuracy, via rampart eval's clean accuracy
  for set in triggered clean; do
    if [[ $set == triggered ]]; then d="{format: npy, images: $out/test_triggered/asr_images.npy, labels: $out/test_triggered/asr_labels.npy}"
    else d="{format: idx, images: $fm/t10k-images-idx3-ubyte.gz, labels: $fm/t10k-labels-idx1-ubyte.gz}"; fi
    cat > "$out/eval_$set.yaml" <<YAML
$threads
model: {arch: small_cnn, checkpoint: $1, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}
data: $d
attacks: [{name: fgsm, eps: 0.0}]
YAML
    "$rampart" eval "$out/eval_$set.yaml" --out "$2_$set" --allow-unpinned -q > /dev/null || true
    python3 -c "import json; print('$set', json.load(open('$2_$set/report.json'))['clean']['accuracy'])"
  done
}
asr "$out/model/checkpoint.safetensors" "$out/eval_poisoned" | tee "$out/asr_before.txt"
[[ -z ${CLEAN_MODEL:-} ]] || asr "$CLEAN_MODEL" "$out/eval_floor" | tee "$out/asr_floor.txt"
if [[ $attack != none && ${RETRAIN:-1} != 0 ]]; then
  cat > "$out/retrain.yaml" <<YAML
seed: $seed
$threads
$model
data: {format: npy, images: $out/train_poisoned/images.npy, labels: $out/train_poisoned/labels.npy, batch_size: 128, exclude: $out/audit}
${train/OUTPUT/$out/retrained}
YAML
  "$rampart" train "$out/retrain.yaml" | tee "$out/retrain.txt"
  asr "$out/retrained/checkpoint.safetensors" "$out/eval_retrained" | tee "$out/asr_after.txt"
  # The flagged points relabelled by the sanitised model instead of dropped, and retrained.
  [[ ${RELABEL:-1} == 0 ]] || RAMPART="$rampart" "$(dirname "${BASH_SOURCE[0]}")/experiments/relabel_run.sh" "$out"
fi
