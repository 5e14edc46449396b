"""What compiled-model caches are keyed by, and where they live."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import sys
from pathlib import Path

import torch
from torch import nn


def model_digest(model: nn.Module) -> str:
    """sha256 over the model's state dict (:func:`weights_digest`), its arguments
    (``model_args``: a classifier's temperature is no weight) and the source of the modules of
    every class in it, and of the colour maths: a compiled graph bakes in ``forward`` and the
    constants it uses too, so a release that changes them must not reuse a graph cached from
    the old one."""
    digest = hashlib.sha256()
    modules = {cls.__module__ for part in model.modules() for cls in type(part).__mro__
               if cls.__module__.startswith("streamcolor")} | {"streamcolor.color", "streamcolor.models.blocks"}
    for module in sorted(modules):  # blocks: the builders (conv_norm_act) that make its layers
        digest.update(_source(module).encode())
    digest.update(json.dumps(getattr(model, "model_args", {}), sort_keys=True, default=str).encode())
    digest.update(weights_digest(model).encode())
    return digest.hexdigest()


def _source(module: str) -> str:
    """A module's source, or, where it was installed without it (bytecode only), its name and
    the package's version: a new release still gives new keys."""
    try:
        return inspect.getsource(sys.modules[module])
    except (OSError, TypeError, KeyError):
        return f"{module}=={package_version('streamcolor')}"


def weights_digest(model: nn.Module) -> str:
    """sha256 over the model's state dict: names, shapes, dtypes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def seal(path: Path) -> None:
    """Write ``path``'s sha256 beside it (``NAME.sha256``), so that an entry damaged on the disk
    later is known (:func:`sealed`) instead of run."""
    path.with_name(path.name + ".sha256").write_text(_file_sha256(path))


def sealed(path: Path) -> bool:
    """``path`` holds what :func:`seal` saw (an entry cached before seals counts as unsealed)."""
    try:
        return path.with_name(path.name + ".sha256").read_text().strip() == _file_sha256(path)
    except OSError:
        return False


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
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
