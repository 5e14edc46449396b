"""Backends run a generator: ``predict_ab(L_batch) -> ab_batch`` (see :mod:`.base`)."""

from streamcolor.backends.base import Backend
from streamcolor.backends.torch import TorchBackend

__all__ = ["Backend", "TorchBackend"]
