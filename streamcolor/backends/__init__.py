"""Backends run a generator: ``predict_ab(L_batch) -> ab_batch`` (see :mod:`.base`).

``select_backend("auto", ...)`` prefers tensorrt > torch-cuda > onnxruntime-int8 (the fast CPU
path, for models that ship calibration frames, on x86 with AVX-512 VNNI) > onnxruntime >
torch-cpu and logs the choice and why each better one was skipped. Only the torch backends pass a
hint model its colour hints (:attr:`Backend.takes_hints`): a video carries none, so the compiled
ones serve a hint model's video runs.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.backends.torch_backend import TorchBackend
from streamcolor.errors import InputError

log = logging.getLogger("streamcolor")


def _tensorrt(model: nn.Module) -> Backend:
    from streamcolor.backends.tensorrt import TensorRTBackend

    return TensorRTBackend(model)


def _torch_cuda(model: nn.Module) -> Backend:
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device")
    return TorchBackend(model, "cuda")


def _onnxruntime(model: nn.Module) -> Backend:
    from streamcolor.backends.onnx_backend import OnnxBackend

    return OnnxBackend(model)


def _onnxruntime_int8(model: nn.Module) -> Backend:
    from streamcolor.backends.onnx_backend import OnnxBackend

    return OnnxBackend(model, precision="int8")


def _torch_cpu(model: nn.Module) -> Backend:
    return TorchBackend(model, "cpu")


#: Backends in order of preference for ``auto``.
BACKENDS: dict[str, Callable[[nn.Module], Backend]] = {
    "tensorrt": _tensorrt,
    "torch-cuda": _torch_cuda,
    "onnxruntime-int8": _onnxruntime_int8,
    "onnxruntime": _onnxruntime,
    "torch-cpu": _torch_cpu,
}


def select_backend(name: str, model: nn.Module) -> Backend:
    """Build the backend ``name`` (a key of :data:`BACKENDS`, or ``"auto"``: the first that runs here).

    Raises:
        InputError: unknown name, or the named backend cannot run here (the reason is given).
    """
    if name != "auto":
        if name not in BACKENDS:
            raise InputError(f"unknown backend {name!r}; choose auto, {', '.join(BACKENDS)}")
        try:
            return BACKENDS[name](model)
        except (ImportError, RuntimeError, OSError) as exc:
            raise InputError(f"backend {name!r} cannot run here: {exc}") from exc
    skipped = []
    for candidate in BACKENDS:
        try:
            backend = BACKENDS[candidate](model)
        except (ImportError, RuntimeError, OSError) as exc:  # OSError: a cache that cannot be written
            skipped.append(f"{candidate} skipped: {exc}")
            continue
        log.info("backend: %s%s", candidate, f" ({'; '.join(skipped)})" if skipped else "")
        return backend
    raise InputError("no backend can run here: " + "; ".join(skipped))


__all__ = ["BACKENDS", "Backend", "TorchBackend", "select_backend"]
