"""PyTorch backend (CPU or CUDA)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.color import denormalize_ab, normalize_ab, normalize_L
from streamcolor.errors import InputError
from streamcolor.inference import predict_ab


class TorchBackend(Backend):
    """Eager PyTorch inference of a generator (L in [-1, 1] -> ab in [-1, 1]).

    Args:
        model: the generator (its ``multiple`` attribute sets the padding).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
    """

    def __init__(self, model: nn.Module, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)

    @torch.inference_mode()
    def predict_ab(self, L: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        x = normalize_L(torch.from_numpy(np.ascontiguousarray(L, dtype=np.float32))[:, None].to(self.device))
        if hints is not None:
            if not getattr(self.model, "hint_channels", 0):
                raise InputError("this model does not take colour hints; use a hint model such as unet_small_hints_v1")
            h = torch.from_numpy(np.ascontiguousarray(hints, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
            x = torch.cat([x, normalize_ab(h[:, :2]) * h[:, 2:], h[:, 2:]], 1)
        ab = denormalize_ab(predict_ab(self.model, x).float())
        return ab.permute(0, 2, 3, 1).cpu().numpy()
