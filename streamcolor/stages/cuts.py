"""Cut detection: the picture at inference size, where each shot starts, and its bars."""

from __future__ import annotations

import cv2

from streamcolor.bars import Area, bars_still_dark, find_active_area
from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal import CutDetector


def inference_size(height: int, width: int, short_side: int, multiple: int = 1) -> tuple[int, int]:
    """(h, w) with short side ``short_side`` (never upscaled), aspect kept, then each side of
    ``multiple`` pixels or more rounded to the nearest multiple of ``multiple``.

    ``multiple`` is the generator's (:attr:`streamcolor.backends.Backend.multiple`): a side it
    divides needs no padding, which would cost up to ``multiple - 1`` rows or columns of
    inference (a 16:9 frame at short side 128 is 228 wide, padded to 256; rounded, 224). The
    aspect changes by at most half a multiple, which the generator does not notice, and the
    upsampling to the frame's own size undoes.
    """
    scale = min(1.0, short_side / min(height, width))
    return tuple(_round_to(max(1, round(side * scale)), multiple) for side in (height, width))


def _round_to(side: int, multiple: int) -> int:
    return side if side < multiple else round(side / multiple) * multiple


class DetectCuts(Stage):
    """Sets ``L_small`` (L at inference size, area filter), ``is_cut``
    (:class:`~streamcolor.temporal.CutDetector` on ``L_small``) and ``area``.

    Args:
        short_side: inference short side in pixels.
        multiple: the generator's size multiple (:func:`inference_size`).
        bars: look for letterbox/pillarbox bars (:func:`streamcolor.bars.find_active_area`)
            at each cut and, until found, in each frame after it (a shot may fade in from
            black); dropped when the picture reaches into them. Frames with hints are
            colorized whole.
    """

    def __init__(self, short_side: int, multiple: int, bars: bool) -> None:
        self.short_side, self.multiple, self.bars = short_side, multiple, bars
        self.cuts = CutDetector()
        self.area: Area | None = None  # the current shot's picture inside bars, once found

    def push(self, frame: Frame) -> list[Frame]:
        h, w = inference_size(*frame.L.shape, self.short_side, self.multiple)
        frame.L_small = cv2.resize(frame.L, (w, h), interpolation=cv2.INTER_AREA)
        frame.is_cut = self.cuts.push(frame.L_small)
        frame.area = self._find_area(frame) if frame.hints is None else None
        return [frame]

    def _find_area(self, frame: Frame) -> Area | None:
        if not self.bars:
            return None
        if frame.is_cut or (self.area is not None and not bars_still_dark(frame.L, self.area)):
            self.area = None
        if self.area is None:
            self.area = find_active_area(frame.L)
        return self.area
