"""Robustness evaluation from Python: the reports of ``rampart eval`` and its CI gates."""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Optional, Tuple, Union

import torch

from . import _model_info, _rampart

ConfigLike = Union[Mapping[str, Any], str, "os.PathLike[str]"]


class RobustnessError(AssertionError):
    """A robustness gate failed; ``report`` holds the evaluation (report.json's content)."""

    def __init__(self, message: str, report: Mapping[str, Any]):
        super().__init__(message)
        self.report = report


def _collect(loader: Iterable[Any]) -> Tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for batch in loader:
        xs.append(batch[0])
        ys.append(batch[1])
    if not xs:
        raise _rampart.DataError("loader: no batches")
    return torch.cat(xs), torch.cat(ys)


def evaluate(model: Any, x: Optional[torch.Tensor] = None, y: Optional[torch.Tensor] = None, *,
             loader: Optional[Iterable[Any]] = None, config: ConfigLike,
             out: Optional[Union[str, "os.PathLike[str]"]] = None,
             clip: Tuple[float, float] = (0.0, 1.0), quiet: bool = True) -> dict:
    """Evaluates ``model`` on (x, y), or on every batch of ``loader``, as ``rampart eval`` does:
    clean accuracy, each attack of ``config["attacks"]`` on the clean-correct points, the
    worst case per budget, the gradient-masking sanity checks, and the gates. Writes the
    report directory (report.json, report.md, junit.xml, report.html) to ``out`` when given.

    config: a dict shaped like an eval config, or the path of a YAML one. Its ``model`` and
    ``data`` sections are not needed (the model and points come from the arguments); a
    ``model.input.range`` there, else ``clip``, is the input box.

    Returns report.json's content as a dict, plus ``exit_code``: 0, or 1 when a gate failed.
    """
    if loader is not None:
        if x is not None or y is not None:
            raise _rampart.ConfigError("evaluate: give x and y, or loader, not both")
        x, y = _collect(loader)
    if x is None or y is None:
        raise _rampart.ConfigError("evaluate: give x and y, or loader")
    num_classes = _model_info.num_classes(model, x)
    # The config parser wants model and data sections; the model and points come from the
    # arguments, so these describe them and are not read.
    unread_model = {"path": "python-model", "num_classes": num_classes,
                         "input": {"shape": list(x.shape[1:]), "range": [clip[0], clip[1]]}}
    unread_data = {"format": "synthetic", "num_samples": int(x.shape[0])}
    if isinstance(config, Mapping):
        text = dict(config)
        text.setdefault("model", unread_model)
        text.setdefault("data", unread_data)
        yaml, name = json.dumps(text), "evaluate(config=...)"
    else:
        name = os.fspath(config)
        try:
            with open(name, encoding="utf-8") as f:
                yaml = f.read()
        except OSError as e:
            raise _rampart.ConfigError(f"{name}: cannot read: {e.strerror}") from None
        for key, value in (("model", unread_model), ("data", unread_data)):
            if not any(line.startswith(key + ":") for line in yaml.splitlines()):
                yaml += f"\n{key}: {json.dumps(value)}\n"
    # The evaluation seeds libtorch's generators from the config's seed (its random starts):
    # the caller's CPU generator, and the CUDA one of x's device, come back as they were.
    devices = [x.device.index or 0] if x.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        report = _rampart.evaluate(model, x, y, yaml, name, os.fspath(out) if out else "", quiet,
                                   num_classes)
    return json.loads(report)


def _summary(report: Mapping[str, Any]) -> str:
    lines = [f"clean accuracy {100 * report['clean']['accuracy']:.2f}% "
             f"({report['data']['points']} points)"]
    for attack in report.get("attacks", []):
        lines.append(f"{attack['id']}: robust accuracy {100 * attack['robust_accuracy']:.2f}%")
    for gate in report.get("gates", {}).get("results", []):
        verdict = "pass" if gate["passed"] else "FAIL"
        lines.append(f"gate {gate['name']}: {100 * gate['value']:.2f}% {gate['threshold']} {verdict}")
    return "; ".join(lines)


def assert_robust(model: Any, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                  min_robust_accuracy: float, attack: str = "pgd", norm: str = "linf",
                  steps: int = 20, min_clean_accuracy: Optional[float] = None,
                  out: Optional[Union[str, "os.PathLike[str]"]] = None, seed: int = 0,
                  clip: Tuple[float, float] = (0.0, 1.0)) -> dict:
    """A CI gate as an assertion: evaluates ``attack`` at ``eps`` and raises RobustnessError
    (an AssertionError, so pytest reports it as a failed test) with the report's summary when
    the worst-case robust accuracy is below ``min_robust_accuracy`` (or the clean accuracy
    below ``min_clean_accuracy``). Returns the report otherwise."""
    entry: dict = {"name": attack, "eps": eps, "norm": norm}
    if attack in ("pgd", "apgd-ce", "apgd-t", "fab-t"):
        entry["steps"] = steps
    gates: dict = {"robust_accuracy": {"worst": {"min": min_robust_accuracy}}}
    if min_clean_accuracy is not None:
        gates["clean_accuracy"] = {"min": min_clean_accuracy}
    config = {"seed": seed, "attacks": [entry], "gates": gates}
    report = evaluate(model, x, y, config=config, out=out, clip=clip)
    if report["exit_code"] != 0:
        where = f"; report: {os.fspath(out)}" if out else ""
        raise RobustnessError(f"not robust enough: {_summary(report)}{where}", report)
    return report
