"""Reference frames: a user's colour carried forward and, over a bounded look-ahead, back."""

from __future__ import annotations

import numpy as np

from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal.reference import ReferencePropagator, reference_ab


class PropagateReferences(Stage):
    """Blends each reference's ab into ``ab`` (inference size) through its shot: forward as
    frames arrive, and back over the frames held for it.

    A frame less than :attr:`delay` frames before a reference is held until the reference
    arrives, so the reference also colours the frames before it in its shot. Held memory:
    up to :attr:`delay` frames of L and Y' at the output size plus L and ab at inference size
    (about 1.3 MB a frame at 854x480).

    Args:
        references: uint8 ``(H, W, 3)`` RGB images (any size) by 0-based frame index.
        look_ahead: frames a reference reaches back (48 = 2 s at 24 fps).
    """

    def __init__(self, references: dict[int, np.ndarray], look_ahead: int = 48) -> None:
        self.references, self.delay = references, look_ahead
        self.propagator = ReferencePropagator()
        self.held: list[Frame] = []

    def push(self, frame: Frame) -> list[Frame]:
        reference = self.references.get(frame.index)
        ref_ab = None if reference is None else reference_ab(reference, frame.L_small.shape)
        frame.ab = self.propagator.push(frame.ab, frame.L_small, frame.is_cut, ref_ab)
        if ref_ab is not None and self.held:
            earlier = self.propagator.carry_back(ref_ab, frame.L_small, [(f.L_small, f.ab) for f in self.held],
                                                 [f.is_cut for f in self.held] + [frame.is_cut])
            for held, ab in zip(self.held, earlier):
                held.ab = ab
        self.held.append(frame)
        return self._release(frame.index + 1)

    def flush(self) -> list[Frame]:
        held, self.held = self.held, []
        return held

    def _release(self, next_index: int) -> list[Frame]:
        """The held frames that no reference from ``next_index`` on can still reach."""
        upcoming = min((i for i in self.references if i >= next_index), default=None)
        out = []
        while self.held and (upcoming is None or upcoming > self.held[0].index + self.delay):
            out.append(self.held.pop(0))
        return out
