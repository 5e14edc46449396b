"""PyTorch backend (CPU or CUDA)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.errors import InputError
from streamcolor.models.io import HINT_MODEL


def torch_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` -> the torch device.

    Raises:
        InputError: another name, or CUDA asked for where this torch has no usable GPU.
    """
    if not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise InputError(f"device (--device) must be cpu, cuda or cuda:N; got {name!r}")
    if name != "cpu" and not torch.cuda.is_available():
        raise InputError(f"device (--device) {name!r}: this torch build sees no CUDA GPU; use --device cpu")
    return torch.device(name)


class TorchBackend(Backend):
    """PyTorch inference of a generator (L in [-1, 1] -> ab in [-1, 1]).

    Args:
        model: the generator (its ``multiple`` attribute sets the padding).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        precision: ``"fp32"``, or ``"fp16"`` (CUDA only: half weights and activations).
        channels_last: NHWC memory layout (faster convolutions on CPU and on tensor cores).
        compile: wrap the model in ``torch.compile`` (first batch of each shape compiles).

    Raises:
        InputError: fp16 asked for on the CPU, or an unknown precision.
    """

    def __init__(self, model: nn.Module, device: str = "cpu", precision: str = "fp32", channels_last: bool = True,
                 compile: bool = False) -> None:
        self.device = torch_device(device)
        if precision not in ("fp32", "fp16") or (precision == "fp16" and self.device.type != "cuda"):
            raise InputError(f"precision must be fp32, or fp16 on CUDA; got {precision!r} on {device}")
        self.name = f"torch-{self.device.type}"
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(self.device, self.dtype).to(memory_format=self.memory_format)
        self.multiple = model.multiple
        self._run = torch.compile(self.model) if compile else self.model

    def _hint_input(self, L: np.ndarray, hints: np.ndarray) -> torch.Tensor:
        if not self.model.hint_channels:
            raise InputError(f"this model does not take colour hints; use a hint model such as {HINT_MODEL}")
        return self.model.hint_input(L, hints).to(self.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x.to(self.dtype).contiguous(memory_format=self.memory_format))
