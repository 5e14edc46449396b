"""What compiled-model caches are keyed by, and where they live."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import sys
from pathlib import Path

import torch
from torch import nn


def model_digest(model: nn.Module) -> str:
    """sha256 over the model's state dict (:func:`weights_digest`) and the source of its
    classes' modules: a compiled graph bakes in ``forward`` too, so a release that changes it
    must not reuse a graph cached from the old one."""
    digest = hashlib.sha256()
    for module in sorted({cls.__module__ for cls in type(model).__mro__ if cls.__module__.startswith("streamcolor")}):
        digest.update(inspect.getsource(sys.modules[module]).encode())
    digest.update(weights_digest(model).encode())
    return digest.hexdigest()


def weights_digest(model: nn.Module) -> str:
    """sha256 over the model's state dict: names, shapes, dtypes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def package_version(package: str) -> str:
    """Installed version of ``package``, or ``"absent"``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def cache_dir(kind: str) -> Path:
    """``<user cache>/streamcolor/<kind>`` (platformdirs), e.g. kind ``"tensorrt"``."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("streamcolor")) / kind
