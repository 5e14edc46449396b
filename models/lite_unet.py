"""A U-Net colorizer on an ImageNet-pretrained EfficientNet-Lite0 encoder, after DeOldify
(Antic 2018, github.com/jantic/DeOldify: a pretrained ResNet encoder, a U-Net decoder of
upsampling blocks joined to each encoder stage, trained on photos made grey) and report 000's
ResNet-18 U-Net (Shariatnia): the pretrained encoder brings what things are; the decoder
paints them.

L enters the 3-channel stem copied to each channel: the encoder was trained on RGB scaled
``(x - 0.5) / 0.5``, and a grey photo is R = G = B = its lightness, which L scaled to [-1, 1]
approximates. The decoder upsamples bilinearly (no checkerboard), joins the encoder tap of the
same stride and applies two 3x3 conv-BN-ReLU, up to stride 2; a light head at full size (one
3x3 conv-ReLU of ``head_width`` channels on the features and L itself, then a 3x3 conv to ab)
keeps the full-resolution cost small: half of ONNX Runtime's time with a full decoder block there,
for colour that the pipeline's guided filter snaps to the picture's edges anyway.

Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]; any H, W (padded to
multiples of 32 by :func:`streamcolor.inference.predict_ab`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.efficientnet import TAP_CHANNELS, EfficientNetLite0, load_imagenet_state
from streamcolor.models.registry import register_model


class _UpBlock(nn.Module):
    """2x bilinear up, concat the skip, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        act = nn.ReLU(inplace=True)
        self.conv = nn.Sequential(
            *conv_norm_act(in_ch + skip_ch, out_ch, kernel=3, stride=1, act=act, act_first=False),
            *conv_norm_act(out_ch, out_ch, kernel=3, stride=1, act=act, act_first=False),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], 1))


class LiteUNet(nn.Module):
    """EfficientNet-Lite0 encoder (taps at strides 2-32) + U-Net decoder of ``decoder_widths``
    (strides 16, 8, 4, 2) + a full-size head of ``head_width`` channels."""

    def __init__(self, decoder_widths: tuple[int, ...] = (192, 96, 64, 32), head_width: int = 16) -> None:
        super().__init__()
        self.encoder = EfficientNetLite0(classifier=False)
        skips = tuple(reversed(TAP_CHANNELS[:-1]))  # strides 16, 8, 4, 2
        blocks, width = [], TAP_CHANNELS[-1]
        for skip, out in zip(skips, decoder_widths, strict=True):
            blocks.append(_UpBlock(width, skip, out))
            width = out
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Conv2d(width + 1, head_width, 3, 1, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(head_width, 2, 3, 1, 1), nn.Tanh())
        self.multiple = 32
        self.model_args = dict(decoder_widths=list(decoder_widths), head_width=head_width)

    def load_pretrained(self) -> None:
        """Load the encoder's ImageNet weights (needs the ``train`` extra; see
        :func:`streamcolor.models.efficientnet.load_imagenet_state`)."""
        state = {k: v for k, v in load_imagenet_state().items() if not k.startswith(("head.", "fc."))}
        self.encoder.load_state_dict(state, strict=True)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        taps = self.encoder.features(L.expand(-1, 3, -1, -1))
        x = taps[-1]
        for block, skip in zip(self.decoder, reversed(taps[:-1])):
            x = block(x, skip)
        x = F.interpolate(x, size=L.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([x, L], 1))


@register_model
def lite0_unet(**kwargs) -> LiteUNet:
    """U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder (DeOldify-style decoder;
    report 000's pretrained-encoder U-Net with the encoder that can be installed here)."""
    return LiteUNet(**kwargs)
