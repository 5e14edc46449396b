"""Optical flow on luma (OpenCV DIS) and backward warping."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from streamcolor.errors import InputError


class Flow:
    """Dense flow between consecutive frames with OpenCV's DIS (Kroeger et al. 2016).

    Args:
        preset: ``cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST`` (default), ``_FAST`` or ``_MEDIUM``.
    """

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST) -> None:
        self.dis = cv2.DISOpticalFlow_create(preset)

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether frames of ``shape`` ``(H, W)`` are large enough for DIS (with the
        ULTRAFAST preset, a short side of 32 and a long side of 91 pixels or more).

        DIS derives its coarsest pyramid level from the frame size, as below; when that level
        is finer than the preset's finest one, OpenCV 5 fails an assertion or crashes the
        process (11x40 segfaults), so smaller frames must not reach :meth:`__call__`.
        """
        short, long = sorted(shape[:2])
        patch = self.dis.getPatchSize()
        coarsest = min(int(math.log2(long / (4 * patch)) + 0.5), int(math.log2(short / patch)))
        return coarsest >= self.dis.getFinestScale()

    def __call__(self, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        """Flow ``(H, W, 2)`` float32 in pixels such that ``target[y, x] ≈ source[y + v, x + u]``.

        Args:
            target, source: L in [0, 100], float ``(H, W)`` (converted to uint8 for DIS).

        Raises:
            InputError: frames too small for DIS (:meth:`fits`).
        """
        if not self.fits(target.shape):
            raise InputError(f"{target.shape[1]}x{target.shape[0]} frames are too small for optical flow "
                             "(32 pixels or more on the short side, 91 on the long)")
        to8 = lambda L: np.clip(L * 2.55, 0, 255).astype(np.uint8)  # noqa: E731
        return self.dis.calc(to8(target), to8(source), None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` ``(H, W[, C])`` at ``(x + u, y + v)``: brings ``source`` onto ``target``
    for a flow from :class:`Flow` (bilinear, edges replicated)."""
    grid_y, grid_x = _grid(*flow.shape[:2])
    map_x = grid_x + flow[..., 0]
    map_y = grid_y + flow[..., 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> np.ndarray:
    """Pixel coordinates ``(2, h, w)`` float32 (y, x), kept between frames of one size."""
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    grid.flags.writeable = False
    return grid


def consistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward-backward error in pixels ``(H, W)``: |f(x) + b(x + f(x))| (0 where the two
    flows agree; large at occlusions and where the flow is wrong)."""
    error = forward + warp(backward, forward)
    return cv2.magnitude(error[..., 0], error[..., 1])  # a third of np.linalg.norm's time


@dataclass
class Motion:
    """The optical flow between a frame and the one before it, both ways, and each way's
    forward-backward error (:func:`consistency`, pixels, computed when first asked for): what
    motion smoothing and the filling of skipped frames share, computed once per frame
    (:func:`motion`).

    Attributes:
        to_previous: flow frame -> previous frame (``frame[y, x] ≈ previous[y + v, x + u]``).
        from_previous: flow previous frame -> frame.
    """

    to_previous: np.ndarray
    from_previous: np.ndarray

    @functools.cached_property
    def error(self) -> np.ndarray:
        """Forward-backward error on the frame's pixels."""
        return consistency(self.to_previous, self.from_previous)

    @functools.cached_property
    def error_previous(self) -> np.ndarray:
        """Forward-backward error on the previous frame's pixels."""
        return consistency(self.from_previous, self.to_previous)


def motion(flow: Flow, L: np.ndarray, previous: np.ndarray) -> Motion:
    """:class:`Motion` of the frame with luma ``L`` from the frame with luma ``previous``
    (``(H, W)``, 0-100). Raises InputError as :meth:`Flow.__call__`."""
    return Motion(flow(L, previous), flow(previous, L))


def visibility(error: np.ndarray, sigma_px: float) -> np.ndarray:
    """How surely each pixel was seen in the other frame, from the forward-backward ``error``
    (pixels, :class:`Motion`): ``exp(-(error / sigma_px)^2)``, float32 in [0, 1]; low where a
    moving subject uncovered or covered it, or where the flow is wrong."""
    return np.exp(-((error / sigma_px) ** 2)).astype(np.float32)


def match_confidence(L: np.ndarray, warped_L: np.ndarray, sigma_L: float) -> np.ndarray:
    """Per-pixel trust in what the flow carried over, from how well the warped luma matches:
    ``exp(-((L - warped_L) / sigma_L) ** 2)``, ``(H, W)`` in [0, 1] (occlusions, new objects
    and flow failures mismatch).

    Args:
        L, warped_L: ``(H, W)`` luma, L units (0-100): the current frame's and the past
            frame's warped onto it.
        sigma_L: mismatch (L units) at which the trust falls to 1/e.
    """
    return np.exp(-(((L - warped_L) / sigma_L) ** 2))
