"""Reference frames: a user's colour for one frame, carried forward through its shot along motion."""

from __future__ import annotations

import cv2
import numpy as np

from streamcolor.color import rgb_to_lab
from streamcolor.temporal.flow import Flow, match_confidence, warp


def as_stored(rgb: np.ndarray, rotation: int, stored: tuple[int, int]) -> np.ndarray:
    """A reference taken as the film is shown, turned back to its frames as stored: a player
    turns a phone clip by its display ``rotation`` (degrees counter-clockwise), and a still taken
    from it is turned so. A still of 90 or 270 degrees whose shape is the stored frames'
    ``(height, width)`` rather than the shown is taken as stored already.

    Args:
        rgb: uint8 ``(H, W, 3)``.
        rotation: the video's display rotation, a multiple of 90.
        stored: the frames' (height, width) as stored.
    """
    turns = (rotation // 90) % 4
    if turns == 0:
        return rgb
    shown_wide, stored_wide = rgb.shape[1] > rgb.shape[0], stored[1] > stored[0]
    if turns % 2 and shown_wide == stored_wide and stored[0] != stored[1]:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, -turns))


def reference_ab(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """ab of a colour reference image resized to ``size`` = (height, width) (area filter).

    Args:
        rgb: uint8 ``(H, W, 3)`` RGB, any size.

    Returns:
        float32 ``(height, width, 2)`` in Lab units.
    """
    resized = cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb_to_lab(resized.astype(np.float32) / 255)[..., 1:])


class ReferencePropagator:
    """Carries a reference frame's ab forward within its shot.

    On the reference frame the output is the reference's ab. On each later frame the
    carried ab and its per-pixel confidence are warped along DIS flow on L; the confidence
    is multiplied by ``exp(-(ΔL / sigma_L)^2)`` (how well the warped L matches: occlusions
    and new objects fall to 0) and by ``decay`` per frame; the output is
    ``c * carried + (1 - c) * predicted``, so the model takes over where the reference no
    longer tells. A scene cut drops the reference. :meth:`carry_back` does the same
    backward, over frames held back by the caller (the engine's bounded look-ahead).

    Args:
        decay: confidence kept per frame (0.99 = about half after 70 frames).
        sigma_L: luma mismatch (L units) at which confidence falls to 1/e.
    """

    def __init__(self, decay: float = 0.99, sigma_L: float = 8.0) -> None:
        self.decay, self.sigma_L = decay, sigma_L
        self.flow = Flow()
        self.state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (L, carried ab, confidence)

    def push(self, ab: np.ndarray, L: np.ndarray, is_cut: bool, reference: np.ndarray | None) -> np.ndarray:
        """The frame's ab ``(H, W, 2)`` after blending in the carried reference.

        Args:
            ab: predicted (smoothed) ab, float32 ``(H, W, 2)``.
            L: the frame's L ``(H, W)`` in [0, 100].
            is_cut: the frame starts a new shot.
            reference: this frame's reference ab ``(H, W, 2)``, or None.
        """
        if reference is not None:
            self.state = (L, reference, np.ones(L.shape, np.float32))
            return reference
        if is_cut or self.state is None or self.state[0].shape != L.shape:
            self.state = None
            return ab
        carried, confidence = self._step(L, *self.state)
        self.state = (L, carried, confidence)
        return _blend(carried, confidence, ab)

    def _step(self, L: np.ndarray, source_L: np.ndarray, carried: np.ndarray,
              confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Carried ab and confidence moved from the frame with ``source_L`` onto ``L``."""
        flow = self.flow(L, source_L)
        match = match_confidence(L, warp(source_L, flow), self.sigma_L)
        return warp(carried, flow), (warp(confidence, flow) * match * self.decay).astype(np.float32)

    def carry_back(self, reference: np.ndarray, L: np.ndarray, earlier: list[tuple[np.ndarray, np.ndarray]],
                   starts_shot: list[bool]) -> list[np.ndarray]:
        """Blend a reference into the frames before it, newest first, up to its shot's start.

        Args:
            reference: the reference frame's ab ``(H, W, 2)``; ``L`` its L ``(H, W)``.
            earlier: (L, ab) of the frames before it, oldest first.
            starts_shot: for the reference frame and each frame of ``earlier`` (same order,
                reference last), whether it is the first frame of a shot.

        Returns:
            The new ab of each frame of ``earlier`` (unchanged before the shot's start).
        """
        out = [ab for _, ab in earlier]
        carried, confidence, source_L = reference, np.ones(L.shape, np.float32), L
        for k in range(len(earlier) - 1, -1, -1):
            if starts_shot[k + 1]:
                break  # frame k belongs to an earlier shot
            frame_L, ab = earlier[k]
            carried, confidence = self._step(frame_L, source_L, carried, confidence)
            out[k] = _blend(carried, confidence, ab)
            source_L = frame_L
        return out


def _blend(carried: np.ndarray, confidence: np.ndarray, ab: np.ndarray) -> np.ndarray:
    c = confidence[..., None]
    return (c * carried + (1 - c) * ab).astype(np.float32)
