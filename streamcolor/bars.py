"""Letterbox and pillarbox bars: the black borders a film transfer puts around the picture.

The generator should see only the active picture (black bars would take part of its input
size and pull its colour toward their grey), and the bars must stay black, not take colour
bled from the picture. :func:`find_active_area` finds them in one frame's L; the engine looks
again at each scene cut, since bars are constant over a shot, and whenever
:func:`bars_still_dark` says that the picture has grown into them (a fade from a title card).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Area(NamedTuple):
    """The active picture: rows ``top:bottom`` and columns ``left:right`` of a frame."""

    top: int
    bottom: int
    left: int
    right: int

    def scaled(self, from_size: tuple[int, int], to_size: tuple[int, int]) -> "Area":
        """The same area in a frame of ``to_size`` (height, width), from one of ``from_size``."""
        sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
        return Area(round(self.top * sy), round(self.bottom * sy), round(self.left * sx), round(self.right * sx))


def bars_still_dark(L: np.ndarray, area: Area, dark: float = 7.0) -> bool:
    """Whether 98 % of the bar pixels outside ``area`` are still darker than ``dark`` in this frame
    (``L`` float ``(H, W)`` in [0, 100]): a shot that fades in from a title card on black has no
    bars once the picture fills the frame."""
    step = max(1, min(L.shape) // 270)
    bands = [L[:area.top:step, ::step], L[area.bottom::step, ::step],
             L[::step, :area.left:step], L[::step, area.right::step]]
    pixels = np.concatenate([b.ravel() for b in bands])
    return pixels.size == 0 or float((pixels < dark).mean()) >= 0.98


def _dark_run(profile: np.ndarray) -> int:
    """Length of the run of True values at the start of ``profile``."""
    return len(profile) if profile.all() else int(np.argmin(profile))


def _pair(dark: np.ndarray, min_bar: int) -> tuple[int, int]:
    """Widths of the bars at both ends of a row/column profile, (0, 0) unless both ends have one
    of at least ``min_bar`` and the two are alike (centred, as a film transfer puts them): a dark
    edge of a night scene is not a bar."""
    first, last = _dark_run(dark), _dark_run(dark[::-1])
    if first == len(dark) or min(first, last) < min_bar or abs(first - last) > max(4, 0.25 * max(first, last)):
        return 0, 0
    return first, last


def find_active_area(L: np.ndarray, dark: float = 7.0, min_bar: float = 0.02) -> Area | None:
    """The picture inside letterbox (top and bottom) and pillarbox (left and right) bars.

    A row or column belongs to a bar when 98 % of its pixels are darker than ``dark``; bars must
    come in centred pairs at least ``min_bar`` of the frame wide, and leave at least half of
    each dimension as picture.

    Args:
        L: float ``(H, W)`` lightness in [0, 100].
        dark: L below which a bar pixel lies (black film leader and digital black are L < 3).
        min_bar: the narrowest bar, as a fraction of the frame's height or width.

    Returns:
        The active area, or None when the frame has no bars (or is dark all over).
    """
    step = max(1, min(L.shape) // 270)  # every step-th row and column: bar edges to within step pixels
    below = L[::step, ::step] < dark
    columns, rows = below.mean(0) >= 0.98, below.mean(1) >= 0.98
    h, w = below.shape
    top, bottom = _pair(rows, max(2, round(min_bar * h)))
    left, right = _pair(columns, max(2, round(min_bar * w)))
    if not (top or left) or h - top - bottom < h / 2 or w - left - right < w / 2:
        return None
    return Area(top * step, (h - bottom) * step, left * step, (w - right) * step)
