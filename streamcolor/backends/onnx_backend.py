"""ONNX Runtime backend: the fast CPU path.

The generator is exported once to ONNX (batch, height and width dynamic; fp32) and cached
in the user cache directory under a key of weights sha256 + torch / onnx versions; an
unreadable cache entry is rebuilt. On this project's 2-core CPU the default U-Net runs
about 1.3x faster under ONNX Runtime than in eager PyTorch (docs/performance.md).
onnxruntime is imported lazily.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.backends.cache import cache_dir, package_version, weights_digest

log = logging.getLogger("streamcolor")

OPSET = 17


def onnx_cache_path(model: nn.Module) -> Path:
    """Where the exported ``model`` is cached (changes with its weights and the exporter's versions)."""
    text = "|".join([weights_digest(model), f"opset{OPSET}", *(f"{p}={package_version(p)}" for p in ("torch", "onnx"))])
    return cache_dir("onnx") / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.onnx"


def export_onnx(model: nn.Module, path: Path) -> None:
    """Export ``model`` (L ``(N, 1, H, W)`` in [-1, 1] -> ab ``(N, 2, H, W)``) to ``path``
    with dynamic N, H, W; written to a temporary file and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")  # concurrent first runs do not collide
    example = torch.zeros(1, 1, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        torch.onnx.export(model, (example,), str(tmp), input_names=["L"], output_names=["ab"], opset_version=OPSET,
                          dynamic_axes={"L": axes, "ab": axes}, dynamo=False)
    tmp.replace(path)


class OnnxBackend(Backend):
    """Run a generator with ONNX Runtime on the CPU (fp32).

    Args:
        model: the generator (its ``multiple`` attribute sets the padding).
        threads: intra-op threads (None = half the cores, at least one: the pipeline's decoder,
            encoder and colour maths run on the rest; on 2 cores one thread colorized the
            bunny clip 10-13 % faster than two, docs/performance.md).

    Raises:
        ImportError: onnxruntime or onnx is not installed.
        RuntimeError: the model cannot be exported or loaded.
    """

    name = "onnxruntime"

    def __init__(self, model: nn.Module, threads: int | None = None) -> None:
        import onnxruntime

        model = model.eval().float().cpu()
        path = onnx_cache_path(model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, (os.cpu_count() or 2) // 2)
        # idle pool threads would otherwise spin, taking the cores the decoder, the encoder
        # and the colour maths run on between batches
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = self._load(onnxruntime, path, options)
        if session is None:
            started = time.perf_counter()
            try:
                export_onnx(model, path)
            except Exception as exc:  # the exporter raises many kinds; all mean "not this backend"
                raise RuntimeError(f"ONNX export failed: {exc}") from exc
            log.info("exported the generator to ONNX in %.1f s (cached as %s)", time.perf_counter() - started, path.name)
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.session = session
        self.multiple = model.multiple

    @staticmethod
    def _load(onnxruntime, path: Path, options):
        if not path.is_file():
            return None
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own error types: any failure means rebuild
            log.warning("ONNX cache entry %s is unusable (%s): rebuilding", path.name, exc)
            path.unlink(missing_ok=True)
            return None

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"L": x.numpy()})[0])
