"""Adversarial training inside your own PyTorch loop."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from . import _model_info, _rampart


def adversarial_loss(model: Any, x: torch.Tensor, y: torch.Tensor, *, method: str = "pgd_at",
                     eps: float, steps: int = 10, step_size: Optional[float] = None,
                     random_start: bool = True, clean_weight: float = 0.0, beta: float = 6.0,
                     craft_mode: str = "default", clip: Tuple[float, float] = (0.0, 1.0),
                     seed: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The adversarial training loss of one batch, ready for ``loss.backward()``.

    method: "pgd_at" (Madry et al. 2018: cross-entropy on PGD examples), "fgsm_rs" (Wong et
    al. 2020: one FGSM step from a random start, step 1.25 eps) or "trades" (Zhang et al.
    2019: CE(clean) + beta * KL(clean || adversarial)). The examples are crafted with the
    parameters frozen (no parameter gradients) in the method's reference mode (``craft_mode``
    "default"; or "train", "eval"), then the loss is computed in the model's own mode.
    step_size: default 2.5 * eps / steps (fgsm_rs: 1.25 eps). seed: draws the random starts;
    None (the default) draws it from torch's generator, so each batch gets fresh starts as in
    ``rampart train`` (a fixed seed gives point i of every batch the same start, every step).
    Returns (loss, logits): the logits of the points trained on.
    """
    # Labels in [0, classes) and on x's device, the model on x's device: one clear error, not
    # libtorch's "Target 10 is out of bounds" (a device-side assert on CUDA) or a float label
    # silently truncated.
    _model_info.check_device(model, x)
    _model_info.check_labels(model, x, y)
    if seed is None:
        seed = int(torch.randint(0, 2 ** 62, (1,)).item())
    return _rampart.adversarial_loss(model, x, y, method, float(eps), int(steps),
                                     float(step_size or 0.0), bool(random_start),
                                     float(clean_weight), float(beta), craft_mode,
                                     float(clip[0]), float(clip[1]), int(seed))


def adversarial_training_step(model: Any, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                              y: torch.Tensor, *, method: str = "pgd_at", eps: float,
                              steps: int = 10, step_size: Optional[float] = None,
                              random_start: bool = True, clean_weight: float = 0.0,
                              beta: float = 6.0, craft_mode: str = "default",
                              clip: Tuple[float, float] = (0.0, 1.0),
                              seed: Optional[int] = None) -> dict:
    """One optimizer step on the adversarial loss (``adversarial_loss``): zero_grad, backward,
    step. Returns {"loss": float, "accuracy": float} on the batch (accuracy of the logits
    trained on)."""
    loss, logits = adversarial_loss(model, x, y, method=method, eps=eps, steps=steps,
                                    step_size=step_size, random_start=random_start,
                                    clean_weight=clean_weight, beta=beta, craft_mode=craft_mode,
                                    clip=clip, seed=seed)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        accuracy = (logits.argmax(1) == y.to(logits.device)).float().mean().item()
    return {"loss": loss.item(), "accuracy": accuracy}
