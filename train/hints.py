"""Colour hints sampled from the ground truth, as Zhang et al. 2017 train user-guided colorization.

Per image the number of hints is geometric (p = 1/8, so 1/8 of images get none and the
model still learns to colorize alone); each hint is a square patch of random side 1-5
px (at the 128-px training crops) placed uniformly, holding the mean true ab of that patch.
"""

from __future__ import annotations

import numpy as np
import torch

from streamcolor.color import denormalize_ab


def sample_hints(ab: torch.Tensor, generator: torch.Generator, p: float = 1 / 8, max_side: int = 5) -> np.ndarray:
    """Sparse hints for a batch, as a user's clicks arrive at the model.

    Args:
        ab: true ab ``(N, 2, H, W)`` scaled to [-1, 1].
        generator: random source (CPU).

    Returns:
        float32 ``(N, H, W, 3)``: hint a, hint b (Lab units, 0 where no hint) and the mask
        (1 on hinted pixels), the input of :func:`streamcolor.models.hints.hint_input`.
    """
    n, _, h, w = ab.shape
    hints = torch.zeros(n, 3, h, w)
    truth = denormalize_ab(ab.detach().float().cpu())
    for i in range(n):
        points = int(torch.empty(1).geometric_(p, generator=generator).item()) - 1  # 0, 1, 2 ... with P(0) = p
        for _ in range(points):
            side = int(torch.randint(1, max_side + 1, (1,), generator=generator))
            y = int(torch.randint(0, h - side + 1, (1,), generator=generator))
            x = int(torch.randint(0, w - side + 1, (1,), generator=generator))
            patch = (slice(y, y + side), slice(x, x + side))
            hints[i, :2, patch[0], patch[1]] = truth[i, :, patch[0], patch[1]].mean((1, 2))[:, None, None]
            hints[i, 2, patch[0], patch[1]] = 1.0
    return hints.permute(0, 2, 3, 1).numpy()
