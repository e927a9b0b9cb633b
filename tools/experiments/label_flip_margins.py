"""How well training signals find flipped labels (docs/poisoning.md, "Training signals").

Plain PyTorch (Debian's python3-torch), the small CNN of rampart's `small_cnn` and the recipe of
tools/label_flip_run.sh: 5% of the 60,000 Fashion-MNIST training labels flipped to a uniformly
drawn other class (seed 7), 3 epochs, SGD 0.05 momentum 0.9 Nesterov, weight decay 5e-4,
cosine, batch 128, one thread. Prints, for each score (lowest = most suspicious), the best-F1
cut-off and the precision/recall trade-off at 90%.

    /usr/bin/python3 tools/experiments/label_flip_margins.py            # in-sample margin, AUM
    /usr/bin/python3 tools/experiments/label_flip_margins.py --folds 2  # out-of-sample margin
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist/"


def read_idx(path):
    data = gzip.open(path).read()
    if data[2:4] == b"\x08\x03":
        return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)
    return np.frombuffer(data, np.uint8, offset=8)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.f1 = nn.Linear(64 * 49, 128)
        self.f2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


def flip_labels(y, seed=7):
    """5% of the labels flipped to a uniformly drawn other class: (noisy labels, flipped mask)."""
    n = len(y)
    rng = np.random.default_rng(seed)
    flip = np.sort(rng.choice(n, n // 20, replace=False))
    noisy = y.clone()
    for i in flip:
        noisy[i] = int(rng.choice([c for c in range(10) if c != y[i]]))
    flipped = np.zeros(n, bool)
    flipped[flip] = True
    return noisy, flipped


def margins(logits, labels):
    own = logits.gather(1, labels[:, None])[:, 0]
    return own - logits.scatter(1, labels[:, None], -1e9).max(1).values


def train(x, y, epochs, seed, record=None):
    """Trains on (x, y); record[i] collects each epoch's in-batch margin of point i."""
    torch.manual_seed(seed)
    net = SmallCNN()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = len(y)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((n + 127) // 128))
    for epoch in range(epochs):
        perm = torch.randperm(n)
        seen = torch.zeros(n)
        for b in range(0, n, 128):
            i = perm[b:b + 128]
            out = net(x[i])
            with torch.no_grad():
                seen[i] = margins(out, y[i])
            opt.zero_grad()
            F.cross_entropy(out, y[i]).backward()
            opt.step()
            sched.step()
        if record is not None:
            record.append(seen)
        print(f"epoch {epoch} done at {time.time() - START:.0f} s", flush=True)
    return net


def evaluate(net, x, y):
    with torch.no_grad():
        return torch.cat([margins(net(x[b:b + 2000]), y[b:b + 2000]) for b in range(0, len(y), 2000)])


def report(name, score, flipped):
    order = np.argsort(score)
    tp = np.cumsum(flipped[order])
    prec = tp / np.arange(1, len(score) + 1)
    rec = tp / flipped.sum()
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    best = int(np.argmax(f1))
    at90p = rec[prec >= 0.9].max() if (prec >= 0.9).any() else 0.0
    print(f"{name}: best F1 {prec[best]:.3f} precision / {rec[best]:.3f} recall ({best + 1} flagged); "
          f"recall at precision 0.9: {at90p:.3f}; precision at recall 0.9: {prec[np.argmax(rec >= 0.9)]:.3f}")


START = time.time()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--folds", type=int, default=0, help="> 1: out-of-sample margins")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x = torch.tensor(read_idx(ROOT + "train-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
    y = torch.tensor(read_idx(ROOT + "train-labels-idx1-ubyte.gz").copy()).long()
    n = len(y)
    noisy, flipped = flip_labels(y)
    torch.manual_seed(0)
    if args.folds > 1:
        fold = torch.randperm(n) % args.folds
        score = torch.zeros(n)
        for k in range(args.folds):
            train_idx, test_idx = (fold != k).nonzero()[:, 0], (fold == k).nonzero()[:, 0]
            net = train(x[train_idx], noisy[train_idx], args.epochs, seed=k)
            score[test_idx] = evaluate(net, x[test_idx], noisy[test_idx])
        report(f"out-of-sample margin, {args.folds} folds", score.numpy(), flipped)
        return
    per_epoch = []
    net = train(x, noisy, args.epochs, seed=0, record=per_epoch)
    report("the trained model's margin", evaluate(net, x, noisy).numpy(), flipped)
    report("area under the margin", torch.stack(per_epoch).mean(0).numpy(), flipped)
    for e, m in enumerate(per_epoch):
        report(f"in-batch margin of epoch {e}", m.numpy(), flipped)


if __name__ == "__main__":
    main()
