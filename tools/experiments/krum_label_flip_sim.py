"""Krum under ByzFL's LabelFlipping in one Python process (docs/distributed.md, "Krum under label
flipping"): the oracle for `rampart train` with `simulate_byzantine: {attack: label_flip}`.

Plain PyTorch (Debian's python3-torch) and ByzFL's own Krum (LPD-EPFL/byzfl,
byzfl/aggregators/aggregators.py), in the setting of configs/fmnist_byzantine.yaml
(byzantine_sim_setting.py). The Byzantine vector is, as in byzfl/benchmark/train.py, the mean of the
honest clients' gradients on labels y -> 9 - y; both Byzantine clients send it. Accuracy is on
the first 2,000 test images. The Rampart aggregator (build/python) is checked against ByzFL's
Krum on every round when importable.

    PYTHONPATH=/path/to/byzfl /usr/bin/python3 tools/experiments/krum_label_flip_sim.py SEED STEPS INIT [BATCHES]
(ByzFL imports scipy: Debian's python3-scipy.)
INIT 1: ByzFL's worker momentum (from zero: the first vector is 0.1 g); 0: Rampart's (the first
vector is g itself). BATCHES: random (default) | epoch | rampart (byzantine_sim_setting.py; with
INIT 0, rampart follows `rampart train` with the same seed step for step).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from byzfl.aggregators.aggregators import Krum

sys.path.insert(0, os.path.dirname(__file__))
from byzantine_sim_setting import F_BYZANTINE, HONEST, Setting  # noqa: E402

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 800
s = Setting(seed, byzfl_momentum=(sys.argv[3] if len(sys.argv) > 3 else "1") == "1",
            batches=sys.argv[4] if len(sys.argv) > 4 else "random")
krum = Krum(f=F_BYZANTINE)
ours = None
try:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
    import rampart
    ours = rampart.Aggregator("krum", f=F_BYZANTINE)
except ImportError:
    pass
picks, differ = np.zeros(HONEST + F_BYZANTINE, int), 0
for t in range(steps):
    vectors, flipped = [], []
    for i in range(HONEST):
        x, y = s.batch(i)
        flipped.append(s.flat(torch.autograd.grad(F.cross_entropy(s.model(x), 9 - y), s.params)))
        vectors.append(s.momentum_step(i, s.gradient(x, y)))
    byzantine = torch.stack(flipped).mean(0)
    stacked = torch.stack(vectors + [byzantine] * F_BYZANTINE)
    out = krum(stacked)
    if ours is not None:
        differ += int(not torch.allclose(out, ours(stacked)))
    picks[int((stacked - out).norm(dim=1).argmin())] += 1
    s.apply(out)
    if (t + 1) % 160 == 0:
        print(f"step {t + 1}: accuracy {s.accuracy():.2f}% (held-out training images: "
              f"{s.validation_accuracy():.2f}%), Krum chose an honest vector "
              f"{picks[:HONEST].sum()} times, the Byzantine one {picks[HONEST:].sum()} times"
              + (f", Rampart's Krum differed {differ} times" if ours is not None else ""), flush=True)
