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

from streamcolor.temporal.flow import Flow, visibility, warp

#: the visibility a pixel keeps however badly tracked, so that where neither side sees it the two
#: predictions are averaged by their distance in time instead of dividing by zero
FLOOR = 0.01


def _carry(ab: np.ndarray, flows: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``ab`` carried through successive frames, and each pixel's visibility along the way: for
    each ``(flow, reverse)`` (next frame -> this one, and back), the warped ab and the product of
    the visibilities so far."""
    seen = np.ones(ab.shape[:2], np.float32)
    out = []
    for flow, reverse in flows:
        ab, seen = warp(ab, flow), warp(seen, flow) * visibility(flow, reverse)
        out.append((ab, seen))
    return out


def fill_gap(Ls: list[np.ndarray], first: np.ndarray, last: np.ndarray | None, flow: Flow) -> list[np.ndarray]:
    """ab for the frames between two predicted frames of one shot.

    Args:
        Ls: float32 ``(H, W)`` L (0-100) at inference size of the first predicted frame, the
            skipped frames, and, when ``last`` is given, the next predicted frame.
        first: float32 ``(H, W, 2)`` ab (Lab units) predicted for ``Ls[0]``.
        last: ab predicted for ``Ls[-1]``, or None where the shot (or the stream) ends before
            another prediction: then only ``first`` is carried.
        flow: computes the optical flow.

    Returns:
        float32 ``(H, W, 2)`` ab for each skipped frame, ``Ls[1:-1]`` (``Ls[1:]`` without ``last``).
    """
    pairs = [(flow(b, a), flow(a, b)) for a, b in zip(Ls, Ls[1:])]  # (b -> a, a -> b)
    gap = len(Ls) - (2 if last is not None else 1)
    forward = _carry(first, pairs[:gap])
    if last is None:
        return [ab for ab, _ in forward]
    backward = _carry(last, [(back, fore) for fore, back in reversed(pairs[1:])])[::-1]
    filled = []
    for t, ((ab_f, seen_f), (ab_b, seen_b)) in enumerate(zip(forward, backward), start=1):
        w_f = (len(Ls) - 1 - t) * (seen_f + FLOOR)
        w_b = t * (seen_b + FLOOR)
        filled.append(((w_f[..., None] * ab_f + w_b[..., None] * ab_b) / (w_f + w_b)[..., None]).astype(np.float32))
    return filled
