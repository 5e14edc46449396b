"""Inference: the generator's ab at inference size, in batches."""

from __future__ import annotations

import cv2
import numpy as np

from streamcolor.backends import Backend
from streamcolor.bars import Area
from streamcolor.frame import Frame
from streamcolor.images import resize_short_side
from streamcolor.stages import Stage
from streamcolor.stages.cuts import inference_size


def shrink(L: np.ndarray, size: tuple[int, int], via_short_side: int | None) -> np.ndarray:
    """float32 L ``(H, W)`` -> L of ``size`` (w, h) for the generator, by area filter; a picture
    with a short side above ``via_short_side`` is first shrunk to that short side, when that is
    larger than ``size``'s. A photo shrunk in one step is sharper than the small photos a model
    learnt from, which were stored small and then scaled to the training scale: going through
    that scale gives the generator the softness it knows."""
    if _goes_via(L.shape, size, via_short_side):
        L = resize_short_side(L, via_short_side)
    return cv2.resize(L, size, interpolation=cv2.INTER_AREA)


def _goes_via(shape: tuple[int, ...], size: tuple[int, int], via_short_side: int | None) -> bool:
    return via_short_side is not None and min(shape) > via_short_side > min(size)


class Infer(Stage):
    """Sets ``ab`` at inference size (``L_small``'s) on every ``every``-th frame by index and
    on each shot's first frame; None on the others, which
    :class:`streamcolor.stages.fill.FillSkipped` fills in along the motion. Frames are held
    until ``batch_size`` of them make one generator call per bars area (:attr:`delay` =
    ``batch_size - 1``).

    Args:
        backend: runs the generator.
        short_side: inference short side in pixels (the picture inside bars is scaled to it).
        every: 1 = every frame (see ``EngineSettings.infer_every``).
        batch_size: frames per generator call.
        via_short_side: see :func:`shrink` (``EngineSettings.via_short_side``); None: straight
            to the inference size.
    """

    stat = "inference"

    def __init__(self, backend: Backend, short_side: int, every: int, batch_size: int,
                 via_short_side: int | None = None) -> None:
        self.backend, self.short_side, self.every, self.batch_size = backend, short_side, every, batch_size
        self.via_short_side = via_short_side
        self.delay = batch_size - 1
        self.batch: list[Frame] = []

    def push(self, frame: Frame) -> list[Frame]:
        self.batch.append(frame)
        return self._predict() if len(self.batch) == self.batch_size else []

    def flush(self) -> list[Frame]:
        return self._predict()

    def _predict(self) -> list[Frame]:
        batch, self.batch = self.batch, []
        # by frame index, not by distance from the cut, so that a run started mid-shot (a
        # resumed segment, a parallel span) picks the same frames as one pass over the film
        chosen = [f for f in batch if f.is_cut or f.index % self.every == 0]
        for area in dict.fromkeys(f.area for f in chosen):
            group = [f for f in chosen if f.area == area]
            for frame, ab in zip(group, self._predict_group(group, area)):
                frame.ab = ab
        return batch

    def _predict_group(self, group: list[Frame], area: Area | None) -> list[np.ndarray] | np.ndarray:
        if area is not None:
            return self._predict_inside(area, group)
        hints = None if group[0].hints is None else np.stack([f.hints for f in group])
        size = group[0].L_small.shape[::-1]
        if not _goes_via(group[0].L.shape, size, self.via_short_side):  # L_small is already the one-step shrink
            return self.backend.predict_ab(np.stack([f.L_small for f in group]), hints)
        return self.backend.predict_ab(np.stack([shrink(f.L, size, self.via_short_side) for f in group]), hints)

    def _predict_inside(self, area: Area, group: list[Frame]) -> list[np.ndarray]:
        """ab at inference size, predicted from the picture inside ``area`` alone; 0 in the bars."""
        crops = [f.L[area.top:area.bottom, area.left:area.right] for f in group]
        h, w = inference_size(*crops[0].shape, self.short_side, self.backend.multiple)
        ab = self.backend.predict_ab(np.stack([shrink(c, (w, h), self.via_short_side) for c in crops]))
        small_size = group[0].L_small.shape
        inside = area.scaled(group[0].L.shape, small_size)
        size = (inside.right - inside.left, inside.bottom - inside.top)
        out = []
        for frame_ab in ab:
            full = np.zeros((*small_size, 2), np.float32)
            full[inside.top:inside.bottom, inside.left:inside.right] = cv2.resize(frame_ab, size)
            out.append(full)
        return out
