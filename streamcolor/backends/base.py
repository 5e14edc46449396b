"""The one interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from streamcolor.errors import InputError


def refuse_hints(hints: np.ndarray | None, backend: str) -> None:
    """Compiled backends take L only: hints need the torch backend."""
    if hints is not None:
        raise InputError(f"colour hints need the torch backend, not {backend}")


class Backend(ABC):
    """Runs a generator on batches of L at inference size."""

    @abstractmethod
    def predict_ab(self, L: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """Predict chroma.

        Args:
            L: float32 ``(N, H, W)``, CIE L in [0, 100].
            hints: for a hint model (``unet_small_hints``), float32 ``(N, H, W, 3)``: the
                user's a, b (Lab units) and a mask (1 where hinted, else 0).

        Returns:
            float32 ``(N, H, W, 2)``, a and b in Lab units (about [-110, 110]).

        Raises:
            InputError: hints given to a backend or model that cannot take them.
        """
