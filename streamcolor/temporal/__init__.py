"""Temporal consistency: scene-cut detection and chroma smoothing between frames."""

from streamcolor.temporal.cuts import CutDetector
from streamcolor.temporal.smooth import EMASmoother

__all__ = ["CutDetector", "EMASmoother"]
