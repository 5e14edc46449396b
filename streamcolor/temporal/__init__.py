"""Temporal consistency: scene-cut detection and chroma smoothing between frames."""

from streamcolor.temporal.cuts import CutDetector
from streamcolor.temporal.flow import Flow, warp
from streamcolor.temporal.smooth import EMASmoother, MotionSmoother

__all__ = ["CutDetector", "EMASmoother", "Flow", "MotionSmoother", "warp"]
