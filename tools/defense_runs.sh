#!/usr/bin/env bash
# Trains the defenses of docs/defenses.md on Fashion-MNIST, evaluates each with
# configs/fmnist_defense_eval.yaml and prints the table (tools/defense_table.py).
#   tools/defense_runs.sh                       # every row (about 2.5 hours on 2 cores)
#   ROWS="fgsm_rs trades" tools/defense_runs.sh # some rows
#   TRAIN=0 tools/defense_runs.sh               # evaluate the models already trained
#   AA=0 tools/defense_runs.sh                  # skip the 500-point AutoAttack evaluations
#   TRAIN=0 ONLY_AA=1 tools/defense_runs.sh     # only the 500-point AutoAttack evaluations
# Training logs and reports go to reports/defenses/<row>/, models to runs/fmnist_<row>/.
# Each model is evaluated twice: on 2,000 points without AutoAttack (reports/defenses/<row>/),
# and with every attack of the config, AutoAttack included, on the first 500 points
# (reports/defenses500/<row>/, the table's AutoAttack column; AutoAttack is the slow one on a CPU).
# The hashes of the trained models go to runs/pinned.sha256, the allowlist every train and eval
# here uses, so each model file read back is pinned to what training wrote.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rampart=${RAMPART:-build/rampart}
out=reports/defenses
out_aa=reports/defenses500
pins=runs/pinned.sha256
mkdir -p runs && touch "$pins"
rows=${ROWS:-standard pgd_at fgsm_rs_fast fgsm_rs fgsm_rs_3ep trades trades_beta1 distillation standard_s1 standard_s2 \
  ensemble3 ensemble_at jpeg median detector}

train_row() {
  local row=$1
  case $row in
    standard) set -- configs/quickstart.yaml --set train.output=runs/fmnist_standard ;;
    trades_beta1) set -- configs/fmnist_trades.yaml --set defense.beta=1.0 \
                        --set train.output=runs/fmnist_trades_beta1 ;;
    fgsm_rs_fast) set -- configs/fmnist_fgsm_rs.yaml --set train.output=runs/fmnist_fgsm_rs_fast ;;
    fgsm_rs|fgsm_rs_3ep) # the earlier recipe: lr 0.05, no warm-up, 5 (or 3) epochs
      set -- configs/fmnist_fgsm_rs.yaml --set train.optimizer.lr=0.05 \
          --set train.schedule.warmup_epochs=0 --set defense.validation.points=1000 \
          --set "train.epochs=$([ "$row" = fgsm_rs ] && echo 5 || echo 3)" \
          --set "train.output=runs/fmnist_${row}" ;;
    standard_s1|standard_s2) set -- configs/quickstart.yaml --set "seed=${row#standard_s}" \
                        --set "train.output=runs/fmnist_${row}" ;;
    ensemble3|jpeg|median|detector) return 0 ;;  # evaluations of the standard models
    *) set -- "configs/fmnist_${row}.yaml" ;;
  esac
  echo "== train ${row}: rampart train $*"
  "$rampart" train "$@" --set "security.allowlist=$pins" > "$out/$row/train.log" 2>&1
  local dir
  dir=$(grep -a -m1 "^checkpoint:" "$out/$row/train.log" | awk '{print $2}' | xargs dirname)
  sha256sum "$dir"/*.safetensors "$dir"/*.pt 2> /dev/null >> "$pins" || true
  grep -a -E "^(epoch [0-9]+/[0-9]+: .* in |time:|validation|robust|most robust)" "$out/$row/train.log" || true
}

for row in $rows; do
  mkdir -p "$out/$row"
  if [ "${TRAIN:-1}" = 1 ]; then train_row "$row"; fi
  case $row in
    standard_s1|standard_s2) continue ;;  # ensemble members and ensemble_at's static models
    ensemble3) set -- configs/fmnist_ensemble_eval.yaml ;;
    jpeg|median|detector) set -- "configs/fmnist_${row}_eval.yaml" ;;
    *) set -- configs/fmnist_defense_eval.yaml --set "model.path=runs/fmnist_${row}/model.pt" ;;
  esac
  echo "== eval ${row}: rampart eval $*"
  if [ "${ONLY_AA:-0}" != 1 ]; then
  without_aa=$(python3 -c 'import json, sys, yaml
attacks = yaml.safe_load(open(sys.argv[1]))["attacks"]
print(json.dumps([a for a in attacks if a["name"] != "autoattack"]))' "$1")
  "$rampart" eval "$@" --set "security.allowlist=$pins" --set "attacks=$without_aa" \
    --out "$out/$row" -q > "$out/$row/eval.log" 2>&1 || [ $? -eq 1 ]
  fi
  [ "${AA:-1}" = 1 ] || continue
  mkdir -p "$out_aa/$row"
  "$rampart" eval "$@" --set "security.allowlist=$pins" --set data.limit=500 \
    --out "$out_aa/$row" -q > "$out_aa/$row/eval.log" 2>&1 || [ $? -eq 1 ]
done
table_rows=()
for row in $rows; do
  case $row in
    standard_s1|standard_s2) ;;
    jpeg|median) table_rows+=("$row" "$row:bpda") ;;
    *) table_rows+=("$row") ;;
  esac
done
python3 tools/defense_table.py "$out" "${table_rows[@]}" --autoattack "$out_aa"
