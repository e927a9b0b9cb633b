"""Krum under ByzFL's LabelFlipping in one Python process (docs/distributed.md, "Krum under label
flipping"): the oracle for `rampart train` with `simulate_byzantine: {attack: label_flip}`.

Plain PyTorch (Debian's python3-torch) and ByzFL's own Krum (LPD-EPFL/byzfl,
byzfl/aggregators/aggregators.py), in the setting of configs/fmnist_byzantine.yaml: 10 honest
clients + 2 Byzantine, Fashion-MNIST (first 40,000 training images), heterogeneity 0.5 (half
IID, half label-sorted), the 784-32-10 MLP, batch 25, lr 0.1, weight decay 1e-4 on the server,
worker momentum 0.9. The Byzantine vector is, as in byzfl/benchmark/train.py, the mean of the
honest clients' gradients on labels y -> 9 - y; both Byzantine clients send it. Accuracy is on
the first 2,000 test images. Differences from ByzFL's benchmark: batches are drawn with
replacement from each shard; the Rampart aggregator (build/python) is checked against ByzFL's
Krum on every round when importable.

    PYTHONPATH=/path/to/byzfl /usr/bin/python3 tools/experiments/krum_label_flip_sim.py SEED STEPS INIT
INIT 1: ByzFL's worker momentum (from zero: the first vector is 0.1 g); 0: Rampart's (the first
vector is g itself).
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from byzfl.aggregators.aggregators import Krum

torch.set_num_threads(1)
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 800
byzfl_init = (sys.argv[3] if len(sys.argv) > 3 else "1") == "1"
torch.manual_seed(seed)
rng = np.random.default_rng(seed)


def idx(path, offset):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


D = "/usr/share/datasets/fashion-mnist/"
X = torch.tensor(idx(D + "train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:40000] / 255.0, dtype=torch.float32)
Y = torch.tensor(idx(D + "train-labels-idx1-ubyte.gz", 8)[:40000].astype(np.int64))
Xt = torch.tensor(idx(D + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:2000] / 255.0, dtype=torch.float32)
Yt = torch.tensor(idx(D + "t10k-labels-idx1-ubyte.gz", 8)[:2000].astype(np.int64))
honest, f, gamma = 10, 2, 0.5
perm = rng.permutation(len(Y))
n_iid = int(gamma * len(Y))
iid, rest = perm[:n_iid], perm[n_iid:]
rest = rest[np.argsort(Y[rest].numpy(), kind="stable")]
shards = [np.concatenate([a, b]) for a, b in zip(np.array_split(iid, honest), np.array_split(rest, honest))]
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
params = list(model.parameters())


def flat(gs):
    return torch.cat([g.reshape(-1) for g in gs])


momentum = [torch.zeros(sum(p.numel() for p in params)) for _ in range(honest)]
krum = Krum(f=f)
ours = None
try:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
    import rampart
    ours = rampart.Aggregator("krum", f=f)
except ImportError:
    pass
picks, differ = np.zeros(honest + f, int), 0
for t in range(steps):
    vectors, flipped = [], []
    for i in range(honest):
        b = rng.choice(shards[i], 25, replace=False)
        x, y = X[b], Y[b]
        flipped.append(flat(torch.autograd.grad(F.cross_entropy(model(x), 9 - y), params)))
        g = flat(torch.autograd.grad(F.cross_entropy(model(x), y), params))
        if t == 0 and not byzfl_init:
            momentum[i] = g.clone()
        else:
            momentum[i].mul_(0.9).add_(g, alpha=0.1)
        vectors.append(momentum[i].clone())
    byzantine = torch.stack(flipped).mean(0)
    stacked = torch.stack(vectors + [byzantine] * f)
    out = krum(stacked)
    if ours is not None:
        differ += int(not torch.allclose(out, ours(stacked)))
    picks[int((stacked - out).norm(dim=1).argmin())] += 1
    with torch.no_grad():
        offset = 0
        for p in params:
            p -= 0.1 * (out[offset:offset + p.numel()].view_as(p) + 1e-4 * p)
            offset += p.numel()
    if (t + 1) % 160 == 0:
        with torch.no_grad():
            accuracy = (model(Xt).argmax(1) == Yt).float().mean().item()
        print(f"step {t + 1}: accuracy {100 * accuracy:.2f}%, Krum chose an honest vector "
              f"{picks[:honest].sum()} times, the Byzantine one {picks[honest:].sum()} times"
              + (f", Rampart's Krum differed {differ} times" if ours is not None else ""), flush=True)
