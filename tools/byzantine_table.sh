#!/usr/bin/env bash
# The attack x rule table of docs/distributed.md: 12 local workers (10 honest + 2 Byzantine),
# Fashion-MNIST, heterogeneity 0.5, the 784-32-10 MLP, 800 rounds, for each seed, rule and
# attack, `rampart train configs/fmnist_byzantine.yaml`; prints the held-out accuracy's mean and
# spread per cell. Every rule gets ByzFL's worker momentum 0.9.
#   tools/byzantine_table.sh                  # every cell, seeds 0 1 2 (about 1.5 minutes each)
#   SEEDS=0 RULES="mean" ATTACKS="ipm" tools/byzantine_table.sh
#   (RULES may also name mda and meamed, which the default table leaves out)
# Logs go to reports/byzantine/<rule>/<attack>/seed<k>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rampart=${RAMPART:-build/rampart}
out=reports/byzantine
keys=$out/workers.keys
seeds=${SEEDS:-0 1 2}
workers=${WORKERS:-12}
byzantine=${BYZANTINE:-2}
attacks=${ATTACKS:-none sign_flip ipm alie label_flip gaussian alie_opt ipm_opt}
declare -A rule_yaml=(
  [mean]="{name: mean, momentum: 0.9}"
  [median]="{name: median, momentum: 0.9}"
  [trimmed_mean]="{name: trimmed_mean, f: $byzantine, momentum: 0.9}"
  [krum]="{name: krum, f: $byzantine, momentum: 0.9}"
  [geometric_median]="{name: geometric_median, momentum: 0.9}"
  [arc_nnm_trimmed_mean]="{name: trimmed_mean, f: $byzantine, pre: [arc, nnm], momentum: 0.9}"
  [centered_clipping]="{name: centered_clipping, tau: 1.0, momentum: 0.9}"
  [mda]="{name: mda, f: $byzantine, momentum: 0.9}"
  [meamed]="{name: meamed, f: $byzantine, momentum: 0.9}"
)
rules=${RULES:-mean median trimmed_mean krum geometric_median arc_nnm_trimmed_mean centered_clipping}
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
      [ -s "$log" ] && grep -q "^validation accuracy" "$log" && continue
      byz="{count: $byzantine, attack: $attack}"
      [ "$attack" = ipm ] && byz="{count: $byzantine, attack: ipm, tau: 6.0}"  # > (n - f) / f = 5
      n=$workers
      # The honest-only run: the 10 honest workers alone.
      if [ "$attack" = none ]; then byz="{count: 0, attack: ipm}"; n=$((workers - byzantine)); fi
      "$rampart" train configs/fmnist_byzantine.yaml --set "seed=$seed" \
        --set "distributed.workers=$n" --set "distributed.aggregator=${rule_yaml[$rule]}" \
        --set "distributed.simulate_byzantine=$byz" --set "distributed.auth.keys=$keys" \
        --set "train.output=$out/$rule/$attack/run$seed" > "$log" 2>&1 || true
    done
  done
done
python3 - "$out" $rules -- $attacks <<'PY'
import re, statistics, sys, os
root = sys.argv[1]; split = sys.argv.index("--")
rules, attacks = sys.argv[2:split], sys.argv[split + 1:]
print("| rule | " + " | ".join(attacks) + " |")
print("| --- | " + " | ".join("---" for _ in attacks) + " |")
for rule in rules:
    cells = []
    for attack in attacks:
        values = []
        folder = os.path.join(root, rule, attack)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".log"):
                m = re.search(r"^validation accuracy: ([0-9.]+)%", open(os.path.join(folder, name)).read(), re.M)
                if m: values.append(float(m.group(1)))
        if not values: cells.append("-")
        elif len(values) == 1: cells.append(f"{values[0]:.1f}")
        else: cells.append(f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}")
    print(f"| {rule} | " + " | ".join(cells) + " |")
PY
