"""Upsampling: ab from inference size to L's size, snapped to L's edges; colour strength."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal.reference import reference_ab

log = logging.getLogger("streamcolor")


def guided_upsample(ab: np.ndarray, L: np.ndarray, guide_L: np.ndarray, eps: float) -> np.ndarray:
    """Upsample ab to the size of ``guide_L`` with a guided filter whose guide is L.

    The fast guided filter (He and Sun 2015, "Fast Guided Filter", arXiv:1505.00996): the
    filter's local linear model ``ab = A * L + B`` (He et al. 2013) is fitted at the low
    resolution, where ab was predicted, and A and B, which vary smoothly, are upsampled
    bilinearly and applied to the full-resolution L, so colour edges snap to the picture's
    own edges at a fraction of the cost of filtering at full resolution.

    Args:
        ab: float32 ``(h, w, 2)``, Lab units.
        L: float32 ``(h, w)`` in [0, 100], the picture's L at ab's size.
        guide_L: float32 ``(H, W)`` in [0, 100], the picture's L at the output size.
        eps: regularisation in units of (L / 100)^2; smaller keeps finer edges.

    Returns:
        float32 ``(H, W, 2)``.
    """
    size = guide_L.shape[::-1]
    guide, full = L.astype(np.float32) / 100, guide_L.astype(np.float32) / 100
    mean_I = _box(guide)
    var_I = _box(guide * guide) - mean_I * mean_I + eps
    out = []
    for p in cv2.split(ab.astype(np.float32)):  # per channel: 2-D arrays keep NumPy's loops long
        mean_p = _box(p)
        A = (_box(guide * p) - mean_I * mean_p) / var_I
        B = mean_p - A * mean_I
        out.append(cv2.resize(_box(A), size) * full + cv2.resize(_box(B), size))
    return cv2.merge(out)


def _box(x: np.ndarray) -> np.ndarray:
    """Mean over a 5x5 window (radius 2 at the inference size), edges reflected."""
    return cv2.boxFilter(x, -1, (5, 5), borderType=cv2.BORDER_REFLECT)


class Upsample(Stage):
    """Sets ``ab`` at ``L``'s size: :func:`guided_upsample`, or a reference frame's own
    colour, times ``strength``; 0 in the bars outside ``area``.

    Args:
        eps: guided-filter regularisation (``EngineSettings.guide_eps``).
        strength: colour strength (``EngineSettings.strength``).
        references: uint8 RGB images by frame index, whose frames take their colour whole.
    """

    stat = "upsample"

    def __init__(self, eps: float, strength: float, references: dict[int, np.ndarray]) -> None:
        self.eps, self.strength, self.references = eps, strength, references

    def push(self, frame: Frame) -> list[Frame]:
        reference = self.references.get(frame.index)
        if reference is None:
            ab = guided_upsample(frame.ab, frame.L_small, frame.L, self.eps)
        else:
            _warn_stretch(frame.index, reference.shape, frame.L.shape)
            ab = reference_ab(reference, frame.L.shape)
        if self.strength != 1:  # the carried reference colour too: a reference frame alone would flash
            ab *= self.strength
        if frame.area is not None:
            area = frame.area
            ab[:area.top] = ab[area.bottom:] = 0
            ab[:, :area.left] = ab[:, area.right:] = 0
        frame.ab = ab
        return [frame]


def _warn_stretch(index: int, reference: tuple[int, ...], frame: tuple[int, ...]) -> None:
    """A reference of another shape than its frame is stretched onto it: say so, as its colours
    land elsewhere than on the things they belong to."""
    shape, frame_shape = reference[1] / reference[0], frame[1] / frame[0]
    if abs(shape / frame_shape - 1) > 0.02:
        log.warning("the reference for frame %d is %.2f times as wide as high, the film's stored frames %.2f: "
                    "stretched to fit, so its colours move (unless the film is anamorphic)", index, shape,
                    frame_shape)
