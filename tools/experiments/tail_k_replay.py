#!/usr/bin/env python3
"""Re-audits saved runs of tools/poisoning_run.sh with other spectral settings, from their saved
features (audit/features.npy, written with save_features: true), and prints recall and false
positives against each run's ground truth: how a detector setting would have done on runs
already made, without training again.

    PYTHONPATH=build/python python3 tools/experiments/tail_k_replay.py RUN_DIR... [--tail-k 4,3]
"""
import argparse
import os

import numpy as np
import torch

import rampart


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--tail-k", default="4,3")
    args = parser.parse_args()
    ks = [float(k) for k in args.tail_k.split(",")]
    print("| run | " + " | ".join(f"tail_k {k:g}: classes, recall, false positives" for k in ks) + " |")
    print("| --- |" + " --- |" * len(ks))
    for d in args.runs:
        features = os.path.join(d, "audit", "features.npy")
        truth = os.path.join(d, "train_poisoned", "poisoned.npy")
        if not (os.path.exists(features) and os.path.exists(truth)):
            continue
        f = torch.from_numpy(np.load(features))
        labels = torch.from_numpy(np.load(os.path.join(d, "train_poisoned", "labels.npy")))
        images = torch.from_numpy(np.load(os.path.join(d, "train_poisoned", "images.npy")))
        poisons = set(np.load(truth).tolist())
        cells = []
        for k in ks:
            audit = rampart.audit_features(f, labels, num_classes=10, images=images,
                                           settings={"tail_k": k})
            flagged = set(audit["flagged"])
            classes = [c["label"] for det in audit["detectors"] for c in det["classes"] if c.get("poisoned")]
            hit = len(flagged & poisons)
            cells.append(f"{classes}, {hit} of {len(poisons)} ({100 * hit / max(len(poisons), 1):.2f}%), "
                         f"{len(flagged) - hit}")
        print(f"| {os.path.basename(os.path.normpath(d))} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
