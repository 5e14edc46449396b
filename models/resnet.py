"""ResNet building blocks and encoders (He et al. 2016), written once here and reused by
the ResNet-18 U-Net, the ResNet-18 deconvolution network and the modified ResNet-50.

No torchvision and no ImageNet weights (nothing is downloaded): encoders train from
scratch and take 1-channel L input.
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out = width * self.expansion
        self.body = nn.Sequential(
            *_conv_bn(in_ch, width, 3, stride, relu=True), *_conv_bn(width, out, 3))
        self.shortcut = _shortcut(in_ch, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out = width * self.expansion
        self.body = nn.Sequential(
            *_conv_bn(in_ch, width, 1, relu=True), *_conv_bn(width, width, 3, stride, relu=True), *_conv_bn(width, out, 1))
        self.shortcut = _shortcut(in_ch, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, relu: bool = False) -> nn.Sequential:
    return conv_norm_act(in_ch, out_ch, kernel=kernel, stride=stride, act=nn.ReLU(inplace=True) if relu else None,
                         act_first=False)


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return _conv_bn(in_ch, out_ch, 1, stride)


class ResNetEncoder(nn.Module):
    """ResNet body as in torchvision's child order: conv1, bn1, relu, maxpool, layer1..layer4.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        widths: block widths per stage (ResNet: 64, 128, 256, 512).
        in_channels: 1 for L.
        downsample: False = stride 1 everywhere and no max-pool (report 004's modification).

    :meth:`features` returns the stem output and each stage's output (strides 2, 4, 8,
    16, 32 when downsampling), for U-Net skips.
    """

    def __init__(self, block: type[nn.Module], layers: tuple[int, ...], widths: tuple[int, ...],
                 in_channels: int = 1, downsample: bool = True) -> None:
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if downsample else nn.Identity()
        ch = widths[0]
        stages = []
        for i, (n, width) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                blocks.append(block(ch, width, stride if (i > 0 and j == 0) else 1))
                ch = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.channels = [widths[0]] + [w * block.expansion for w in widths]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        feats = [x]
        x = self.maxpool(x)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]


def resnet18_encoder(in_channels: int = 1) -> ResNetEncoder:
    """ResNet-18 body (BasicBlock, 2-2-2-2, widths 64-512)."""
    return ResNetEncoder(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), in_channels)


class ResNetRegressor(nn.Module):
    """Report 004's modified ResNet-50: bottleneck stages 3-4-6-3 without max-pool and with
    stride 1 throughout (full resolution), reduced widths, and a 3x3 conv head to ab + Tanh
    (the report's head gives 3 channels, RGB; here 2, ab, as every colorizer here).

    Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1].
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), layers: tuple[int, ...] = (3, 4, 6, 3)) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(Bottleneck, layers, widths, 1, downsample=False)
        self.head = nn.Sequential(nn.Conv2d(self.encoder.channels[-1], 2, 3, 1, 1), nn.Tanh())
        self.multiple = 1
        self.model_args = dict(widths=list(widths), layers=list(layers))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(L))


@register_model
def resnet50_mod(**kwargs) -> ResNetRegressor:
    """Modified ResNet-50 of report 004 (no max-pool, stride 1, widths 16-128 instead of 64-512)."""
    return ResNetRegressor(**kwargs)
