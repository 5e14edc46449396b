"""TensorRT backend (extra ``streamcolor[tensorrt]``): the generator compiled with
torch-tensorrt (dynamo IR, fp16), batch dimension dynamic in ``[1, max_batch]``, spatial
shape fixed per video. Compiled programs are cached in the user cache directory under a key of
weights sha256 + input shape + precision + torch / torch-tensorrt / TensorRT versions + GPU
name, reused when present, rebuilt when unreadable. torch_tensorrt is imported lazily.

API used (torch-tensorrt 2.11 to 2.13, the extra's pin): ``torch_tensorrt.compile(model,
ir="dynamo", inputs=[Input(min_shape, opt_shape, max_shape, dtype=torch.half)])`` on the
fp16 model (these versions type explicitly: the engine takes the model's and the input's
dtypes, and ``enabled_precisions`` other than fp32 is refused),
``torch_tensorrt.save(program, path, arg_inputs=[example], dynamic_shapes=...)`` (the
``dynamic_shapes`` argument, new in 2.11, keeps the batch dimension dynamic in the saved
program; earlier versions re-exported it at the example's batch) and
``torch_tensorrt.load(path).module()``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import time
from pathlib import Path

import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.backends.cache import cache_dir, model_digest, package_version, seal, sealed
from streamcolor.errors import InputError

log = logging.getLogger("streamcolor")


def cache_key(weights_sha256: str, shape: tuple[int, int], precision: str, max_batch: int,
              gpu_name: str, versions: dict[str, str] | None = None) -> str:
    """File-name-safe key of everything a compiled engine depends on."""
    versions = versions or {p: package_version(p) for p in ("torch", "torch-tensorrt", "tensorrt")}
    text = "|".join([weights_sha256, f"{shape[0]}x{shape[1]}", precision, str(max_batch), gpu_name,
                     *(f"{k}={v}" for k, v in sorted(versions.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class TensorRTBackend(Backend):
    """Run a generator through TensorRT on a CUDA device (fp16).

    Raises:
        ImportError: torch_tensorrt is not installed (``pip install 'streamcolor[tensorrt]'``).
        RuntimeError: no CUDA device.
    """

    name = "tensorrt"
    precision = "fp16"

    def __init__(self, model: nn.Module, device: str = "cuda", max_batch: int = 16) -> None:
        import torch_tensorrt  # noqa: F401  (fail here, at selection time, when absent)

        if not torch.cuda.is_available():
            raise RuntimeError("TensorRT needs a CUDA device")
        self.device = torch.device(device)
        self.model = copy.deepcopy(model).eval().to(self.device).half()  # the caller's stays float32
        self.multiple = model.multiple
        self.max_batch = max_batch
        self.digest = model_digest(model)
        self.programs: dict[tuple[int, int], nn.Module] = {}

    def _program(self, shape: tuple[int, int]) -> nn.Module:
        if shape not in self.programs:
            key = cache_key(self.digest, shape, self.precision, self.max_batch, torch.cuda.get_device_name(self.device))
            path = cache_dir("tensorrt") / f"{key}.ep"
            self.programs[shape] = self._load(path) or self._build(path, shape)
        return self.programs[shape]

    def _load(self, path: Path) -> nn.Module | None:
        if not path.is_file():
            return None
        try:
            import torch_tensorrt

            if not sealed(path):
                raise ValueError("its sha256 is not the one it was written with")
            return torch_tensorrt.load(str(path)).module()
        except Exception as exc:  # a corrupt or stale cache entry: rebuild it
            log.warning("TensorRT cache entry %s is unusable (%s): rebuilding", path.name, exc)
            with contextlib.suppress(OSError):  # a read-only cache: the build's save says so
                path.unlink(missing_ok=True)
            return None

    def _build(self, path: Path, shape: tuple[int, int]) -> nn.Module:
        import torch_tensorrt

        started = time.perf_counter()
        spec = torch_tensorrt.Input(min_shape=(1, 1, *shape), opt_shape=(self.max_batch, 1, *shape),
                                    max_shape=(self.max_batch, 1, *shape), dtype=torch.half)
        try:
            program = torch_tensorrt.compile(self.model, ir="dynamo", inputs=[spec])
        except Exception as exc:  # torch-tensorrt raises many kinds; each means this model cannot run here
            raise InputError(f"TensorRT cannot compile the generator for {shape[1]}x{shape[0]} pictures "
                             f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); "
                             "run it with --backend torch-cuda") from exc
        log.info("built TensorRT engine for %dx%d pictures in %.1f s", shape[1], shape[0], time.perf_counter() - started)
        self._save(program, path, shape)
        return program

    def _save(self, program: nn.Module, path: Path, shape: tuple[int, int]) -> None:
        """Cache ``program``; a cache that cannot be written costs the next run a build, not this one."""
        import torch_tensorrt

        example = torch.zeros(self.max_batch, 1, *shape, dtype=torch.half, device=self.device)
        # torch.export refuses a Dim whose min equals its max: a batch of 1 is saved static
        batch = ({0: torch.export.Dim("batch", min=1, max=self.max_batch)},) if self.max_batch > 1 else None
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per process: Ray workers build side by side
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch_tensorrt.save(program, str(tmp), arg_inputs=[example], dynamic_shapes=batch)
            tmp.replace(path)
            seal(path)
        except Exception as exc:  # noqa: BLE001 (the saver raises many kinds; none stops the run)
            log.warning("the TensorRT engine could not be cached in %s (%s): the next run builds it again",
                        path.parent, exc)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        program = self._program(tuple(x.shape[-2:]))
        return torch.cat([program(chunk) for chunk in x.half().split(self.max_batch)])
