"""The colour stages: each takes :class:`~streamcolor.frame.Frame` items one at a time and
fills in its part; :class:`streamcolor.engine.Engine` chains them, in one place.

Modelled on PySceneDetect's detector interface: a stage owns its state, :meth:`Stage.push`
returns the frames it is done with, :meth:`Stage.flush` the rest at the end of the stream,
and :attr:`Stage.delay` says how many frames it may hold back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from streamcolor.frame import Frame


class Stage(ABC):
    """One step of the colour chain.

    Attributes:
        delay: the most frames :meth:`push` may hold back (0 = each frame comes straight out).
        stat: the :class:`streamcolor.pipeline.Report` stage its time counts toward
            (``inference``, ``temporal`` or ``upsample``).
    """

    delay: int = 0
    stat: str = "temporal"

    @abstractmethod
    def push(self, frame: Frame) -> list[Frame]:
        """Take the next frame (in decode order); return the frames now done, oldest first."""

    def flush(self) -> list[Frame]:
        """The frames still held, oldest first (at the end of the stream)."""
        return []


__all__ = ["Frame", "Stage"]
