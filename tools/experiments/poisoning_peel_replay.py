#!/usr/bin/env python3
"""Replays the spectral detector's robust start on one class of a poisoning run, in numpy, and
tries peeling: split off the robust start's minority side, then split the rest again.

    /usr/bin/python3 tools/experiments/poisoning_peel_replay.py RUN_DIR TARGET

RUN_DIR is a run of tools/poisoning_run.sh with the audit's features saved (save_features, the
default there): RUN_DIR/audit/features.npy, RUN_DIR/train_poisoned/{labels,poisoned}.npy.
The robust start follows defenses/poisoning/spectral_detector.cpp (PCA 20, concentration steps
on 75% of the class, whitening, top eigenvector, 1-D two-means, Fisher refinement); it
reproduced the C++ separation (16.67) on 1% seed 1 of docs/poisoning.md. numpy only.
"""
import sys

import numpy as np

d = sys.argv[1]
t = int(sys.argv[2])
F = np.load(d + '/audit/features.npy').astype(np.float64)
L = np.load(d + '/train_poisoned/labels.npy').astype(np.int64).ravel()
P = np.load(d + '/train_poisoned/poisoned.npy').astype(np.int64).ravel()
idx = np.nonzero(L == t)[0]; is_p = np.isin(idx, P)
def pca(X, k=20):
    X = X - X.mean(0); _, _, Vt = np.linalg.svd(X, full_matrices=False); return X @ Vt[:k].T
def two_means(v):
    o = np.sort(v); cs = np.cumsum(o); cs2 = np.cumsum(o**2); N = len(o); best = None
    for k in range(1, N):
        a = cs2[k-1] - cs[k-1]**2 / k; b = (cs2[-1] - cs2[k-1]) - (cs[-1] - cs[k-1])**2 / (N - k)
        if best is None or a + b < best[0]: best = (a + b, k)
    return v >= o[best[1]]
def fisher(R, mask):
    n = len(R)
    for _ in range(30):
        a, b = R[mask], R[~mask]
        Cp = (np.cov(a.T) * (len(a)-1) + np.cov(b.T) * (len(b)-1)) / (n - 2)
        wv = np.linalg.solve(Cp, a.mean(0) - b.mean(0)); s = R @ wv
        new = s > (a.mean(0) @ wv + b.mean(0) @ wv) / 2
        if (new == mask).all(): break
        mask = new
    a, b = R[mask], R[~mask]
    Cp = (np.cov(a.T) * (len(a)-1) + np.cov(b.T) * (len(b)-1)) / (n - 2)
    diff = a.mean(0) - b.mean(0)
    return mask, float(np.sqrt(diff @ np.linalg.solve(Cp, diff)))
def robust_start(R):
    n = len(R); h = int(0.75 * n)
    keep = np.argsort(((R - R.mean(0))**2).sum(1))[:h]
    for _ in range(10):
        mu = R[keep].mean(0); C = np.cov(R[keep].T)
        md = np.einsum('ij,jk,ik->i', R - mu, np.linalg.inv(C), R - mu); keep = np.argsort(md)[:h]
    mu = R[keep].mean(0); C = np.cov(R[keep].T); w, V = np.linalg.eigh(C)
    Y = (R - mu) @ (V @ np.diag(w ** -0.5) @ V.T)
    lam, U = np.linalg.eigh(Y.T @ Y)
    return two_means(Y @ U[:, -1])
def report(name, mask, pm):
    side = mask if ((mask & pm).sum() >= (~mask & pm).sum()) else ~mask
    print('%s: share %.3f, poisons in the poison-heavy side %d of %d, clean in it %d' % (name, mask.mean(), (side & pm).sum(), pm.sum(), (side & ~pm).sum()))
R = pca(F[idx])
m, s = fisher(R, robust_start(R)); print('robust start: sep %.2f' % s); report(' ', m, is_p)
tight = m if m.mean() < 0.5 else ~m
rest = ~tight
R2 = pca(F[idx[rest]]); p2 = is_p[rest]
for k in range(3):
    m2, s2 = fisher(R2, two_means(R2[:, k])); print('after removing the tight side, start dir %d: sep %.2f' % (k, s2)); report(' ', m2, p2)
m2, s2 = fisher(R2, robust_start(R2)); print('after removing, robust start: sep %.2f' % s2); report(' ', m2, p2)
