"""Per-frame colour: L at full resolution -> ab at any output resolution, with temporal state.

The order is: L resized to the inference size (short side ``inference_short_side``,
the training scale) -> generator -> temporal smoothing at inference size (cut-aware)
-> ab upsampled to the output size by a guided filter whose guide is the output-size
L, so colour edges snap to the picture's own edges.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from streamcolor.backends import Backend
from streamcolor.bars import Area, bars_still_dark, find_active_area
from streamcolor.errors import InputError
from streamcolor.temporal import CutDetector, EMASmoother, MotionSmoother
from streamcolor.temporal.reference import ReferencePropagator, reference_ab

log = logging.getLogger("streamcolor")


#: the largest colour strength: colour beyond the sRGB gamut is pulled back to its edge, so a
#: larger factor adds little but flat, clipped colour
MAX_STRENGTH = 4.0


@dataclass(frozen=True)
class EngineSettings:
    """Colour settings.

    Attributes:
        inference_short_side: short side in pixels the generator sees (its training scale).
        smoothing: ``"motion"`` (motion-compensated, :class:`MotionSmoother`), ``"ema"``
            (plain moving average) or ``"off"``; images are never smoothed.
        smooth_strength: weight of the past in [0, 1); None = the method's default.
        guide_eps: guided-filter regularisation, in units of (L / 100)^2; smaller keeps finer edges.
        strength: colour strength: ab is multiplied by it (0 = grey, 1 = the model's colour,
            above 1 more vivid, at most :data:`MAX_STRENGTH`); colour pushed out of the sRGB
            gamut is pulled back toward the grey of the same L, keeping L and hue
            (:func:`streamcolor.color.lab_to_rgb`).
        infer_every: with motion smoothing, run the generator on every k-th frame (frame
            index a multiple of k) and on each shot's first frame; the frames between carry
            the last prediction along the optical flow. 1 = every frame. Other smoothing
            methods, and motion smoothing of strength 0, infer every frame. The default 4 gives
            the PSNR of 1 and 3 on the colour test clips and warp error within 10 % of
            1 (docs/temporal.md), at less CPU.
        bars: find letterbox/pillarbox bars at the start of each shot
            (:func:`streamcolor.bars.find_active_area`): the generator sees only the picture
            inside them, and they stay neutral (ab = 0).

    Raises:
        InputError: a strength outside 0 to :data:`MAX_STRENGTH` (or NaN), an unknown smoothing, a smoothing
            strength outside [0, 1), ``infer_every`` below 1, an inference size below 16.
    """

    inference_short_side: int = 150
    smoothing: str = "motion"
    smooth_strength: float | None = None
    guide_eps: float = 1e-3
    strength: float = 1.0
    infer_every: int = 4
    bars: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= MAX_STRENGTH:
            raise InputError(f"strength (--strength) must be 0 to {MAX_STRENGTH:g} (0 = grey, 1 = the model's colour), "
                             f"got {self.strength}")
        if self.smoothing not in (*SMOOTHERS, "off"):
            raise InputError(f"smoothing (--smoothing) must be one of {', '.join(SMOOTHERS)}, off; got {self.smoothing!r}")
        if self.smooth_strength is not None and not 0 <= self.smooth_strength < 1:
            raise InputError(f"smooth_strength (--smooth-strength) is the weight of the past, in [0, 1); "
                             f"got {self.smooth_strength}")
        if self.inference_short_side < 16:
            raise InputError(f"inference_short_side (--render-size) must be 16 pixels or more, got {self.inference_short_side}")
        if self.infer_every < 1:
            raise InputError(f"infer_every (--infer-every) must be 1 or more, got {self.infer_every}")


def inference_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(h, w) with short side ``short_side`` (never upscaled), aspect kept."""
    scale = min(1.0, short_side / min(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


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


SMOOTHERS = {"motion": MotionSmoother, "ema": EMASmoother}


def make_smoother(method: str, strength: float | None) -> EMASmoother | MotionSmoother:
    """The smoother for ``method`` (``"off"`` = an EMA of strength 0, which passes ab through).

    Raises:
        InputError: unknown method.
    """
    if method == "off":
        return EMASmoother(0.0)
    if method not in SMOOTHERS:
        raise InputError(f"smoothing must be one of motion, ema, off; got {method!r}")
    return SMOOTHERS[method]() if strength is None else SMOOTHERS[method](strength)


@dataclass
class _Held:
    """A frame waiting for a reference ahead of it (see :attr:`Engine.LOOK_AHEAD`)."""

    index: int
    guide: np.ndarray  # L at the output size
    L: np.ndarray  # L at inference size
    ab: np.ndarray  # ab at inference size, smoothed and with the references so far
    starts_shot: bool
    area: Area | None  # the picture inside black bars, in full-size coordinates
    full_size: tuple[int, int]


class Engine:
    """Turns batches of full-resolution L into ab at an output resolution.

    Keeps temporal state between calls (cut detector, smoother, frame index): one Engine
    per video; call :meth:`reset` before an unrelated picture.

    With references, a frame less than :attr:`LOOK_AHEAD` frames before a reference is held
    back until the reference arrives, so the reference also colours the frames before it
    in its shot: :meth:`colorize` then returns fewer frames than it was given (the oldest
    first) and :meth:`flush` returns the rest at the end. Held memory: up to LOOK_AHEAD
    frames of L at the output size and of L and ab at inference size (about 0.9 MB a frame
    at 854x480 with 4:2:0 chroma; the pipeline also keeps each held frame's Y', 0.4 MB).
    Without references nothing is held.

    Args:
        backend: runs the generator.
        settings: colour settings.
        references: colour images by 0-based frame index (uint8 ``(H, W, 3)`` RGB, any
            size): that frame's ab is the reference's, carried forward and backward through
            the shot (:class:`~streamcolor.temporal.reference.ReferencePropagator`).
    """

    #: frames a reference reaches back (2 s at 24 fps)
    LOOK_AHEAD = 48

    def __init__(self, backend: Backend, settings: EngineSettings = EngineSettings(),
                 references: dict[int, np.ndarray] | None = None) -> None:
        self.backend, self.settings = backend, settings
        self.references = dict(references or {})
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames (the next frame starts a new shot) and zero :attr:`seconds`."""
        self.seconds = {"inference": 0.0, "temporal": 0.0, "upsample": 0.0}  # wall time per stage
        self.cuts = CutDetector()
        self.smoother = make_smoother(self.settings.smoothing, self.settings.smooth_strength)
        self.propagator = ReferencePropagator()
        self.held: list[_Held] = []
        self.index = 0  # of the next frame, in decode order
        self.area: Area | None = None  # the current shot's picture inside bars, once found
        self.checked_size: tuple[int, int] | None = None  # inference size :meth:`_fit_flow` accepted

    def colorize(self, L: list[np.ndarray], out_size: tuple[int, int],
                 hints: np.ndarray | None = None) -> list[np.ndarray]:
        """Lab at ``out_size`` for each frame no longer held for a reference ahead (all of
        them when there are no references), oldest first.

        Args:
            L: frames of one size, float32 ``(H, W)``, L in [0, 100].
            out_size: ``(height, width)`` of the returned ab (e.g. the chroma-plane size).
            hints: colour hints at inference size for a hint model, float32 ``(N, h, w, 3)``
                (see :meth:`streamcolor.backends.Backend.predict_ab`).

        Returns:
            float32 ``(height, width, 3)`` Lab per frame: L resized to ``out_size`` (area
            filter; unchanged when it is the input size) and the ab predicted for it.

        Raises:
            InputError: reference frames, and frames too small for optical flow (:meth:`_fit_flow`).
        """
        h, w = inference_size(*L[0].shape, self.settings.inference_short_side)
        self._fit_flow((h, w))
        small = np.stack([cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) for x in L])
        started = time.perf_counter()
        cuts = [self.cuts.push(x) for x in small]
        areas = [self._find_area(x, is_cut) for x, is_cut in zip(L, cuts)] if hints is None else [None] * len(L)
        self.seconds["temporal"] += time.perf_counter() - started
        ab_small = self._predict(L, small, cuts, areas, hints)
        for L_full, L_small, ab, is_cut, area in zip(L, small, ab_small, cuts, areas):
            self._hold(L_full, L_small, ab, is_cut, area, out_size)
            self.index += 1
        return self._release(final=False)

    def _fit_flow(self, size: tuple[int, int]) -> None:
        """Motion smoothing and reference frames follow optical flow, which needs frames of
        some size (:meth:`streamcolor.temporal.flow.Flow.fits`) at inference ``size``: smaller
        ones are colorized without motion smoothing (a warning); references are refused.

        Raises:
            InputError: reference frames for a video too small for the flow.
        """
        if size == self.checked_size:
            return
        self.checked_size = size
        uses_flow = bool(self.references) or isinstance(self.smoother, MotionSmoother)
        if not uses_flow or self.propagator.flow.fits(size):
            return
        needed = "32 pixels or more on the short side and 91 on the long"
        if self.references:
            raise InputError(f"reference colour is carried along optical flow, which needs {needed}; the generator "
                             f"sees these frames at {size[1]}x{size[0]}")
        log.warning("the frames are too small for optical flow (the generator sees them at %dx%d; it needs %s): "
                    "colorized without motion smoothing", size[1], size[0], needed)
        self.smoother = make_smoother("off", None)

    def _find_area(self, L: np.ndarray, is_cut: bool) -> Area | None:
        """The shot's active area: looked for at a cut and, until found, in each frame after it
        (a shot may fade in from black); dropped when the picture reaches into its bars."""
        if not self.settings.bars:
            return None
        if is_cut or (self.area is not None and not bars_still_dark(L, self.area)):
            self.area = None
        if self.area is None:
            self.area = find_active_area(L)
        return self.area

    def _predict(self, L: list[np.ndarray], small: np.ndarray, cuts: list[bool], areas: list[Area | None],
                 hints: np.ndarray | None) -> list[np.ndarray | None]:
        """ab at inference size for the frames the generator runs on, None for the others."""
        carries = isinstance(self.smoother, MotionSmoother) and self.smoother.strength > 0
        every = self.settings.infer_every if carries else 1
        # by frame index, not by distance from the cut, so that a run started mid-shot (a
        # resumed segment, a parallel span) picks the same frames as one pass over the film
        chosen = [i for i, is_cut in enumerate(cuts) if is_cut or (self.index + i) % every == 0]
        out: list[np.ndarray | None] = [None] * len(small)
        started = time.perf_counter()
        for area in dict.fromkeys(areas[i] for i in chosen):  # one generator call per area, in order
            group = [i for i in chosen if areas[i] == area]
            if area is None:
                ab = self.backend.predict_ab(small[group]) if hints is None else self.backend.predict_ab(small[group], hints[group])
            else:
                ab = self._predict_inside(area, [L[i] for i in group], small.shape[1:])
            for i, frame_ab in zip(group, ab):
                out[i] = frame_ab
        self.seconds["inference"] += time.perf_counter() - started
        return out

    def _predict_inside(self, area: Area, L: list[np.ndarray], small_size: tuple[int, int]) -> list[np.ndarray]:
        """ab at inference size, predicted from the picture inside ``area`` alone; 0 in the bars."""
        crops = [x[area.top:area.bottom, area.left:area.right] for x in L]
        h, w = inference_size(*crops[0].shape, self.settings.inference_short_side)
        ab = self.backend.predict_ab(np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA) for c in crops]))
        inside = area.scaled(L[0].shape, small_size)
        size = (inside.right - inside.left, inside.bottom - inside.top)
        out = []
        for frame_ab in ab:
            full = np.zeros((*small_size, 2), np.float32)
            full[inside.top:inside.bottom, inside.left:inside.right] = cv2.resize(frame_ab, size)
            out.append(full)
        return out

    def flush(self) -> list[np.ndarray]:
        """Lab of the frames still held (call once after the last frame)."""
        return self._release(final=True)

    def _hold(self, L_full: np.ndarray, L_small: np.ndarray, ab: np.ndarray | None, is_cut: bool,
              area: Area | None, out_size: tuple[int, int]) -> None:
        started = time.perf_counter()
        ab = self.smoother.push(ab, L_small, is_cut)
        reference = self.references.get(self.index)
        if self.references:
            ref_ab = None if reference is None else reference_ab(reference, L_small.shape)
            ab = self.propagator.push(ab, L_small, is_cut, ref_ab)
            if ref_ab is not None and self.held:
                earlier = self.propagator.carry_back(ref_ab, L_small, [(f.L, f.ab) for f in self.held],
                                                     [f.starts_shot for f in self.held] + [is_cut])
                for frame, new_ab in zip(self.held, earlier):
                    frame.ab = new_ab
        guide = L_full if L_full.shape == out_size else cv2.resize(L_full, out_size[::-1], interpolation=cv2.INTER_AREA)
        self.held.append(_Held(self.index, guide, L_small, ab, is_cut, area, L_full.shape))
        self.seconds["temporal"] += time.perf_counter() - started

    def _release(self, final: bool) -> list[np.ndarray]:
        """Lab of the held frames that no reference ahead can still change, oldest first."""
        upcoming = min((i for i in self.references if i >= self.index), default=None)
        out = []
        while self.held and (final or upcoming is None or upcoming > self.held[0].index + self.LOOK_AHEAD):
            out.append(self._lab(self.held.pop(0)))
        return out

    def _lab(self, frame: _Held) -> np.ndarray:
        started = time.perf_counter()
        reference = self.references.get(frame.index)
        if reference is None:
            ab_out = guided_upsample(frame.ab, frame.L, frame.guide, self.settings.guide_eps)
        else:
            ab_out = reference_ab(reference, frame.guide.shape)
        if self.settings.strength != 1:
            ab_out *= self.settings.strength
        if frame.area is not None:
            inside = frame.area.scaled(frame.full_size, frame.guide.shape)
            ab_out[:inside.top] = ab_out[inside.bottom:] = 0
            ab_out[:, :inside.left] = ab_out[:, inside.right:] = 0
        self.seconds["upsample"] += time.perf_counter() - started
        guide = frame.guide.astype(np.float32, copy=False)  # cv2.merge takes one dtype
        return cv2.merge([guide, *cv2.split(ab_out)])  # 0.2 ms at 427x240, np.concatenate 0.9
