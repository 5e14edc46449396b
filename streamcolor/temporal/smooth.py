"""Chroma smoothing along time: a moving average, and its motion-compensated form."""

from __future__ import annotations

import numpy as np

from streamcolor.temporal.flow import Flow, Motion, match_confidence, motion, visibility, warp


def _check_strength(strength: float) -> float:
    if not 0 <= strength < 1:
        raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
    return strength


class EMASmoother:
    """Exponential moving average of ab, restarted at scene cuts.

    ``out_t = strength * out_{t-1} + (1 - strength) * ab_t``; at a cut ``out_t = ab_t``,
    so no colour is carried from one shot into the next. Moving objects leave trails:
    :class:`MotionSmoother` follows them instead.

    Args:
        strength: weight of the past in [0, 1); 0 turns smoothing off.
    """

    def __init__(self, strength: float = 0.5) -> None:
        self.strength = _check_strength(strength)
        self.state: np.ndarray | None = None

    def push(self, ab: np.ndarray, L: np.ndarray, is_cut: bool, moved: Motion | None = None) -> np.ndarray:
        """Smooth the next frame's ab (float32 ``(H, W, 2)``, Lab units); ``L`` and ``moved``
        are unused here (same signature as :class:`MotionSmoother`). Returns the smoothed ab."""
        if is_cut or self.state is None or self.state.shape != ab.shape:
            self.state = ab.copy()
        else:
            self.state = self.strength * self.state + (1 - self.strength) * ab
        return self.state


class MotionSmoother:
    """Motion-compensated recursive smoothing of ab, reset at cuts.

    For each frame: flow from the current L to the previous L and back (DIS, or the frame's
    ``motion`` where :class:`streamcolor.stages.fill.FillSkipped` computed it); the previous
    *smoothed* ab and the previous L are warped onto the current frame; a confidence
    ``c = exp(-(ΔL / sigma_L)^2) * v``, from how well the warped L matches the current L and
    from the flow's forward-backward visibility ``v`` (:func:`streamcolor.temporal.flow.visibility`),
    sends occluded, newly visible and badly tracked pixels to the current prediction; then
    ``out = w * warped_ab + (1 - w) * ab`` with ``w = strength * c``. Luma alone passes what a
    dark moving figure uncovers on a dark ground, and smeared the figure's colour over it.

    Args:
        strength: weight of the (warped) past where tracking is sure, in [0, 1).
        sigma_L: luma mismatch (L units) at which confidence falls to 1/e.
        sigma_px: forward-backward flow error (pixels at inference size) at which it falls to 1/e.
    """

    def __init__(self, strength: float = 0.9, sigma_L: float = 8.0, sigma_px: float = 2.0) -> None:
        self.strength = _check_strength(strength)
        self.sigma_L, self.sigma_px = sigma_L, sigma_px
        self.flow = Flow()
        self.state: tuple[np.ndarray, np.ndarray] | None = None  # (L, smoothed ab)

    def push(self, ab: np.ndarray, L: np.ndarray, is_cut: bool, moved: Motion | None = None) -> np.ndarray:
        """Smooth ab (float32 ``(H, W, 2)``) of the frame with luma ``L`` (``(H, W)``, 0-100);
        ``moved``: its :class:`~streamcolor.temporal.flow.Motion` from the previous frame where
        already computed (:class:`streamcolor.stages.fill.FillSkipped`), else it is computed here."""
        if is_cut or self.state is None or self.state[0].shape != L.shape or self.strength == 0:
            self.state = (L, ab.copy())
            return self.state[1]
        prev_L, prev_ab = self.state
        moved = moved or motion(self.flow, L, prev_L)
        flow = moved.to_previous
        seen = visibility(moved.error, self.sigma_px)
        confidence = match_confidence(L, warp(prev_L, flow), self.sigma_L) * seen
        weight = (self.strength * confidence).astype(np.float32)
        out = (ab + np.dstack([weight, weight]) * (warp(prev_ab, flow) - ab)).astype(np.float32, copy=False)
        self.state = (L, out)
        return out
