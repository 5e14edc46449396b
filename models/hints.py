"""User-guided colorization: a U-Net that takes L plus sparse ab hints and a hint mask.

After Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned Deep
Priors" (SIGGRAPH): the network sees the user's colour at a few pixels (ab, and a mask
saying where) beside L and learns, from hints sampled out of the ground truth during
training, to spread them along the picture's own edges. Input channels: L, hint a, hint
b (scaled to [-1, 1], 0 where no hint), mask (1 at hinted pixels). Given L alone it runs
as a plain colorizer (no hints).
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.registry import register_model
from streamcolor.models.unet import UNetGenerator


class HintUNet(UNetGenerator):
    """pix2pix U-Net with 4 input channels (see the module docstring).

    Input: float32 ``(N, 1, H, W)`` (L only) or ``(N, 4, H, W)`` (L, hint ab, mask), L and
    ab scaled to [-1, 1]. Output: ``(N, 2, H, W)`` ab scaled to [-1, 1].
    """

    hint_channels = 3

    def __init__(self, **kwargs) -> None:
        super().__init__(**{**kwargs, "in_channels": 1 + self.hint_channels})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = torch.cat([x, x.new_zeros(x.shape[0], self.hint_channels, *x.shape[2:])], 1)
        return super().forward(x)


def expand_input_channels(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` of a 1-channel generator made loadable into ``model``: first-layer weights
    with fewer input channels get zero weights for the extra ones, so the result starts
    as the old colorizer and ignores hints until trained."""
    own = model.state_dict()
    out = {}
    for name, tensor in state.items():
        target = own.get(name)
        if target is not None and tensor.ndim == 4 and tensor.shape[1] < target.shape[1] \
                and tensor.shape[0] == target.shape[0] and tensor.shape[2:] == target.shape[2:]:
            padded = tensor.new_zeros(target.shape)
            padded[:, : tensor.shape[1]] = tensor
            tensor = padded
        out[name] = tensor
    return out


@register_model
def unet_small_hints(**kwargs) -> HintUNet:
    """The default's U-Net (5 downsamplings, ngf 32) with hint inputs (Zhang et al. 2017)."""
    return HintUNet(**{"num_downs": 5, "ngf": 32, **kwargs})
