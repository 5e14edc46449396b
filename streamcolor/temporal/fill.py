"""Colour for the frames the generator skipped: the predictions on either side carried along the
optical flow, each where it can be seen.

Carrying only the earlier prediction forward smears a moving subject's colour over what it
uncovers: behind a running figure the flow has nothing to follow, and the luma there (a dark lawn
behind a dark suit) may match well enough to pass. What a moving subject uncovers, the next
prediction has already seen. So each skipped frame takes both predictions, carried frame by frame
along the flow, weighted by how far each is in time and by how visible each pixel stayed on the
way (the forward-backward consistency of the flow: an occluded or uncovered pixel has none),
as frame interpolation does (e.g. Jiang et al. 2018, "Super SloMo").
"""

from __future__ import annotations

import numpy as np

from streamcolor.temporal.flow import Motion, visibility, warp

#: forward-backward flow error (pixels at inference size) at which a pixel's visibility falls to 1/e
SIGMA_PX = 1.0
#: the visibility a pixel keeps however badly tracked, so that where neither side sees it the two
#: predictions are averaged by their distance in time instead of dividing by zero
FLOOR = 0.01


def _carry(ab: np.ndarray, steps: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """``ab`` carried through successive frames with each pixel's visibility along the way: for
    each ``(flow, error)`` (next frame -> this one, and its forward-backward error on the next
    frame's pixels), ``(H, W, 3)``: the warped ab and the product of the visibilities so far."""
    carried = np.dstack([ab, np.ones(ab.shape[:2], np.float32)])
    out = []
    for flow, error in steps:
        carried = warp(carried, flow)  # one remap for ab and visibility
        carried[..., 2] *= visibility(error, SIGMA_PX)
        out.append(carried)
    return out


def fill_gap(first: np.ndarray, last: np.ndarray | None, motions: list[Motion]) -> list[np.ndarray]:
    """ab for the frames between two predicted frames of one shot.

    Args:
        first: float32 ``(H, W, 2)`` ab (Lab units) predicted for the first frame.
        last: ab predicted for the frame after the gap, or None where the shot (or the stream)
            ends before another prediction: then only ``first`` is carried.
        motions: :class:`~streamcolor.temporal.flow.Motion` of each frame after the first from
            the one before it: the skipped frames', then, with ``last``, that frame's.

    Returns:
        float32 ``(H, W, 2)`` ab for each skipped frame.
    """
    gap = len(motions) - (last is not None)
    forward = _carry(first, [(m.to_previous, m.error) for m in motions[:gap]])
    if last is None:
        return [np.ascontiguousarray(carried[..., :2]) for carried in forward]
    backward = _carry(last, [(m.from_previous, m.error_previous) for m in reversed(motions[1:])])[::-1]
    filled = []
    for t, (f, b) in enumerate(zip(forward, backward), start=1):
        w_b = t * (b[..., 2] + FLOOR)
        share = (w_b / ((gap + 1 - t) * (f[..., 2] + FLOOR) + w_b))[..., None]  # the later prediction's
        filled.append(f[..., :2] + share * (b[..., :2] - f[..., :2]))
    return filled
