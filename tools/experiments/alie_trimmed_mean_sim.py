"""The coordinate-wise trimmed mean under ByzFL's ALIE in one Python process (docs/distributed.md,
"The trimmed mean under ALIE"): the oracle for the table's trimmed_mean x alie cell of
`rampart train` with `simulate_byzantine: {attack: alie}`.

Setting: byzantine_sim_setting.py (configs/fmnist_byzantine.yaml's). Definitions as ByzFL's
(LPD-EPFL/byzfl): ALittleIsEnough(tau=1.5) = mean(H) + tau * std(H, ddof=1) over the honest
vectors H, sent by both Byzantine clients (byzfl/attacks/attacks.py); TrMean(f) drops the f
smallest and f largest values per coordinate and averages the rest
(byzfl/aggregators/aggregators.py). The honest-only run is the 10 honest clients under the mean.
Rampart's trimmed mean (build/python) is checked against this one on every round when importable.

    /usr/bin/python3 tools/experiments/alie_trimmed_mean_sim.py SEED STEPS INIT RULE ATTACK [BATCHES [TAU]]
INIT 1: ByzFL's worker momentum (from zero); 0: Rampart's (from the first gradient).
RULE: mean | trimmed_mean; ATTACK: none | alie. BATCHES: random (default) | epoch | rampart
(byzantine_sim_setting.py). TAU: ALIE's multiple of the standard deviation (default 1.5, ByzFL's);
from (10 - 1) / sqrt(10) = 2.85 on, the ALIE vector lies above every honest value in every
coordinate (no sample of 10 is more than 2.85 sample deviations from its mean), so the trimmed
mean's output no longer depends on TAU: the mean of the 8 honest values left after dropping the 2
lowest. Prints the accuracy every 40 steps.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from byzantine_sim_setting import F_BYZANTINE, HONEST, Setting  # noqa: E402

seed, steps = int(sys.argv[1]), int(sys.argv[2])
byzfl_init, rule, attack = sys.argv[3] == "1", sys.argv[4], sys.argv[5]
if rule not in ("mean", "trimmed_mean") or attack not in ("none", "alie"):
    sys.exit("RULE: mean | trimmed_mean; ATTACK: none | alie")
s = Setting(seed, byzfl_init, batches=sys.argv[6] if len(sys.argv) > 6 else "random")
tau = float(sys.argv[7]) if len(sys.argv) > 7 else 1.5
ours, differ = None, 0
try:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
    import rampart
    ours = rampart.Aggregator("trimmed_mean", f=F_BYZANTINE)
except ImportError:
    pass


def trimmed_mean(vectors, f):
    return vectors.sort(0).values[f:len(vectors) - f].mean(0)


for t in range(steps):
    honest = torch.stack([s.momentum_step(i, s.gradient(*s.batch(i))) for i in range(HONEST)])
    if attack == "alie":
        alie = honest.mean(0) + tau * honest.std(0, unbiased=True)
        vectors = torch.cat([honest, alie.expand(F_BYZANTINE, -1)])
    else:
        vectors = honest
    if rule == "trimmed_mean":
        aggregate = trimmed_mean(vectors, F_BYZANTINE)
        if ours is not None:
            differ += int(not torch.allclose(aggregate, ours(vectors), rtol=1e-5, atol=1e-7))
    else:
        aggregate = vectors.mean(0)
    s.apply(aggregate)
    if (t + 1) % 40 == 0:
        print(f"{rule} {attack} init {int(byzfl_init)} seed {seed} step {t + 1}: {s.accuracy():.2f}% "
              f"(held-out training images: {s.validation_accuracy():.2f}%)"
              + (f", Rampart's trimmed mean differed {differ} times" if ours is not None and rule != "mean" else ""),
              flush=True)
