"""Poisoned-data detection on features you computed (``rampart audit-data`` does the rest:
training, feature extraction, reports)."""
from __future__ import annotations

import json
from typing import Optional, Sequence

import torch

from . import _rampart


def audit_features(features: torch.Tensor, labels: torch.Tensor, *,
                   num_classes: Optional[int] = None,
                   detectors: Sequence[str] = ("spectral",), alpha: float = 0.001,
                   min_separation: float = 7.0, dims: int = 20, spectral_starts: int = 3,
                   images: Optional[torch.Tensor] = None) -> dict:
    """Finds poisoned points from their features ([N, D], e.g. a model's penultimate layer) and
    labels, told neither the target class nor the poison rate. detectors: "spectral" (per-class
    split separation tested across classes), "activation_clustering", "knn_labels" (flipped
    labels). Returns audit.json's content: ``flagged`` (sorted indices), per detector its class
    verdicts and per-point scores. ``images`` ([N, C, H, W], the points' inputs): in a class
    judged poisoned the spectral detector then flags the side whose images look like the other
    classes' (source diversity); without them, the side more spread in feature space. Raises
    rampart.DataError naming the first point whose features are not finite (a model broken on
    it), and ValueError when the labels do not match the features or fall outside num_classes."""
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.numel() else 0
    spec = {"detectors": list(detectors), "alpha": alpha, "min_separation": min_separation,
            "dims": dims, "spectral_starts": spectral_starts}
    return json.loads(_rampart.audit_features(features, labels, int(num_classes),
                                              json.dumps(spec), images))


def relabel_flagged(flagged: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor, *,
                    min_confidence: float = 0.0) -> dict:
    """Decides each flagged point (``flagged``: indices into your data, ``labels``: their labels
    there, ``logits`` [F, C]: a model trained *without* them, e.g. retrained after the audit) as
    ``rampart data relabel`` does: a point takes the model's class when that differs from its
    label and the model's probability of it is at least ``min_confidence``; the others are to
    be left out. Returns ``indices``, ``from``, ``to``, ``confidence`` (the relabelled points,
    sorted by index) and ``left_out``, as tensors. Raises ValueError when the shapes disagree,
    ``min_confidence`` is outside [0, 1], or an index is negative or repeated."""
    names = ("indices", "from", "to", "confidence", "left_out")
    return dict(zip(names, _rampart.relabel_flagged(flagged, labels, logits, float(min_confidence))))
