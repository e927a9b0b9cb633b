"""Does a prior over (given label, preferred label) pairs lift the label-margin ceiling?
(docs/poisoning.md, "Label flips").

Uniform label flips spread evenly over the 90 ordered class pairs; the clean points a model
gets wrong crowd into a few pairs (T-shirt/shirt, pullover/coat). So among the points of one
pair (the given label, the class the model prefers), the share that are flips is about the
typical pair's count over this pair's count. The adjusted score is the margin minus
lambda * log(that share), lowest first: a low margin in a crowded pair counts for less.
Nothing here uses the ground truth except the printed precision and recall.

The setting of label_flip_margins.py (the small CNN, 3 epochs, its recipe, one thread; 5% of
the labels flipped uniformly). The trained model's logits are cached, so a second call only
scores (about 10 minutes to train on a shared core).

    /usr/bin/python3 tools/experiments/label_flip_pair_prior.py [--flip-seed 7] [--model-seed 0]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import label_flip_margins as lfm  # noqa: E402


def trained_logits(flip_seed, model_seed, cache):
    if os.path.exists(cache):
        d = np.load(cache)
        return d["logits"], d["noisy"], d["flipped"]
    torch.set_num_threads(1)
    x = torch.tensor(lfm.read_idx(lfm.ROOT + "train-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
    y = torch.tensor(lfm.read_idx(lfm.ROOT + "train-labels-idx1-ubyte.gz").copy()).long()
    noisy, flipped = lfm.flip_labels(y, seed=flip_seed)
    net = lfm.train(x, noisy, 3, seed=model_seed)
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x[b:b + 2000]) for b in range(0, len(y), 2000)]).numpy()
    np.savez(cache, logits=logits, noisy=noisy.numpy(), flipped=flipped)
    return logits, noisy.numpy(), flipped


def pair_prior_score(logits, labels, candidate_margin=0.0, lam=0.5):
    """The margin minus lam * log(the estimated share of flips in the point's pair)."""
    n = len(labels)
    own = logits[np.arange(n), labels]
    other = logits.copy()
    other[np.arange(n), labels] = -np.inf
    margin = own - other.max(1)
    pair = labels * 10 + other.argmax(1)
    counts = np.bincount(pair[margin < candidate_margin], minlength=100).astype(float)
    typical = np.median([counts[g * 10 + p] for g in range(10) for p in range(10) if g != p])
    share = np.clip(typical / np.maximum(counts, 1.0), 1e-3, 1.0)
    return margin - lam * np.log(share[pair]), margin


def report(name, score, flipped):
    """label_flip_margins.report's ceilings, then the robust z-rule's actual flags."""
    lfm.report(name, score, flipped)
    med = np.median(score)
    mad = 1.4826 * np.median(np.abs(score - med))
    for k in (3.0, 3.5, 4.0):
        flag = score < med - k * mad
        print(f"  median - {k} MAD: {flag.sum()} flagged, recall {(flag & flipped).sum() / flipped.sum():.3f}, "
              f"precision {(flag & flipped).sum() / max(flag.sum(), 1):.3f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flip-seed", type=int, default=7)
    parser.add_argument("--model-seed", type=int, default=0)
    args = parser.parse_args()
    cache = f"/tmp/label_flip_logits_f{args.flip_seed}_m{args.model_seed}.npz"
    logits, noisy, flipped = trained_logits(args.flip_seed, args.model_seed, cache)
    score, margin = pair_prior_score(logits, noisy)
    report("margin", margin, flipped)
    # A cut-off from the pairs (fitted after seeing seeds 7 and 8; fails on seed 9): flag 90 x
    # the 25th percentile of the per-pair counts of points with margin < 0.
    n = len(noisy)
    other = logits.copy()
    other[np.arange(n), noisy] = -np.inf
    counts = np.bincount((noisy * 10 + other.argmax(1))[margin < 0], minlength=100)
    k = int(round(90 * np.percentile([counts[g * 10 + p] for g in range(10) for p in range(10) if g != p], 25)))
    flag = np.zeros(n, bool)
    flag[np.argsort(score)[:k]] = True
    print(f"pair prior, the {k} lowest (90 x 25th percentile of pair counts): recall "
          f"{(flag & flipped).sum() / flipped.sum():.3f}, precision {(flag & flipped).sum() / k:.3f}")
    for lam in (0.25, 0.5, 1.0):
        for cand in (-1.0, 0.0, 1.0):
            s, _ = pair_prior_score(logits, noisy, cand, lam)
            report(f"pair prior (candidates: margin < {cand}, lambda {lam})", s, flipped)


if __name__ == "__main__":
    main()
