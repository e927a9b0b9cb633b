#!/usr/bin/env bash
# The attack x rule table of docs/distributed.md: 12 local workers (10 honest + 2 Byzantine),
# Fashion-MNIST, heterogeneity 0.5, the 784-32-10 MLP, 800 rounds, for each seed, rule and
# attack, `rampart train configs/fmnist_byzantine.yaml`; prints the held-out accuracy's mean and
# spread per cell. Every rule gets ByzFL's worker momentum 0.9 unless MOMENTUM says otherwise.
#   tools/byzantine_table.sh                  # every cell, seeds 0 1 2 (about 1 minute each)
#   SEEDS=0 RULES="mean" ATTACKS="ipm" tools/byzantine_table.sh
#   (RULES may also name mda and meamed, which the default table leaves out; ATTACKS may also
#   name label_flip_own, mimic, inf and alie_neg: ALIE at tau -1.5, its authors' sign)
#   EPOCHS=10 tools/byzantine_table.sh       # 1,600 rounds (reports/byzantine_e10/)
#   EPOCHS=1 tools/byzantine_table.sh        # 160 rounds (reports/byzantine_e1/)
#   MOMENTUM=0 tools/byzantine_table.sh      # no worker momentum (reports/byzantine_m0/)
#   BATCH=10 tools/byzantine_table.sh        # batch 10 instead of ByzFL's 25: 400 rounds an epoch
#   DEFENSE=pgd_at RULES=arc_nnm_trimmed_mean ATTACKS="none alie" tools/byzantine_table.sh
#     every worker trains with PGD-AT (eps 0.1, 5 steps); each model is then evaluated by
#     PGD-20 at eps 0.1 on the first 2,000 test images, and the table gives clean / PGD-20
# Logs go to reports/byzantine[_pgd_at]/<rule>/<attack>/seed<k>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rampart=${RAMPART:-build/rampart}
out=reports/byzantine
defense=${DEFENSE:-}
epochs=${EPOCHS:-5}  # 160 rounds each
extra=(--set "train.epochs=$epochs")
if [ "$defense" = pgd_at ]; then
  out=reports/byzantine_pgd_at
  extra+=(--set "defense={method: pgd_at, eps: 0.1, steps: 5, random_init: true}")
elif [ -n "$defense" ]; then
  echo "DEFENSE: pgd_at or nothing" >&2; exit 2
fi
[ "$epochs" = 5 ] || out="${out}_e${epochs}"
momentum=${MOMENTUM:-0.9}  # worker momentum of every rule
[ "$momentum" = 0.9 ] || out="${out}_m${momentum}"
batch=${BATCH:-25}  # each worker's batch size
[ "$batch" = 25 ] || { out="${out}_b${batch}"; extra+=(--set "data.batch_size=$batch"); }
keys=$out/workers.keys
seeds=${SEEDS:-0 1 2}
workers=${WORKERS:-12}
byzantine=${BYZANTINE:-2}
attacks=${ATTACKS:-none sign_flip ipm alie label_flip gaussian alie_opt ipm_opt}
declare -A rule_yaml=(
  [mean]="{name: mean, momentum: $momentum}"
  [median]="{name: median, momentum: $momentum}"
  [trimmed_mean]="{name: trimmed_mean, f: $byzantine, momentum: $momentum}"
  [krum]="{name: krum, f: $byzantine, momentum: $momentum}"
  [geometric_median]="{name: geometric_median, momentum: $momentum}"
  [arc_nnm_trimmed_mean]="{name: trimmed_mean, f: $byzantine, pre: [arc, nnm], momentum: $momentum}"
  [centered_clipping]="{name: centered_clipping, tau: 1.0, momentum: $momentum}"
  [mda]="{name: mda, f: $byzantine, momentum: $momentum}"
  [meamed]="{name: meamed, f: $byzantine, momentum: $momentum}"
  [caf]="{name: caf, f: $byzantine, momentum: $momentum}"
)
rules=${RULES:-mean median trimmed_mean krum geometric_median arc_nnm_trimmed_mean centered_clipping caf}
mkdir -p "$out"
if [ ! -f "$keys" ]; then
  for ((r = 0; r < workers; r++)); do echo "$r $(openssl rand -hex 32)"; done > "$keys"
  chmod 600 "$keys"
fi
for rule in $rules; do
  for attack in $attacks; do
    mkdir -p "$out/$rule/$attack"
    for seed in $seeds; do
      log="$out/$rule/$attack/seed$seed.log"
      run="$out/$rule/$attack/run$seed"
      if ! { [ -s "$log" ] && grep -q "^validation accuracy" "$log"; }; then
      byz="{count: $byzantine, attack: $attack}"
      [ "$attack" = ipm ] && byz="{count: $byzantine, attack: ipm, tau: 6.0}"  # > (n - f) / f = 5
      # ALIE with the sign of its authors' code (Baruch et al., moranant/attacking_distributed_learning
      # malicious.py: mean - 1.5 std); `alie` is ByzFL's mean + 1.5 std
      [ "$attack" = alie_neg ] && byz="{count: $byzantine, attack: alie, tau: -1.5}"
      n=$workers
      # The honest-only run: the 10 honest workers alone.
      if [ "$attack" = none ]; then byz="{count: 0, attack: ipm}"; n=$((workers - byzantine)); fi
      "$rampart" train configs/fmnist_byzantine.yaml --set "seed=$seed" \
        --set "distributed.workers=$n" --set "distributed.aggregator=${rule_yaml[$rule]}" \
        --set "distributed.simulate_byzantine=$byz" --set "distributed.auth.keys=$keys" \
        "${extra[@]}" --set "train.output=$run" > "$log" 2>&1 || true
      fi
      if [ -n "$defense" ] && [ ! -s "$run/eval/report.json" ] && [ -f "$run/model.pt" ]; then
        # model.pt pinned to the hash the training run printed
        sha=$(grep -a -A1 "^torchscript:" "$log" | awk '/sha256:/ {print $2}')
        "$rampart" eval configs/fmnist_defense_eval.yaml --set "model.path=$run/model.pt" \
          --set "model.sha256=$sha" --set "threads=1" \
          --set "attacks=[{name: pgd, norm: linf, eps: 0.1, steps: 20}]" \
          --out "$run/eval" -q > "$out/$rule/$attack/eval$seed.log" 2>&1 || true
      fi
    done
  done
done
python3 - "$out" "$defense" $rules -- $attacks <<'PY'
import json, re, statistics, sys, os
root, defense = sys.argv[1], sys.argv[2]
split = sys.argv.index("--")
rules, attacks = sys.argv[3:split], sys.argv[split + 1:]

def cell(values):  # mean ± sample standard deviation over the seeds run; fewer than 3 said
    if not values: return "-"
    if len(values) == 1: return f"{values[0]:.1f} (1 seed)"
    text = f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"
    return text if len(values) >= 3 else f"{text} ({len(values)} seeds)"

print("| rule | " + " | ".join(attacks) + " |")
print("| --- | " + " | ".join("---" for _ in attacks) + " |")
for rule in rules:
    cells = []
    for attack in attacks:
        folder = os.path.join(root, rule, attack)
        seeds = sorted(n[4:-4] for n in os.listdir(folder) if re.fullmatch(r"seed\d+\.log", n)) \
            if os.path.isdir(folder) else []
        if defense:  # clean / PGD-20 accuracy on the test images, from each model's report
            clean, robust = [], []
            for k in seeds:
                path = os.path.join(folder, f"run{k}", "eval", "report.json")
                if not os.path.exists(path): continue
                report = json.load(open(path))
                clean.append(100 * report["clean"]["accuracy"])
                robust.append(100 * report["attacks"][0]["robust_accuracy"])
            cells.append(cell(clean) + " / " + cell(robust) if clean else "-")
            continue
        values = []
        for k in seeds:
            m = re.search(r"^validation accuracy: ([0-9.]+)%",
                          open(os.path.join(folder, f"seed{k}.log")).read(), re.M)
            if m: values.append(float(m.group(1)))
        cells.append(cell(values))
    print(f"| {rule} | " + " | ".join(cells) + " |")
PY
