"""What the attacks and the evaluation read off the caller's model before they run."""
from __future__ import annotations

import weakref
from typing import Any, Optional

import torch

from . import _rampart

# The class count of each model object, read once per input shape, dtype and device: a training
# loop calls adversarial_loss on every batch, and the probe is a forward pass with every
# submodule's mode switched and switched back. A model whose output width changes later (a new
# head on the same object) keeps the count first read.
_CLASSES: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def check_device(model: Any, x: torch.Tensor) -> None:
    """A model whose parameters all sit on one device and x on another: one ConfigError naming
    both, not torch's "Expected all tensors to be on the same device" from inside the forward."""
    devices = {p.device for p in model.parameters()} if hasattr(model, "parameters") else set()
    if len(devices) == 1:
        (device,) = devices
        if device != x.device:
            raise _rampart.ConfigError(f"x is on {x.device}, the model's parameters on {device}: "
                                       "move one of them")


def num_classes(model: Any, x: torch.Tensor) -> int:
    """The width of the model's output on one point, in eval mode; every submodule's mode comes
    back as it was (model.train() would also switch a frozen BatchNorm back to training).
    uint8 images are pixels, probed as the evaluation reads them (scaled by 1/255). Read once
    per model object and input shape, dtype and device (``_CLASSES``)."""
    check_device(model, x)
    key = (tuple(x.shape[1:]), x.dtype, x.device)
    try:
        cached = _CLASSES.get(model)
    except TypeError:  # an object that takes no weak reference or no hash: probed every call
        cached = None
    if cached is not None and cached[0] == key:
        return cached[1]
    classes = _probe_classes(model, x)
    try:
        _CLASSES[model] = (key, classes)
    except TypeError:
        pass
    return classes


def _probe_classes(model: Any, x: torch.Tensor) -> int:
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    probe = x[:1].float() / 255 if x.dtype == torch.uint8 else x[:1]
    with torch.no_grad():
        if modes:
            model.eval()
        try:
            out = model(probe)
            if not isinstance(out, torch.Tensor) or out.dim() != 2:
                raise _rampart.ConfigError("the model must return logits [N, classes], got "
                                           + (f"shape {list(out.shape)}" if isinstance(out, torch.Tensor)
                                              else type(out).__name__))
            return int(out.shape[1])
        finally:
            for module, training in modes:
                module.train(training)


def check_labels(model: Any, x: torch.Tensor, y: torch.Tensor,
                 target: Optional[int] = None) -> None:
    """Labels are integers in [0, classes), and a backdoor's target is a class of the model: a
    DataError or ConfigError naming the problem, not libtorch's "Target 10 is out of bounds"
    or a float label silently truncated (``rampart eval`` checks the same)."""
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise _rampart.DataError(f"labels: expected an integer tensor, got {y.dtype}")
    if x.shape[0] == 0:
        return
    classes = num_classes(model, x)
    if y.numel():
        low, high = torch.stack(torch.aminmax(y)).tolist()  # one read from the device, not two
        if low < 0 or high >= classes:
            raise _rampart.DataError(f"labels: every label must lie in [0, {classes}) (the "
                                     f"model's outputs), got {low} to {high}")
    if target is not None and not 0 <= target < classes:
        raise _rampart.ConfigError(f"target: {target} is not a class of the model "
                                   f"(it has {classes})")
