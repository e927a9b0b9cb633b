"""Safe model intake: scan an untrusted model file before anything loads it."""
from __future__ import annotations

import json
import os
from typing import Optional, Sequence, Union

from . import _rampart

PathLike = Union[str, "os.PathLike[str]"]


def scan(path: PathLike, *, sha256: Optional[str] = None, signature: Optional[PathLike] = None,
         public_key: Optional[PathLike] = None, allowlist: Optional[PathLike] = None,
         input_shape: Optional[Sequence[int]] = None, check: bool = True) -> dict:
    """Scans a model file as ``rampart scan`` does: reads it through the intake (size limit,
    the ``sha256`` pin, an Ed25519 ``signature`` with the signer's ``public_key``, or an
    ``allowlist``), inspects a TorchScript archive's pickles and code without loading it, then
    loads and runs it (on zeros of ``input_shape``, C, H, W, when given or inferred) inside the
    sandboxed probe. A safetensors checkpoint is parsed, never run.

    Returns the verdict: ``verdict`` (accepted, loaded_not_run or rejected), ``reasons``,
    ``checked``, ``sha256``, ``format``, ``globals``, ``operators``, ``probe``. With ``check``
    (the default) a rejected file raises rampart.ModelRejected naming the reasons instead.
    """
    if (signature is None) != (public_key is None):
        raise _rampart.ConfigError("scan: signature and public_key go together")
    report = json.loads(_rampart.scan(os.fspath(path), sha256 or "",
                                      os.fspath(signature) if signature else "",
                                      os.fspath(public_key) if public_key else "",
                                      os.fspath(allowlist) if allowlist else "",
                                      list(input_shape or [])))
    if check and report["verdict"] == "rejected":
        reasons = "; ".join(r["message"] for r in report["reasons"])
        raise _rampart.ModelRejected(reasons)
    return report
