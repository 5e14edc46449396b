"""The one interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Backend(ABC):
    """Runs a generator on batches of L at inference size."""

    @abstractmethod
    def predict_ab(self, L: np.ndarray) -> np.ndarray:
        """Predict chroma.

        Args:
            L: float32 ``(N, H, W)``, CIE L in [0, 100].

        Returns:
            float32 ``(N, H, W, 2)``, a and b in Lab units (about [-110, 110]).
        """
