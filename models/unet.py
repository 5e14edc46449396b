"""pix2pix U-Net generator: L (1 channel, [-1, 1]) -> ab (2 channels, [-1, 1]).

From Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
Networks", as used for colorization in reports 000 and 002 (../shared/seeds):
4x4 stride-2 convolutions with LeakyReLU(0.2) going down, ConvTranspose with ReLU
going up (pix2pix's; report 000 put LeakyReLU there too, for the GAN's stability), BatchNorm
between, skip connections joining mirrored levels, Tanh out.
The network is built inside out from one recursive block.
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model


class UNetSkipBlock(nn.Module):
    """One U-Net level: down conv -> ``inner`` -> up conv, then (optionally) concat with input."""

    def __init__(self, outer_ch: int, inner_ch: int, inner: nn.Module | None, *, in_ch: int | None = None,
                 out_ch: int | None = None, skip: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        outermost, innermost = out_ch is not None, inner is None
        self.skip = skip and not outermost
        in_ch = outer_ch if in_ch is None else in_ch
        down = conv_norm_act(in_ch, inner_ch, norm=not (outermost or innermost),
                             act=None if outermost else nn.LeakyReLU(0.2, inplace=True))
        up_in = inner_ch if innermost or not skip else inner_ch * 2
        if outermost:
            up = nn.Sequential(nn.ReLU(inplace=True), nn.ConvTranspose2d(up_in, out_ch, 4, 2, 1), nn.Tanh())
        else:
            up = conv_norm_act(up_in, outer_ch, transpose=True, act=nn.ReLU(inplace=True))
            if dropout:
                up.append(nn.Dropout(dropout))
        self.model = nn.Sequential(down, *([inner] if inner is not None else []), up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return torch.cat([x, y], 1) if self.skip else y


class UNetGenerator(nn.Module):
    """pix2pix U-Net mapping L to ab.

    Args:
        num_downs: number of stride-2 downsamplings; inputs must be divisible by
            ``2 ** num_downs`` (see :attr:`multiple`).
        ngf: filters of the outermost level; level i has ``ngf * min(2**i, 8)``.
        skip: skip connections on (U-Net) or off (plain encoder-decoder, report 002).
        dropout: dropout in the three innermost non-bottleneck up levels (pix2pix uses 0.5).

    Input: float32 ``(N, 1, H, W)``, L scaled to [-1, 1]. Output: ``(N, 2, H, W)``,
    ab scaled to [-1, 1] (multiply by 110 for Lab units).
    """

    def __init__(self, num_downs: int = 8, ngf: int = 64, skip: bool = True, dropout: float = 0.0,
                 in_channels: int = 1, out_channels: int = 2) -> None:
        super().__init__()
        if num_downs < 2:
            raise ValueError(f"num_downs must be at least 2, got {num_downs}")
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]
        block: nn.Module | None = None
        for level in range(num_downs - 1, 0, -1):
            use_dropout = dropout if block is not None and level >= num_downs - 4 else 0.0
            block = UNetSkipBlock(widths[level - 1], widths[level], block, skip=skip, dropout=use_dropout)
        self.model = UNetSkipBlock(out_channels, ngf, block, in_ch=in_channels, out_ch=out_channels, skip=skip)
        self.multiple = 2**num_downs
        self.model_args = dict(num_downs=num_downs, ngf=ngf, skip=skip, dropout=dropout,
                               in_channels=in_channels, out_channels=out_channels)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.model(L)


@register_model
def pix2pix_unet256(**kwargs) -> UNetGenerator:
    """pix2pix U-Net 256 (reports 000 and 003): 8 downsamplings, ngf 64, ~54 M params. (Report
    004's cGAN U-Net has 7 encoders and 7 decoders: :func:`pix2pix_unet128`.)"""
    return UNetGenerator(**{"num_downs": 8, "ngf": 64, **kwargs})


@register_model
def pix2pix_unet128(**kwargs) -> UNetGenerator:
    """U-Net 128 of reports 002 and 004 (004: "7 encoders and 7 decoders"): 7 downsamplings,
    filters 64-128-256-512-512-512-512."""
    return UNetGenerator(**{"num_downs": 7, "ngf": 64, **kwargs})


@register_model
def pix2pix_unet128_noskip(**kwargs) -> UNetGenerator:
    """Report 002's comparison: the U-Net 128 without skip connections (encoder-decoder)."""
    return UNetGenerator(**{"num_downs": 7, "ngf": 64, "skip": False, **kwargs})


@register_model
def unet_small(**kwargs) -> UNetGenerator:
    """CPU-sized pix2pix U-Net (the retired default ``unet_small_v1``'s architecture): 6
    downsamplings, ngf 32, 7.3 M params."""
    return UNetGenerator(**{"num_downs": 6, "ngf": 32, **kwargs})


@register_model
def unet_tiny(**kwargs) -> UNetGenerator:
    """Tiny U-Net for tests: 3 downsamplings, ngf 8."""
    return UNetGenerator(**{"num_downs": 3, "ngf": 8, **kwargs})
