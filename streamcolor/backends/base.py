"""The one interface every backend implements, and the steps they all share (training runs
its generator through the same padding: :func:`predict_ab`).

Every backend turns L in Lab units into ab in Lab units the same way: scale L to [-1, 1], pad
it to the network's multiple, run the generator, crop, scale ab back. Only the generator call
differs (eager torch, an ONNX Runtime session, a TensorRT program), so a backend supplies
:meth:`Backend._forward` and, where it can take colour hints, :meth:`Backend._hint_input` (which
makes :attr:`Backend.takes_hints` true).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from streamcolor.color import denormalize_ab, normalize_L
from streamcolor.errors import InputError
from streamcolor.backends.device import to_device


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """Smallest (H, W) >= the input that are multiples of ``multiple``."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def predict_ab(model: Callable[[torch.Tensor], torch.Tensor], L: torch.Tensor, multiple: int) -> torch.Tensor:
    """Run ``model`` on L, padding (edge replicate) H and W to multiples of ``multiple`` and
    cropping back.

    Args:
        model: a generator (:class:`streamcolor.models.Generator`; pass its ``multiple``), or a
            callable standing for one (e.g. a compiled runtime).
        L: float ``(N, C, H, W)``, L scaled to [-1, 1] (then any hint channels).
        multiple: the padding ``model`` needs.

    Returns:
        ``(N, 2, H, W)`` ab scaled to [-1, 1], as ``model`` returns it.
    """
    h, w = L.shape[-2:]
    ph, pw = padded_size(h, w, multiple)
    x = F.pad(L, (0, pw - w, 0, ph - h), mode="replicate") if (ph, pw) != (h, w) else L
    return model(x)[..., :h, :w]


class Backend(ABC):
    """Runs a generator on batches of L at inference size.

    Subclasses set ``name`` (as in :data:`streamcolor.backends.BACKENDS`), ``device`` (where
    inputs are put) and ``multiple`` (the padding the generator needs), and implement
    :meth:`_forward`.
    """

    name: str
    device: torch.device = torch.device("cpu")
    multiple: int = 1

    @property
    def takes_hints(self) -> bool:
        """It passes colour hints to a hint model: it supplies :meth:`_hint_input` (compiled
        backends take L only)."""
        return type(self)._hint_input is not Backend._hint_input

    @torch.inference_mode()
    def predict_ab(self, L: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """Predict chroma.

        Args:
            L: float32 ``(N, H, W)``, CIE L in [0, 100].
            hints: for a hint model (``unet_small_hints``), float32 ``(N, H, W, 3)``: the
                user's a, b (Lab units) and a mask (1 where hinted, else 0).

        Returns:
            float32 ``(N, H, W, 2)``, a and b in Lab units (about [-110, 110]).

        Raises:
            InputError: hints given to a backend or model that cannot take them.
        """
        x = normalize_L(to_device(L, self.device)[:, None])
        if hints is not None:
            x = torch.cat([x, self._hint_input(L, hints)], 1)
        ab = predict_ab(self._forward, x, self.multiple).float()
        return denormalize_ab(ab).permute(0, 2, 3, 1).cpu().numpy()

    def _hint_input(self, L: np.ndarray, hints: np.ndarray) -> torch.Tensor:
        """The generator's extra input channels for ``hints`` on :attr:`device`; compiled
        backends take L only."""
        raise InputError(f"colour hints need the torch backend, not {self.name} (backend='torch-cpu' or "
                         f"'torch-cuda')")

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The generator on ``x``: float32 ``(N, C, H, W)`` on :attr:`device`, L scaled to
        [-1, 1] (then any hint channels), H and W multiples of :attr:`multiple` -> ``(N, 2, H, W)``
        ab scaled to [-1, 1] (any float dtype, on any device)."""
