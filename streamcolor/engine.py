"""The colour stages, wired in one place: L in, ab at L's size out, with temporal state.

The order is: cut detection on L resized to the inference size (short side
``inference_short_side``) -> generator (on L shrunk to that size, through
``via_short_side`` where the model gives one) -> colour for the frames it skipped, from the
predictions on either side -> temporal smoothing at inference size (cut-aware) -> reference
frames carried along the motion -> ab upsampled to L's size by a guided filter whose guide is
L, so colour edges snap to the picture's own edges (:mod:`streamcolor.stages`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from streamcolor.backends import Backend
from streamcolor.errors import InputError, is_finite_number, is_whole
from streamcolor.frame import Frame
from streamcolor.stages import Stage
from streamcolor.stages.cuts import DetectCuts, inference_size
from streamcolor.stages.fill import FillSkipped
from streamcolor.stages.infer import Infer
from streamcolor.stages.reference import PropagateReferences
from streamcolor.stages.smooth import SMOOTHERS, Smooth, may_skip_frames, make_smoother
from streamcolor.stages.upsample import Upsample
from streamcolor.temporal import EMASmoother, MotionSmoother
from streamcolor.temporal.flow import Flow
from streamcolor.temporal.reference import as_stored

log = logging.getLogger("streamcolor")


#: the largest colour strength: colour beyond the sRGB gamut is pulled back to its edge, so a
#: larger factor adds little but flat, clipped colour
MAX_STRENGTH = 4.0
#: pixels: the shortest side a model renders at (and is trained at: ``--scale``)
MIN_SHORT_SIDE = 16
#: the smallest guided-filter ``guide_eps``: below it the float32 variance's rounding (about
#: 1e-7 of the mean square) can reach the denominator's sign, and flat areas come out black or noise
MIN_GUIDE_EPS = 1e-6


@dataclass(frozen=True)
class EngineSettings:
    """Colour settings.

    Attributes:
        inference_short_side: short side in pixels the generator sees (the model's render size).
        smoothing: ``"motion"`` (motion-compensated, :class:`MotionSmoother`), ``"ema"``
            (plain moving average) or ``"off"``; images are never smoothed.
        smooth_strength: weight of the past in [0, 1); None = the method's default.
        guide_eps: guided-filter regularisation, in units of (L / 100)^2, at least
            :data:`MIN_GUIDE_EPS`; smaller keeps finer edges.
        strength: colour strength: ab is multiplied by it (0 = grey, 1 = the model's colour,
            above 1 more vivid, at most :data:`MAX_STRENGTH`); colour pushed out of the sRGB
            gamut is pulled back toward the grey of the same L, keeping L and hue
            (:func:`streamcolor.color.lab_to_rgb`).
        infer_every: with motion smoothing, run the generator on every k-th frame (frame
            index a multiple of k) and on each shot's first frame; the frames between take
            the predictions on either side, carried along the optical flow
            (:mod:`streamcolor.temporal.fill`). 1 = every frame. Other smoothing
            methods, and motion smoothing of strength 0, infer every frame. The default 4 gives
            the PSNR of 1 and 3 on the colour test clips and warp error within 10 % of
            1 (docs/temporal.md), at less CPU.
        bars: find letterbox/pillarbox bars at the start of each shot
            (:func:`streamcolor.bars.find_active_area`): the generator sees only the picture
            inside them, and they stay neutral (ab = 0).
        via_short_side: a picture larger than this short side (pixels) is shrunk to it before
            it is shrunk to ``inference_short_side`` (:func:`streamcolor.stages.infer.shrink`): the
            scale of the photos the model learnt from, whose softness it knows. None, or not above
            the inference size: in one step.

    Raises:
        InputError: a strength outside 0 to :data:`MAX_STRENGTH` (or not a finite number), an
            unknown smoothing, a smoothing strength outside [0, 1), a ``guide_eps`` under :data:`MIN_GUIDE_EPS`,
            ``infer_every`` not a whole number of 1 or more, an inference size or a
            ``via_short_side`` below 16, ``bars`` not a bool.
    """

    inference_short_side: int = 150
    smoothing: str = "motion"
    smooth_strength: float | None = None
    guide_eps: float = 1e-3
    strength: float = 1.0
    infer_every: int = 4
    bars: bool = True
    via_short_side: int | None = None

    def __post_init__(self) -> None:
        if not (is_finite_number(self.strength) and 0 <= self.strength <= MAX_STRENGTH):
            raise InputError(f"strength (--strength) must be 0 to {MAX_STRENGTH:g} (0 = grey, 1 = the model's colour), "
                             f"got {self.strength!r}")
        if self.smoothing not in (*SMOOTHERS, "off"):
            raise InputError(f"smoothing (--smoothing) must be one of {', '.join(SMOOTHERS)}, off; got {self.smoothing!r}")
        if self.smooth_strength is not None and not (is_finite_number(self.smooth_strength)
                                                     and 0 <= self.smooth_strength < 1):
            raise InputError(f"smooth_strength (--smooth-strength) is the weight of the past, in [0, 1); "
                             f"got {self.smooth_strength!r}")
        if not (is_finite_number(self.guide_eps) and self.guide_eps >= MIN_GUIDE_EPS):
            raise InputError(f"guide_eps must be a finite number of {MIN_GUIDE_EPS:g} or more (the guided filter's "
                             f"float32 variances are exact to about 1e-7), got {self.guide_eps!r}")
        if not _pixels(self.inference_short_side):
            raise InputError(f"inference_short_side (--render-size) must be {MIN_SHORT_SIDE} pixels or more, "
                             f"got {self.inference_short_side!r}")
        if self.via_short_side is not None and not _pixels(self.via_short_side):
            raise InputError(f"via_short_side must be None or {MIN_SHORT_SIDE} pixels or more, "
                             f"got {self.via_short_side!r}")
        if not (is_whole(self.infer_every) and self.infer_every >= 1):
            raise InputError(f"infer_every (--infer-every) must be a whole number, 1 or more, got {self.infer_every!r}")
        if not isinstance(self.bars, (bool, np.bool_)):
            raise InputError(f"bars must be True or False, got {self.bars!r}")
        for name, kind in _PLAIN_TYPES.items():  # numpy scalars fail in deque(maxlen=...) and in JSON
            if getattr(self, name) is not None:
                object.__setattr__(self, name, kind(getattr(self, name)))


#: EngineSettings fields -> the Python type each is kept as
_PLAIN_TYPES = {"inference_short_side": int, "via_short_side": int, "infer_every": int, "strength": float,
                "smooth_strength": float, "guide_eps": float, "bars": bool}


def _pixels(value: object) -> bool:
    """A whole number of pixels, :data:`MIN_SHORT_SIDE` or more (bools, floats and strings are not)."""
    return is_whole(value) and value >= MIN_SHORT_SIDE


class Engine:
    """The colour stages chained: :class:`~streamcolor.frame.Frame` items with ``L`` (and
    ``index``) go in, the same items with ``ab`` at L's size come out, oldest first.

    Stages, in order (:mod:`streamcolor.stages`): :class:`DetectCuts`, :class:`Infer`,
    :class:`FillSkipped` (only when the generator skips frames), :class:`Smooth`,
    :class:`PropagateReferences` (only with references), :class:`Upsample`.
    Keeps temporal state between frames: one Engine per video; :meth:`reset` before an
    unrelated one. Frames come out up to :attr:`delay` frames after they went in.

    Args:
        backend: runs the generator.
        settings: colour settings.
        references: colour images by 0-based frame index (uint8 ``(H, W, 3)`` RGB, any
            size): that frame's ab is the reference's, carried forward and back through the
            shot (:class:`~streamcolor.temporal.reference.ReferencePropagator`).
        batch_size: frames per generator call.
    """

    def __init__(self, backend: Backend, settings: EngineSettings = EngineSettings(),
                 references: dict[int, np.ndarray] | None = None, batch_size: int = 8) -> None:
        self.backend, self.settings = backend, settings
        self.references = dict(references or {})
        self.warned_small = False  # the too-small-for-flow warning, once per run, not per segment
        self.reset(batch_size)

    def reset(self, batch_size: int | None = None) -> None:
        """Forget the previous frames (the next frame starts a new shot, and may have another
        size), zero :attr:`seconds` and, when given, change the frames per generator call."""
        self.batch_size = batch_size or self.batch_size
        self.seconds = {"inference": 0.0, "temporal": 0.0, "upsample": 0.0}  # wall time per stage
        self.stages: list[Stage] = []  # built for the first frame's inference size (:meth:`push`)
        self.shape: tuple[int, ...] | None = None  # the first frame's L shape, which every later one shares

    def _stages(self, size: tuple[int, int]) -> list[Stage]:
        """The chain, in order, for frames seen at inference ``size`` (:meth:`_fit_flow`)."""
        settings = self.settings
        smoother = self._fit_flow(make_smoother(settings.smoothing, settings.smooth_strength), size)
        every = settings.infer_every if may_skip_frames(smoother) else 1
        stages = [DetectCuts(settings.inference_short_side, self.backend.multiple, settings.bars),
                  Infer(self.backend, settings.inference_short_side, every, self.batch_size, settings.via_short_side),
                  *([FillSkipped(every)] if every > 1 else []), Smooth(smoother)]
        if self.references:
            stages.append(PropagateReferences(self.references))
        return stages + [Upsample(settings.guide_eps, settings.strength, self.references)]

    def _fit_flow(self, smoother: EMASmoother | MotionSmoother,
                  size: tuple[int, int]) -> EMASmoother | MotionSmoother:
        """``smoother``, or none when the frames are too small for the optical flow it follows.

        Motion smoothing and reference frames follow optical flow, which needs frames of
        some size (:meth:`streamcolor.temporal.flow.Flow.fits`) at inference ``size``: smaller ones are colorized without motion smoothing (a warning);
        references are refused.

        Raises:
            InputError: reference frames for a video too small for the flow.
        """
        uses_flow = bool(self.references) or isinstance(smoother, MotionSmoother)
        if not uses_flow or Flow().fits(size):
            return smoother
        needed = "32 pixels or more on the short side and 91 on the long"
        if self.references:
            raise InputError(f"reference colour is carried along optical flow, which needs {needed}; the generator "
                             f"sees these frames at {size[1]}x{size[0]}")
        if not self.warned_small:
            self.warned_small = True
            log.warning("the frames are too small for optical flow (the generator sees them at %dx%d; it needs %s): "
                        "colorized without motion smoothing", size[1], size[0], needed)
        return make_smoother("off", None)

    def turn_references(self, rotation: int, stored: tuple[int, int]) -> None:
        """Turn references taken as a video with display ``rotation`` is shown back to its
        frames as ``stored`` (height, width): :func:`~streamcolor.temporal.reference.as_stored`.
        Before the first frame: the stages take the references then."""
        turned = {index: as_stored(rgb, rotation, stored) for index, rgb in self.references.items()}
        if any(turned[index] is not rgb for index, rgb in self.references.items()):
            log.warning("the film is shown turned %d degrees: its references are taken as shown and turned back",
                        rotation % 360)
        self.references = turned

    @property
    def last_reference(self) -> int:
        """Index of the last reference frame, -1 without references."""
        return max(self.references, default=-1)

    def push(self, frame: Frame) -> list[Frame]:
        """Take the next frame in decode order; return the frames now coloured, oldest first.

        The first frame sets the stages up for its inference size (:meth:`_fit_flow`); a
        video's frames share one size.

        Raises:
            InputError: reference frames for frames too small for optical flow; a frame of
                another size than the first.
        """
        if self.shape is not None and frame.L.shape != self.shape:
            raise InputError(f"frame {frame.index} is {frame.L.shape[1]}x{frame.L.shape[0]}, the frames before it "
                             f"{self.shape[1]}x{self.shape[0]}: the frames of one sequence share one size")
        self.shape = frame.L.shape
        if not self.stages:
            self.stages = self._stages(inference_size(*frame.L.shape, self.settings.inference_short_side,
                                                        self.backend.multiple))
        frames = [frame]
        for stage in self.stages:
            frames = [out for f in frames for out in self._timed(stage, stage.push, f)]
        return frames

    def flush(self) -> list[Frame]:
        """The frames still held, coloured, oldest first (call once after the last frame)."""
        frames: list[Frame] = []
        for stage in self.stages:
            pushed = [out for f in frames for out in self._timed(stage, stage.push, f)]
            frames = pushed + self._timed(stage, stage.flush)
        return frames

    def run(self, frames: Iterable[Frame]) -> Iterator[list[Frame]]:
        """Push every frame, then flush: the frames each step released (never an empty list).
        The one loop of every run, in memory (:mod:`streamcolor.api`) or from a file
        (:mod:`streamcolor.pipeline`)."""
        for frame in frames:
            if done := self.push(frame):
                yield done
        if done := self.flush():
            yield done

    def _timed(self, stage: Stage, step: Callable[..., list[Frame]], *args: Frame) -> list[Frame]:
        started = time.perf_counter()
        out = step(*args)
        self.seconds[stage.stat] += time.perf_counter() - started
        return out
