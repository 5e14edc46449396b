"""Temporal smoothing of ab at inference size, restarted at cuts."""

from __future__ import annotations

from streamcolor.errors import InputError
from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.temporal import EMASmoother, MotionSmoother

#: ``EngineSettings.smoothing`` names -> smoothers (``"off"`` is an EMA of strength 0)
SMOOTHERS = {"motion": MotionSmoother, "ema": EMASmoother}


def make_smoother(method: str, strength: float | None) -> EMASmoother | MotionSmoother:
    """The smoother for ``method`` (``"off"`` = an EMA of strength 0, which passes ab through).

    Raises:
        InputError: unknown method.
    """
    if method == "off":
        return EMASmoother(0.0)
    if method not in SMOOTHERS:
        raise InputError(f"smoothing must be one of {', '.join([*SMOOTHERS, 'off'])}; got {method!r}")
    return SMOOTHERS[method]() if strength is None else SMOOTHERS[method](strength)


def may_skip_frames(smoother: EMASmoother | MotionSmoother) -> bool:
    """Whether the generator may skip frames (``EngineSettings.infer_every``) under
    ``smoother``: motion smoothing of strength above 0, which the user chose to have colour
    follow the motion (the engine hands over one that is off where the frames are too small
    for the flow: :meth:`streamcolor.engine.Engine._fit_flow`)."""
    return isinstance(smoother, MotionSmoother) and smoother.strength > 0


class Smooth(Stage):
    """Replaces ``ab`` by ``smoother``'s output on ``L_small``."""

    def __init__(self, smoother: EMASmoother | MotionSmoother) -> None:
        self.smoother = smoother

    def push(self, frame: Frame) -> list[Frame]:
        frame.ab = self.smoother.push(frame.ab, frame.L_small, frame.is_cut, frame.motion)
        frame.motion = None  # flows of no use further on, where frames queue for encoding
        return [frame]
