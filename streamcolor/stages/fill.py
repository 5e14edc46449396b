"""Colour for the frames the generator skipped (``EngineSettings.infer_every``), from the
predictions before and after them (:func:`streamcolor.temporal.fill.fill_gap`)."""

from __future__ import annotations

import numpy as np

from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal.fill import fill_gap
from streamcolor.temporal.flow import Flow, Motion, motion


class FillSkipped(Stage):
    """Holds the frames after a predicted one until the next prediction of the same shot, then
    fills them from both; at a cut, or at :meth:`flush`, from the earlier one alone. Sets each
    frame's ``motion`` from the one before it in the shot (smoothing reuses it).

    A flush releases the frames held but keeps the shot going: a run's warm-up frames (a
    resumed segment, a parallel span) are flushed before its own frames follow, and those must
    be filled as one pass over the film would fill them.

    Args:
        every: the generator's stride (``EngineSettings.infer_every``): at most ``every - 1``
            frames wait (:attr:`delay`).
    """

    def __init__(self, every: int) -> None:
        self.delay = every - 1
        self.flow = Flow()
        self.previous: np.ndarray | None = None  # L_small of the frame before, in this shot
        self.start: np.ndarray | None = None  # the last prediction, kept: later stages replace a frame's ab
        self.chain: list[Motion] = []  # the motion of each frame since that prediction
        self.waiting: list[Frame] = []

    def push(self, frame: Frame) -> list[Frame]:
        """Raises:
            ValueError: a shot's first frame without a prediction."""
        if frame.is_cut or self.previous is None:
            if frame.ab is None:
                raise ValueError("a shot's first frame needs a prediction")
            done = self._fill(None)
        else:
            frame.motion = motion(self.flow, frame.L_small, self.previous)
            self.chain.append(frame.motion)
            if frame.ab is None:
                self.waiting.append(frame)
                self.previous = frame.L_small
                return []
            done = self._fill(frame)
        self.previous, self.start, self.chain = frame.L_small, frame.ab.copy(), []
        return done + [frame]

    def flush(self) -> list[Frame]:
        return self._fill(None)

    def _fill(self, end: Frame | None) -> list[Frame]:
        """Fill and release the waiting frames, from ``start`` and, when given, ``end`` (whose
        motion closes :attr:`chain`)."""
        waiting, self.waiting = self.waiting, []
        if waiting:
            filled = fill_gap(self.start, None if end is None else end.ab, self.chain)
            for frame, ab in zip(waiting, filled[len(filled) - len(waiting):]):
                frame.ab = ab
        return waiting
