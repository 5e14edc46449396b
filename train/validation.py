"""Validation of a generator during training (torch): PSNR at the training scale, and a grey /
generated / truth grid. A finished model is scored by :mod:`streamcolor.evaluate`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from streamcolor.color import denormalize_ab, denormalize_L, lab_to_rgb
from streamcolor.backends.base import predict_ab
from streamcolor.images import read_rgb, resize_short_side
from streamcolor.metrics import psnr
from streamcolor.train.datasets import to_L_ab


def _to_rgb8(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    lab = torch.cat([denormalize_L(L), denormalize_ab(ab)], 0).permute(1, 2, 0).numpy()
    return (lab_to_rgb(lab) * 255 + 0.5).astype(np.uint8)


@torch.no_grad()
def colorize_at_scale(model: nn.Module, rgb: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resize ``rgb`` to short side ``scale``; return (grey, generated, truth) uint8 RGB at that size."""
    small = resize_short_side(rgb, scale)
    L, ab = to_L_ab(small)
    device = next(model.parameters()).device
    pred = predict_ab(model, L[None].to(device), model.multiple)[0].float().cpu()
    return _to_rgb8(L, torch.zeros_like(ab)), _to_rgb8(L, pred), small


def validate(model: nn.Module, files: list[Path], scale: int, grid_path: Path | None = None,
             grid_rows: int = 6) -> dict[str, float]:
    """Mean RGB PSNR (dB) of the model and of the grey baseline (ab = 0) over ``files``.

    When ``grid_path`` is given, writes a PNG of the first ``grid_rows`` images as
    grey | generated | ground truth, each cropped to a square.
    """
    # each module's own mode comes back, so layers a run holds in eval mode (--freeze) stay so
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    scores, grey_scores, rows = [], [], []
    for path in files:
        grey, gen, truth = colorize_at_scale(model, read_rgb(path), scale)
        scores.append(psnr(gen, truth))
        grey_scores.append(psnr(grey, truth))
        if len(rows) < grid_rows:
            rows.append(np.concatenate([im[:scale, :scale] for im in (grey, gen, truth)], 1))
    for module, training in modes:
        module.training = training
    if grid_path is not None and rows:
        cv2.imwrite(str(grid_path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    return {"val_psnr": float(np.mean(scores)), "val_psnr_grey": float(np.mean(grey_scores))}
