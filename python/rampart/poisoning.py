"""Poisoned training data from Python: simulate a poisoning (``poison``, ``apply_trigger``), pin
a data set (``manifest``, ``verify_manifest``), find the poisoned points from features you
computed (``audit_features``) and decide what to do with them (``relabel_flagged``). The same
code as ``rampart data poison``, ``data manifest``, ``audit-data`` and ``data relabel``, which
also train, extract features and write the reports."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import torch

from . import _rampart


Box = Tuple[float, float]


def _classes(labels: torch.Tensor, num_classes: Optional[int]) -> int:
    if num_classes is not None:
        return int(num_classes)
    if labels.numel() == 0:
        raise ValueError("num_classes: give it when there are no labels to read it from")
    return int(labels.max()) + 1


def audit_features(features: torch.Tensor, labels: torch.Tensor, *,
                   num_classes: Optional[int] = None,
                   detectors: Optional[Sequence[str]] = None, alpha: Optional[float] = None,
                   min_separation: Optional[float] = None, dims: Optional[int] = None,
                   spectral_starts: Optional[int] = None,
                   images: Optional[torch.Tensor] = None, logits: Optional[torch.Tensor] = None,
                   settings: Optional[Dict[str, Any]] = None) -> dict:
    """Finds poisoned points from their features ([N, D], e.g. a model's penultimate layer) and
    labels, told neither the target class nor the poison rate. detectors: "spectral" (per-class
    split separation tested across classes), "activation_clustering", "knn_labels" and
    "label_margin" (flipped labels; label_margin needs ``logits`` [N, classes]). The keyword
    settings and ``settings`` (any other key of the config's ``audit:`` section, as in YAML:
    ``{"knn": {"k": 10}, "tail_k": 3}``) default to the ``audit:`` section's defaults
    (detectors ["spectral"], alpha 0.001, min_separation 7, dims 20, spectral_starts 3); a key
    given both ways is a ValueError. Returns audit.json's content: ``flagged`` (sorted indices), per detector its
    class verdicts and per-point scores. ``images`` ([N, C, H, W], the points' inputs): in a class
    judged poisoned the spectral detector then flags the side whose images look like the other
    classes' (source diversity); without them, the side more spread in feature space. With
    ``images`` the result also records the data's root (``data.root``), so that saved as
    audit.json it applies, through ``data.exclude``, only to exactly these points. Raises
    rampart.DataError naming the first point whose features are not finite (a model broken on
    it), rampart.ConfigError for an unknown or bad setting, and ValueError when the labels do not
    match the features or fall outside num_classes."""
    spec: Dict[str, Any] = dict(settings or {})
    named = {"detectors": None if detectors is None else list(detectors), "alpha": alpha,
             "min_separation": min_separation, "dims": dims, "spectral_starts": spectral_starts}
    for key, value in named.items():
        if value is None:
            continue
        if key in spec:
            raise ValueError(f"{key}: given both as a keyword and in settings")
        spec[key] = value
    return json.loads(_rampart.audit_features(features, labels, _classes(labels, num_classes),
                                              json.dumps(spec), images, logits))


def poison(images: torch.Tensor, labels: torch.Tensor, *, attack: str = "badnets",
           rate: float = 0.05, target: Optional[int] = None, seed: int = 0,
           trigger: Optional[Dict[str, Any]] = None, flip_from: Optional[int] = None,
           flip_to: Optional[int] = None, num_classes: Optional[int] = None,
           clip: Box = (0.0, 1.0)) -> dict:
    """Poisons a copy of (images [N, C, H, W], labels [N]) as ``rampart data poison`` does, to
    test a defense: ``attack`` "badnets" (a patch trigger stamped on ``rate`` of the points of
    other classes, relabelled ``target``), "blend" (Chen et al. 2017: the image blended with a
    noise pattern) or "label_flip" (random other labels, or ``flip_from`` -> ``flip_to``).
    ``trigger``: the config's trigger keys (``{"size": 3, "row": 1, "col": 12, "pattern":
    "checker"}``, ``{"type": "blend", "alpha": 0.2}``); a patch defaults to 3x3 of the box's top
    value, one pixel in from the bottom-right corner (rows and columns H-4, W-4). ``target`` None draws one from ``seed``. Returns ``images``, ``labels``
    (the poisoned copies), ``poisoned`` (the sorted indices changed: the ground truth) and
    ``spec`` (what was drawn: the target, the trigger's position); the tensors are CPU float32
    and int64 copies. Raises rampart.ConfigError for
    a bad setting, a trigger that does not fit or a rate asking for more points than are eligible."""
    entry: Dict[str, Any] = {"attack": attack, "rate": rate, "seed": seed}
    if target is not None:
        entry["target"] = target
    if attack != "label_flip" or trigger is not None:  # a trigger given to label_flip: refused
        entry["trigger"] = dict({"type": "blend" if attack == "blend" else "patch"}, **(trigger or {}))
    if flip_from is not None or flip_to is not None:
        entry.update({"flip_from": flip_from, "flip_to": flip_to})
    x, y, poisoned, drawn = _rampart.poison(images, labels, _classes(labels, num_classes),
                                            json.dumps(entry), float(clip[0]), float(clip[1]))
    return {"images": x, "labels": y, "poisoned": poisoned, "spec": json.loads(drawn)}


def apply_trigger(images: torch.Tensor, trigger: Dict[str, Any], *,
                  clip: Box = (0.0, 1.0)) -> torch.Tensor:
    """The images [N, C, H, W] with a backdoor trigger stamped on (the trigger keys of
    ``poison`` and of the ``backdoor`` entry of ``rampart eval``), e.g. to measure a model's
    attack success rate on your own test images; ``rampart.backdoor`` does that as an attack.
    Returns a CPU float32 copy."""
    return _rampart.apply_trigger(images, json.dumps(dict({"type": "patch"}, **trigger)),
                                  float(clip[0]), float(clip[1]))


def manifest(images: torch.Tensor, labels: torch.Tensor, *, num_classes: Optional[int] = None,
             source: str = "python tensors") -> dict:
    """The provenance manifest of (images, labels) as ``rampart data manifest`` writes it
    (per-point SHA-256 over label and float32 pixels, the root over them, the label histogram),
    as a dict: ``json.dump`` it to a file and ``data.manifest: FILE`` in a config, or
    ``verify_manifest``, checks data against it. ``files`` is empty (no file was read)."""
    return json.loads(_rampart.manifest(images, labels, _classes(labels, num_classes), source))


def verify_manifest(images: torch.Tensor, labels: torch.Tensor, path: "os.PathLike[str] | str", *,
                    num_classes: Optional[int] = None, signature: Optional[str] = None,
                    public_key: Optional[str] = None, source: str = "python tensors") -> str:
    """Checks (images, labels) against the manifest file ``path`` (and its Ed25519
    ``signature`` with ``public_key``, when given) and returns its root. Raises
    rampart.DataError naming the first point changed, relabelled, added or removed, a wrong
    signature, or a file that is not a manifest."""
    if (signature is None) != (public_key is None):
        raise ValueError("signature and public_key go together")
    return _rampart.verify_manifest(images, labels, _classes(labels, num_classes), os.fspath(path),
                                    signature or "", public_key or "", source)


def relabel_flagged(flagged: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor, *,
                    min_confidence: float = 0.0) -> dict:
    """Decides each flagged point (``flagged``: indices into your data, ``labels``: their labels
    there, ``logits`` [F, C]: a model trained *without* them, e.g. retrained after the audit) as
    ``rampart data relabel`` does: a point takes the model's class when that differs from its
    label and the model's probability of it is at least ``min_confidence``; the others are to
    be left out. Returns ``indices``, ``from``, ``to``, ``confidence`` (the relabelled points,
    sorted by index) and ``left_out``, as tensors. Raises ValueError when the shapes disagree,
    ``min_confidence`` is outside [0, 1], an index is negative or repeated, or a label is not one
    of the logits' classes, and rampart.DataError when a point's logits are not finite."""
    names = ("indices", "from", "to", "confidence", "left_out")
    return dict(zip(names, _rampart.relabel_flagged(flagged, labels, logits, float(min_confidence))))
