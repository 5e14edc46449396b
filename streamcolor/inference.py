"""Running a generator on L at its inference size: padding to the network's multiple."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


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
