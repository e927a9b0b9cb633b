#!/usr/bin/env python3
"""Re-audits saved runs of tools/poisoning_run.sh with other spectral settings, from their saved
features (audit/features.npy, written with save_features: true), and prints the classes judged
poisoned, recall and false positives against each run's ground truth (flagged points, for an
unpoisoned run): how a detector setting would have done on runs already made, without training
again. Each --settings is one column: a JSON object of `audit:` keys.

    PYTHONPATH=build/python python3 tools/experiments/audit_replay.py RUN_DIR... \
        [--settings '{"tail_k": 4}' '{"tail_k": 3}']
"""
import argparse
import gzip
import json
import os

import numpy as np
import torch

import rampart


_CLEAN = []


def rampart_clean_set(root="/usr/share/datasets/fashion-mnist/"):
    """Fashion-MNIST's training images (float32 in [0, 1], [N, 1, 28, 28]) and labels, once."""
    if not _CLEAN:
        with gzip.open(root + "train-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 1, 28, 28)
        with gzip.open(root + "train-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read()[8:], np.uint8).astype(np.int64)
        _CLEAN.extend([torch.from_numpy(images.astype(np.float32) / 255), torch.from_numpy(labels)])
    return _CLEAN


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--settings", nargs="+", default=['{"tail_k": 4}', '{"tail_k": 3}'])
    args = parser.parse_args()
    columns = [json.loads(text) for text in args.settings]
    print("| run | " + " | ".join(f"{json.dumps(c)}: classes, recall, false positives" for c in columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for d in args.runs:
        features = os.path.join(d, "audit", "features.npy")
        truth = os.path.join(d, "train_poisoned", "poisoned.npy")
        if not os.path.exists(features):
            continue
        if os.path.exists(truth):
            labels = torch.from_numpy(np.load(os.path.join(d, "train_poisoned", "labels.npy")))
            images = torch.from_numpy(np.load(os.path.join(d, "train_poisoned", "images.npy")))
            poisons = set(np.load(truth).tolist())
        else:  # an unpoisoned run: the clean training set
            clean = rampart_clean_set()
            images, labels, poisons = clean[0], clean[1], set()
        f = torch.from_numpy(np.load(features))
        cells = []
        for settings in columns:
            audit = rampart.audit_features(f, labels, num_classes=10, images=images,
                                           settings=settings)
            flagged = set(audit["flagged"])
            classes = [c["label"] for det in audit["detectors"] for c in det["classes"] if c.get("poisoned")]
            hit = len(flagged & poisons)
            cells.append(f"{classes}, {hit} of {len(poisons)} ({100 * hit / max(len(poisons), 1):.2f}%), "
                         f"{len(flagged) - hit}")
        print(f"| {os.path.basename(os.path.normpath(d))} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
