"""Do ensembles or augmentation lift the label-margin ceiling? (docs/poisoning.md, "Label flips").

The setting of label_flip_margins.py (5% uniform flips of the Fashion-MNIST training labels,
seed 7; the small CNN, 3 epochs, its recipe; one thread). Trains two models (seeds 0 and 1),
keeps each one's logits on the training set after every epoch and, at the end, on horizontally
flipped images, then prints the ceilings (best-F1 cut-off; recall at 90% precision; precision
at 90% recall) of: each model's margin, the snapshot average of epochs 2 and 3, the two-seed
average, and the margin with the flipped images averaged in. About 25 minutes on a shared core.

    /usr/bin/python3 tools/experiments/label_flip_ensemble.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import label_flip_margins as lfm  # noqa: E402


def logits(net, x):
    net.eval()
    with torch.no_grad():
        out = torch.cat([net(x[b:b + 2000]) for b in range(0, len(x), 2000)])
    net.train()
    return out.numpy()


def train(x, y, seed, epochs=3):
    """Per-epoch training-set logits and, at the end, those of the mirrored images."""
    torch.manual_seed(seed)
    net = lfm.SmallCNN()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = len(y)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((n + 127) // 128))
    per_epoch = []
    for _ in range(epochs):
        perm = torch.randperm(n)
        for b in range(0, n, 128):
            i = perm[b:b + 128]
            opt.zero_grad()
            F.cross_entropy(net(x[i]), y[i]).backward()
            opt.step()
            sched.step()
        per_epoch.append(logits(net, x))
    return per_epoch, logits(net, x.flip(3))


def main():
    torch.set_num_threads(1)
    x = torch.tensor(lfm.read_idx(lfm.ROOT + "train-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
    y = torch.tensor(lfm.read_idx(lfm.ROOT + "train-labels-idx1-ubyte.gz").copy()).long()
    n = len(y)
    noisy, flipped = lfm.flip_labels(y)
    labels = noisy.numpy()

    def margin(out):
        own = out[np.arange(n), labels]
        other = out.copy()
        other[np.arange(n), labels] = -np.inf
        return own - other.max(1)

    runs = [train(x, noisy, seed) for seed in (0, 1)]
    for seed, (per_epoch, mirrored) in enumerate(runs):
        lfm.report(f"seed {seed}: the trained model's margin", margin(per_epoch[-1]), flipped)
        lfm.report(f"seed {seed}: snapshot average of epochs 2 and 3",
                   margin((per_epoch[-2] + per_epoch[-1]) / 2), flipped)
        lfm.report(f"seed {seed}: mirrored images", margin(mirrored), flipped)
        lfm.report(f"seed {seed}: logits averaged with the mirrored images'",
                   margin((per_epoch[-1] + mirrored) / 2), flipped)
    lfm.report("two seeds: mean margin", (margin(runs[0][0][-1]) + margin(runs[1][0][-1])) / 2, flipped)
    lfm.report("two seeds: margin of the mean logits", margin((runs[0][0][-1] + runs[1][0][-1]) / 2), flipped)


if __name__ == "__main__":
    main()
