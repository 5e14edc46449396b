"""Layers shared by the networks (written once, reused by every family)."""

from __future__ import annotations

import torch
from torch import nn


def conv_norm_act(
    in_ch: int, out_ch: int, *, kernel: int = 4, stride: int = 2, transpose: bool = False,
    norm: bool = True, act: nn.Module | None = None, act_first: bool = True, dilation: int = 1,
) -> nn.Sequential:
    """Conv (or ConvTranspose) + BatchNorm + activation, pix2pix order (activation first).

    The conv has a bias only when no norm follows it (BatchNorm would cancel it). The padding,
    ``dilation * (kernel - 1) // 2``, keeps the size at stride 1 and halves it at stride 2 (even
    sizes; for pix2pix's 4x4 kernels and the transposed conv, doubles it).
    """
    padding = dilation * (kernel - 1) // 2
    conv_cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = conv_cls(in_ch, out_ch, kernel, stride, padding, dilation=dilation, bias=not norm)
    layers: list[nn.Module] = []
    if act is not None and act_first:
        layers.append(act)
    layers.append(conv)
    if norm:
        layers.append(nn.BatchNorm2d(out_ch))
    if act is not None and not act_first:
        layers.append(act)
    return nn.Sequential(*layers)


class NonLocalBlock(nn.Module):
    """Residual self-attention over all positions of a feature map (Wang et al. 2018,
    "Non-local Neural Networks"): each position gathers features from the positions that
    resemble it, however far away. The output projection starts at zero, so a block added
    to a trained network leaves it unchanged until trained.

    Input and output: float ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, key_channels: int = 64) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, key_channels, 1)
        self.key = nn.Conv2d(channels, key_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = [proj(x).flatten(2).transpose(1, 2) for proj in (self.query, self.key, self.value)]
        y = nn.functional.scaled_dot_product_attention(*tokens)
        return x + self.out(y.transpose(1, 2).reshape(n, c, h, w))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions added back to their input (He et al. 2016, "Deep Residual Learning
    for Image Recognition"), pix2pix order (LeakyReLU, conv, BatchNorm). The last BatchNorm's
    scale starts at zero, so a block added to a trained network leaves it unchanged until
    trained: depth can be added to a network that has one convolution per level.

    Input and output: float ``(N, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_norm_act(channels, channels, kernel=3, stride=1, act=nn.LeakyReLU(0.2)),
            *conv_norm_act(channels, channels, kernel=3, stride=1, act=nn.LeakyReLU(0.2)),
        )
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
