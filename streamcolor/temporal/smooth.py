"""Chroma smoothing along time."""

from __future__ import annotations

import numpy as np


class EMASmoother:
    """Exponential moving average of ab, restarted at scene cuts.

    ``out_t = strength * out_{t-1} + (1 - strength) * ab_t``; at a cut ``out_t = ab_t``,
    so no colour is carried from one shot into the next.

    Args:
        strength: weight of the past in [0, 1); 0 turns smoothing off.
    """

    def __init__(self, strength: float = 0.5) -> None:
        if not 0 <= strength < 1:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
        self.state: np.ndarray | None = None

    def push(self, ab: np.ndarray, is_cut: bool) -> np.ndarray:
        """Smooth the next frame's ab (float32 ``(H, W, 2)``, Lab units); returns the smoothed ab."""
        if is_cut or self.state is None or self.state.shape != ab.shape:
            self.state = ab.copy()
        else:
            self.state = self.strength * self.state + (1 - self.strength) * ab
        return self.state
