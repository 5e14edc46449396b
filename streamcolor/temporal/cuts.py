"""Scene-cut detection on luma histograms with an adaptive threshold."""

from __future__ import annotations

from collections import deque

import numpy as np


class CutDetector:
    """Flags the first frame of each new shot.

    The score between consecutive frames is the total-variation distance of their
    L histograms (0 = same, 1 = disjoint). A frame is a cut when the score exceeds both
    ``min_score`` and ``ratio`` times the median score of the last ``window`` frames, so
    steady motion (small scores) and busy shots (larger typical scores) are told apart
    from real changes of shot.

    Args:
        bins: histogram bins over L in [0, 100].
        min_score: absolute floor of the threshold.
        ratio: how far above the recent median a cut must stand.
        window: frames of history for the median.
    """

    def __init__(self, bins: int = 32, min_score: float = 0.3, ratio: float = 4.0, window: int = 24) -> None:
        self.bins, self.min_score, self.ratio = bins, min_score, ratio
        self.scores: deque[float] = deque(maxlen=window)
        self.previous: np.ndarray | None = None

    def _histogram(self, L: np.ndarray) -> np.ndarray:
        hist, _ = np.histogram(L, bins=self.bins, range=(0.0, 100.0))
        return hist / max(1, hist.sum())

    def push(self, L: np.ndarray) -> bool:
        """Feed the next frame's L (float ``(H, W)`` in [0, 100], any size); True if it starts a new shot.

        The first frame counts as a cut (nothing before it to carry colour from).
        """
        hist = self._histogram(L)
        previous, self.previous = self.previous, hist
        if previous is None:
            return True
        score = 0.5 * float(np.abs(hist - previous).sum())
        baseline = float(np.median(self.scores)) if self.scores else 0.0
        is_cut = score > max(self.min_score, self.ratio * baseline)
        if is_cut:
            self.scores.clear()
        else:
            self.scores.append(score)
        return is_cut
