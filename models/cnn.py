"""Plain CNN generator of report 003: Conv 1->32->64->128, ten Conv 128->128, ConvTranspose
128->64->32, Conv 32->2, Tanh; each conv followed by BatchNorm and ReLU.

The report lists channels only; here the 32->64 and 64->128 convs have stride 2 and the two
ConvTransposes undo them, so the output has the input's size (inputs: multiples of 4).
Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model


class PlainCNN(nn.Module):
    """Report 003's plain CNN (module docstring): ``depth`` 3x3 convs of ``width`` channels
    between a strided stem and a transposed-conv head, BatchNorm and ReLU after each.

    Input ``(N, 1, H, W)`` L in [-1, 1], H and W multiples of 4; output ``(N, 2, H, W)`` ab in [-1, 1].
    """

    def __init__(self, width: int = 128, depth: int = 10) -> None:
        super().__init__()
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        layers = [conv_norm_act(1, 32, kernel=3, stride=1, act=relu(), act_first=False),
                  conv_norm_act(32, 64, act=relu(), act_first=False),
                  conv_norm_act(64, width, act=relu(), act_first=False)]
        layers += [conv_norm_act(width, width, kernel=3, stride=1, act=relu(), act_first=False) for _ in range(depth)]
        layers += [conv_norm_act(width, 64, transpose=True, act=relu(), act_first=False),
                   conv_norm_act(64, 32, transpose=True, act=relu(), act_first=False),
                   nn.Conv2d(32, 2, 3, 1, 1), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.multiple = 4
        self.model_args = dict(width=width, depth=depth)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.model(L)


@register_model
def plain_cnn(**kwargs) -> PlainCNN:
    """Plain CNN of report 003 (1.8 M params; nine 128-channel layers, 1.7 M, before session 32)."""
    return PlainCNN(**kwargs)
