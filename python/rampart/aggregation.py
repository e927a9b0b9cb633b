"""Byzantine-robust aggregation of worker updates (the rules of ``distributed.aggregator``)."""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence, Union

import torch

from . import _rampart


class Aggregator:
    """A robust aggregation pipeline: optional pre-aggregation steps, then a rule.

    rule: mean, median, trimmed_mean, krum, multi_krum, geometric_median, centered_clipping,
    mda, meamed or caf;
    f: the Byzantine workers tolerated; pre: steps such as ["clipping", {"name": "nnm"}];
    momentum is applied by workers, not here. ``aggregator(updates)`` maps [n, d] to [d].

        agg = rampart.Aggregator("trimmed_mean", f=2, pre=["nnm"])
        update = agg(torch.stack(worker_gradients))
    """

    def __init__(self, rule: str = "mean", *, f: int = 0, tau: Optional[float] = None,
                 iterations: Optional[int] = None, nu: Optional[float] = None,
                 pre: Sequence[Union[str, dict]] = (), seed: int = 0):
        spec: dict = {"name": rule, "f": f}
        for key, value in (("tau", tau), ("iterations", iterations), ("nu", nu)):
            if value is not None:
                spec[key] = value
        if pre:
            spec["pre"] = list(pre)
        self._native = _rampart.Aggregator(json.dumps(spec), int(seed))

    def __call__(self, updates: torch.Tensor) -> torch.Tensor:
        return self._native(updates)

    def __repr__(self) -> str:
        return repr(self._native)
