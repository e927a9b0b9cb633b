"""Rampart from Python: native adversarial attacks, robustness reports with CI gates,
adversarial training steps for your own loop, and data poisoning audits.

A ``torch.jit.ScriptModule`` runs natively (no Python, no GIL, in the attack loop); any other
``torch.nn.Module`` (or callable from a batch to logits) is called back for its forward pass,
with autograd flowing into the native loop. Tensors cross without copies.

    import rampart
    result = rampart.pgd(model, x, y, eps=0.1, steps=20)
    print(result.success.float().mean())

Errors are ``rampart.ConfigError`` (a bad argument or config key), ``rampart.ModelRejected``
(the model intake refused a file) and ``rampart.DataError`` (unreadable or inconsistent data),
all ``rampart.Error``, with the command line's one-line messages.
"""
from __future__ import annotations

from ._rampart import ConfigError, DataError, Error, ModelRejected, __version__, libtorch_version
from .aggregation import Aggregator
from .attacks import (AttackResult, apgd_ce, apgd_t, autoattack, backdoor, cw, fab_t, fgsm, pgd,
                      square)
from .evaluation import RobustnessError, assert_robust, evaluate
from .intake import scan
from .poisoning import (apply_trigger, audit_features, manifest, poison, relabel_flagged,
                        verify_manifest)
from .training import adversarial_loss, adversarial_training_step

__all__ = [
    "Aggregator", "AttackResult", "ConfigError", "DataError", "Error", "ModelRejected", "RobustnessError",
    "__version__", "adversarial_loss", "adversarial_training_step", "apgd_ce", "apgd_t",
    "apply_trigger", "assert_robust", "audit_features", "autoattack", "backdoor", "cw", "evaluate",
    "fab_t", "fgsm", "libtorch_version", "manifest", "pgd", "poison", "relabel_flagged", "scan",
    "square", "verify_manifest",
]
