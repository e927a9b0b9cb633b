#!/usr/bin/env bash
# A model's clean accuracy and attack success rate on a poisoning run's trigger, as
# tools/poisoning_run.sh measures them: rampart eval's clean accuracy on the Fashion-MNIST test
# set, and on RUN's triggered non-target test images labelled target (the ASR). Writes
# OUT/eval_{clean,triggered}/report.json and prints one line. Used by the scripts beside it.
#   tools/experiments/measure_model.sh CHECKPOINT RUN OUT LABEL
set -euo pipefail
checkpoint=$1 run=$2 out=$3 label=$4
rampart=${RAMPART:-build/rampart}
python=${PYTHON:-/usr/bin/python3}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
for set in triggered clean; do
  if [[ $set == triggered ]]; then
    d="{format: npy, images: $run/test_triggered/asr_images.npy, labels: $run/test_triggered/asr_labels.npy}"
  else
    d="{format: idx, images: $fm/t10k-images-idx3-ubyte.gz, labels: $fm/t10k-labels-idx1-ubyte.gz}"
  fi
  cat > "$out/eval_$set.yaml" <<YAML
model: {arch: small_cnn, checkpoint: $checkpoint, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}
data: $d
attacks: [{name: fgsm, eps: 0.0}]
YAML
  "$rampart" eval "$out/eval_$set.yaml" --out "$out/eval_$set" --allow-unpinned -q > /dev/null || true
done
"$python" -c "
import json
a = [json.load(open('$out/eval_' + s + '/report.json'))['clean']['accuracy'] for s in ('triggered', 'clean')]
print('$label: clean accuracy %.2f%%, ASR %.2f%%' % (100 * a[1], 100 * a[0]))"
