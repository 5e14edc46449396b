"""User-guided colorization: a U-Net that takes L plus sparse ab hints and a hint mask.

After Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned Deep
Priors" (SIGGRAPH): the network sees the user's colour at a few pixels (ab, and a mask
saying where) beside L and learns, from hints sampled out of the ground truth during
training, to spread them along the picture's own edges. So that a small network trained
briefly need not learn the spreading from scratch, it also sees the hints already spread
along L's edges by an edge-aware smoother (the fast global smoother of Min et al. 2014,
"Fast Global Image Smoothing Based on Weighted Least Squares", OpenCV ximgproc), with a
weight saying how much hint reached each pixel; it learns where to trust that and where
its own prior knows better. Input channels (:func:`hint_input`): L, then hint a, hint b
(scaled to [-1, 1], 0 where no hint), mask (1 at hinted pixels), then for each spread
(one by default; :class:`HintUNet` ``spreads``) spread a, spread b (scaled, times the
weight), weight in [0, 1]. Given L alone it runs as a plain colorizer.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import nn

from streamcolor.color import normalize_ab
from streamcolor.models.blocks import NonLocalBlock, ResidualBlock
from streamcolor.models.registry import register_model
from streamcolor.models.unet import UNetGenerator

#: Fast global smoother settings for 150-px-short-side pictures (the training scale):
#: smoothness lambda, and sigma of the L edges it stops at (on L * 2.55, 0-255).
SPREAD_LAMBDA, SPREAD_SIGMA = 1e3, 8.0
#: Spread hint mass at which the weight is 1/2; far below it, no hint reached the pixel.
SPREAD_HALF = 1e-3


class HintUNet(UNetGenerator):
    """pix2pix U-Net with hint input channels (see the module docstring).

    Input: float32 ``(N, 1, H, W)`` (L only) or ``(N, 1 + hint_channels, H, W)`` (L scaled to
    [-1, 1], then :meth:`hint_input`). Output: ``(N, 2, H, W)`` ab scaled to [-1, 1].

    Args:
        spreads: smoothness lambdas of the fast global smoother, one spread (3 channels) per
            value: a small one keeps a hint inside its region, a large one lets it reach
            further and tells the network about the colour of distant parts of the picture.
        attention: 0 for none, else the level (1 = after the second downsampling, at 1/4 of
            the input size; 2 = at 1/8 ...) that gets a :class:`NonLocalBlock`, so that a
            hint can reach parts of the picture that look like the hinted one but are not
            connected to it (the other shutters of a house).
        depth: :class:`ResidualBlock` s (two 3x3 convolutions each) after every level's
            downsampling; the pix2pix U-Net has one convolution per level, where Zhang et
            al.'s network has two or three.
    """

    def __init__(self, spreads: tuple[float, ...] = (SPREAD_LAMBDA,), attention: int = 0, depth: int = 0,
                 **kwargs) -> None:
        self.spreads = tuple(float(x) for x in spreads)
        if not all(math.isfinite(x) and x >= 0 for x in self.spreads):
            raise ValueError(f"spreads are smoothness weights, finite and 0 or more; got {list(spreads)}")
        self.hint_channels = 3 + 3 * len(self.spreads)
        if kwargs.get("in_channels", 1 + self.hint_channels) != 1 + self.hint_channels:  # saved configs hold it
            raise ValueError(f"in_channels is 1 + the hint channels that spreads sets ({1 + self.hint_channels}); "
                             "leave it out")
        super().__init__(**{**kwargs, "in_channels": 1 + self.hint_channels})
        self.model_args.update(spreads=list(self.spreads), attention=attention, depth=depth)
        if not 0 <= attention < self.model_args["num_downs"] - 1:
            last = self.model_args["num_downs"] - 2
            raise ValueError(f"attention level must be 0 (none) or 1 .. {last}, got {attention}")
        # appended to the levels' down paths, so every weight of the network without them keeps its name
        for level, down in enumerate(self._down_paths()):
            channels = next(m for m in down if isinstance(m, nn.Conv2d)).out_channels
            if attention and level == attention:
                down.append(NonLocalBlock(channels))
            down.extend(ResidualBlock(channels) for _ in range(depth))

    def _down_paths(self) -> list[nn.Sequential]:
        """Each level's downsampling path, outermost first."""
        paths, block = [], self.model
        while True:
            paths.append(block.model[0])
            if len(block.model) == 2:  # the innermost level: down, up
                return paths
            block = block.model[1]

    def hint_input(self, L: np.ndarray, hints: np.ndarray) -> torch.Tensor:
        """:func:`hint_input` with this model's spreads."""
        return hint_input(L, hints, self.spreads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = torch.cat([x, x.new_zeros(x.shape[0], self.hint_channels, *x.shape[2:])], 1)
        return super().forward(x)


def spread_hints(L: np.ndarray, hints: np.ndarray, smoothness: float = SPREAD_LAMBDA) -> np.ndarray:
    """Sparse hints spread along the edges of one picture's L (see the module docstring).

    Args:
        L: float32 ``(H, W)`` in [0, 100].
        hints: float32 ``(H, W, 3)``: a, b (Lab units) and mask (1 at hinted pixels, else 0).
        smoothness: the smoother's lambda (larger spreads further).

    Returns:
        float32 ``(H, W, 3)``: spread a, b (Lab units: the edge-aware weighted mean of the
        hints reaching the pixel) and the weight in [0, 1] (0 where no hint reached).
    """
    guide = np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)
    smoother = cv2.ximgproc.createFastGlobalSmootherFilter(guide, smoothness, SPREAD_SIGMA)
    mask = np.ascontiguousarray(hints[..., 2], dtype=np.float32)
    mass = np.maximum(smoother.filter(mask), 0)
    ab = smoother.filter(np.ascontiguousarray(hints[..., :2] * mask[..., None], dtype=np.float32))
    ab = ab / np.maximum(mass, 1e-8)[..., None]
    return np.dstack([ab, mass / (mass + SPREAD_HALF)]).astype(np.float32)


def hint_input(L: np.ndarray, hints: np.ndarray, spreads: tuple[float, ...] = (SPREAD_LAMBDA,)) -> torch.Tensor:
    """The hint channels of :class:`HintUNet` for a batch.

    Args:
        L: float32 ``(N, H, W)`` in [0, 100].
        hints: float32 ``(N, H, W, 3)``: a, b (Lab units) and mask, as :func:`spread_hints`.
        spreads: the smoother's lambda for each spread.

    Returns:
        float32 ``(N, 3 + 3 * len(spreads), H, W)``: hint a, b (scaled, times the mask), mask,
        then per spread: spread a, b (scaled, times the weight), weight.
    """
    out = []
    for picture, sparse in zip(L, hints):
        channels = [normalize_ab(sparse[..., :2]) * sparse[..., 2:], sparse[..., 2:]]
        for smoothness in spreads:
            spread = spread_hints(picture, sparse, smoothness)
            channels += [normalize_ab(spread[..., :2]) * spread[..., 2:], spread[..., 2:]]
        out.append(np.dstack(channels))
    return torch.from_numpy(np.stack(out).astype(np.float32)).permute(0, 3, 1, 2)


@register_model
def unet_small_hints(**kwargs) -> HintUNet:
    """A smaller :func:`~streamcolor.models.unet.unet_small` (5 downsamplings, not 6; ngf 32) with
    hint inputs (Zhang et al. 2017): the shipped hint model's architecture."""
    return HintUNet(**{"num_downs": 5, "ngf": 32, **kwargs})
