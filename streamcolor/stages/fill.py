"""Colour for the frames the generator skipped (``EngineSettings.infer_every``), from the
predictions before and after them (:func:`streamcolor.temporal.fill.fill_gap`)."""

from __future__ import annotations

import numpy as np

from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal.fill import fill_gap
from streamcolor.temporal.flow import Flow


class FillSkipped(Stage):
    """Holds the frames after a predicted one until the next prediction of the same shot, then
    fills them from both; at a cut, or at the end of the stream, from the earlier one alone.

    Args:
        every: the generator's stride (``EngineSettings.infer_every``): at most ``every - 1``
            frames wait (:attr:`delay`).
    """

    def __init__(self, every: int) -> None:
        self.delay = every - 1
        self.flow = Flow()
        # L and ab of the last frame with a prediction, kept: later stages replace a frame's ab
        self.start: tuple[np.ndarray, np.ndarray] | None = None
        self.waiting: list[Frame] = []

    def push(self, frame: Frame) -> list[Frame]:
        """Raises:
            ValueError: a shot's first frame without a prediction."""
        if frame.ab is None:
            if frame.is_cut or self.start is None:
                raise ValueError("a shot's first frame needs a prediction")
            self.waiting.append(frame)
            return []
        done = self._fill(None if frame.is_cut else frame) + [frame]
        self.start = (frame.L_small, frame.ab.copy())
        return done

    def flush(self) -> list[Frame]:
        return self._fill(None)

    def _fill(self, end: Frame | None) -> list[Frame]:
        """Fill and release the waiting frames, from ``start`` and, when given, ``end``."""
        waiting, self.waiting = self.waiting, []
        if waiting:
            L, ab = self.start
            Ls = [L, *(f.L_small for f in waiting), *([end.L_small] if end is not None else [])]
            for frame, filled in zip(waiting, fill_gap(Ls, ab, None if end is None else end.ab, self.flow)):
                frame.ab = filled
        return waiting
