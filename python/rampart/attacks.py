"""The attacks, configured exactly as an entry of ``attacks:`` in ``rampart eval`` configures
them: the same defaults, checks, messages and per-point random starts, so that ``rampart.pgd``
on a ScriptModule gives the command line's adversarial examples bit for bit."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import torch

from . import _model_info, _rampart

Box = Tuple[float, float]


@dataclass(frozen=True)
class AttackResult:
    """What an attack returns, per point of the batch.

    adversarial: the adversarial inputs [N, C, H, W], inside the box.
    success: bool [N], the model misclassifies the adversarial input.
    l2, linf: float [N], the perturbation's norms.
    attack_id: the report id (``pgd-linf-0.1``), which also keys the random starts.
    forward_samples, backward_samples: the work done, in samples.
    """

    adversarial: torch.Tensor
    success: torch.Tensor
    l2: torch.Tensor
    linf: torch.Tensor
    attack_id: str
    forward_samples: int
    backward_samples: int

    @property
    def success_rate(self) -> float:
        """The share of points fooled."""
        return float(self.success.float().mean()) if self.success.numel() else 0.0


def _run(name: str, model: Any, x: torch.Tensor, y: torch.Tensor, clip: Box, seed: int,
         point_ids: Optional[torch.Tensor], **settings: Any) -> AttackResult:
    _model_info.check_labels(model, x, y, settings.get("target"))
    entry = {"name": name}
    entry.update({k: v for k, v in settings.items() if v is not None})
    out = _rampart.run_attack(model, x, y, json.dumps(entry), "rampart." + name.replace("-", "_"),
                              float(clip[0]), float(clip[1]), int(seed), point_ids)
    return AttackResult(out["adversarial"], out["success"], out["l2"], out["linf"], out["id"],
                        out["forward_samples"], out["backward_samples"])


def fgsm(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
         loss: str = "ce", clip: Box = (0.0, 1.0),
         point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """FGSM (Goodfellow et al. 2015): one signed-gradient step of size eps (``norm="l2"``: one
    normalised-gradient step) from x, clipped to the box. ``loss``: "ce" or "margin"."""
    return _run("fgsm", model, x, y, clip, 0, point_ids, eps=eps, norm=norm, loss=loss)


def pgd(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
        steps: int = 10, step_size: Optional[float] = None, random_start: bool = True,
        restarts: int = 1, early_stop: bool = True, loss: str = "ce", seed: int = 0,
        clip: Box = (0.0, 1.0), point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """PGD (Madry et al. 2018) in the Linf or L2 ball of radius eps.

    step_size: default 2.5 * eps / steps. random_start: start uniformly in the ball, drawn per
    point from (seed, the attack id, restart, point id); ``point_ids`` (int64 [N], default
    0..N-1) are the points' indices in your data set, so a point draws the same start in any
    batch. restarts: independent runs, the first success kept. early_stop: a fooled point
    keeps its first fooling iterate and leaves the batch (the evaluation default).
    """
    return _run("pgd", model, x, y, clip, seed, point_ids, eps=eps, norm=norm, steps=steps,
                step_size=step_size, random_init=random_start, restarts=restarts,
                early_stop=early_stop, loss=loss)


def cw(model: Any, x: torch.Tensor, y: torch.Tensor, *, steps: int = 100,
       binary_search_steps: int = 5, initial_const: float = 0.01, lr: float = 0.01,
       kappa: float = 0.0, abort_early: bool = False, clip: Box = (0.0, 1.0),
       point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """Carlini-Wagner L2 (2017): minimises ||delta||_2 + c * margin loss in tanh space, with a
    binary search over c per point. Unbounded: read ``l2`` of the fooled points."""
    return _run("cw", model, x, y, clip, 0, point_ids, steps=steps,
                binary_search_steps=binary_search_steps, initial_const=initial_const, lr=lr,
                kappa=kappa, abort_early=abort_early)


def apgd_ce(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
            steps: int = 100, restarts: int = 1, seed: int = 0, clip: Box = (0.0, 1.0),
            point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """APGD with cross-entropy (Croce & Hein 2020), the reference's defaults."""
    return _run("apgd-ce", model, x, y, clip, seed, point_ids, eps=eps, norm=norm, steps=steps,
                restarts=restarts)


def apgd_t(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
           steps: int = 100, target_classes: int = 9, seed: int = 0, clip: Box = (0.0, 1.0),
           point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """Targeted APGD with the DLR loss against the top ``target_classes`` other classes."""
    return _run("apgd-t", model, x, y, clip, seed, point_ids, eps=eps, norm=norm, steps=steps,
                target_classes=target_classes)


def fab_t(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
          steps: int = 100, target_classes: int = 9, seed: int = 0, clip: Box = (0.0, 1.0),
          point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """Targeted FAB (Croce & Hein 2020), minimum-norm, kept when within eps."""
    return _run("fab-t", model, x, y, clip, seed, point_ids, eps=eps, norm=norm, steps=steps,
                target_classes=target_classes)


def square(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
           queries: int = 5000, p_init: float = 0.8, seed: int = 0, clip: Box = (0.0, 1.0),
           point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """Square Attack (Andriushchenko et al. 2020): score-based, no gradients."""
    return _run("square", model, x, y, clip, seed, point_ids, eps=eps, norm=norm,
                queries=queries, p_init=p_init)


def autoattack(model: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
               version: str = "standard", seed: int = 0, clip: Box = (0.0, 1.0),
               point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """AutoAttack (Croce & Hein 2020): APGD-CE, APGD-T, FAB-T and Square in turn, each on the
    points the earlier ones left robust (``version``: standard, plus or rand)."""
    return _run("autoattack", model, x, y, clip, seed, point_ids, eps=eps, norm=norm,
                version=version)


def backdoor(model: Any, x: torch.Tensor, y: torch.Tensor, *, target: int,
             trigger: Optional[dict] = None, clip: Box = (0.0, 1.0),
             point_ids: Optional[torch.Tensor] = None) -> AttackResult:
    """A backdoor's trigger as an attack (the ``backdoor`` entry of ``rampart eval``): stamps
    ``trigger`` (the keys of ``rampart.poison``'s; default a 3x3 patch of the box's top value,
    one pixel in from the bottom-right corner) on every point and succeeds where the model then
    answers ``target``, whatever the point's label. ``success_rate`` is over the points passed:
    pass the points of other classes that the model gets right without the trigger for the
    attack success rate (ASR) as ``rampart eval`` reports it."""
    return _run("backdoor", model, x, y, clip, 0, point_ids, target=target,
                trigger=dict({"type": "patch"}, **(trigger or {})))
