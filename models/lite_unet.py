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
multiples of 32 by :func:`streamcolor.backends.base.predict_ab`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.color import AB_SCALE
from streamcolor.errors import InputError
from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.efficientnet import VARIANTS, EfficientNetLite0, load_imagenet_state
from streamcolor.models.registry import register_model
from streamcolor.models.zhang import BinClassifier


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


def _decoder(widths: tuple[int, ...], taps: tuple[int, ...]) -> nn.ModuleList:
    """Up blocks from the stride-32 tap through the taps at strides 16, 8, ... (one per width);
    ``taps``: the encoder's channels at strides 2-32."""
    blocks, width = [], taps[-1]
    for skip, out in zip(reversed(taps[:-1]), widths):
        blocks.append(_UpBlock(width, skip, out))
        width = out
    return nn.ModuleList(blocks)


class _LiteTrunk(nn.Module):
    """The pretrained encoder (``encoder``: a key of
    :data:`streamcolor.models.efficientnet.VARIANTS`) and a U-Net decoder: features at stride
    2 ** (5 - len(widths))."""

    def __init__(self, widths: tuple[int, ...], encoder: str = "lite0") -> None:
        if encoder not in VARIANTS:
            raise InputError(f"encoder: one of {', '.join(VARIANTS)}; got {encoder!r}")
        super().__init__()
        self.encoder_name = encoder
        self.encoder = EfficientNetLite0(classifier=False, variant=encoder)
        self.decoder = _decoder(widths, VARIANTS[encoder].tap_channels)

    def load_pretrained(self) -> None:
        """Load the encoder's ImageNet weights (needs the ``train`` extra; see
        :func:`streamcolor.models.efficientnet.load_imagenet_state`)."""
        state = {k: v for k, v in load_imagenet_state(self.encoder_name).items()
                 if not k.startswith(("head.", "fc."))}
        self.encoder.load_state_dict(state, strict=True)

    def decode_stages(self, L: torch.Tensor, blocks: int | None = None) -> list[torch.Tensor]:
        """The outputs of the decoder's first ``blocks`` blocks (all when None): strides 16, 8, 4
        (and 2 for four blocks)."""
        taps = self.encoder.features(torch.cat([L, L, L], 1))  # not expand: ONNX export would fix its size
        x, stages = taps[-1], []
        for block, skip in zip(self.decoder[:blocks], reversed(taps[:-1])):
            x = block(x, skip)
            stages.append(x)
        return stages

    def decode(self, L: torch.Tensor) -> torch.Tensor:
        return self.decode_stages(L)[-1]


class LiteUNet(_LiteTrunk):
    """EfficientNet-Lite0 (or ``encoder``) encoder (taps at strides 2-32) + U-Net decoder of
    ``decoder_widths`` (strides 16, 8, 4, 2) + a full-size head of ``head_width`` channels: the
    module docstring's DeOldify-style U-Net (Antic 2018; report 000's pretrained-encoder U-Net).
    Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]. H, W multiples of 32."""

    def __init__(self, decoder_widths: tuple[int, ...] = (192, 96, 64, 32), head_width: int = 16,
                 encoder: str = "lite0") -> None:
        if len(decoder_widths) != 4:
            raise InputError(f"decoder_widths: one width for each of strides 16, 8, 4, 2; got {list(decoder_widths)}")
        super().__init__(tuple(decoder_widths), encoder)
        self.head = nn.Sequential(nn.Conv2d(decoder_widths[-1] + 1, head_width, 3, 1, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(head_width, 2, 3, 1, 1), nn.Tanh())
        self.multiple = 32
        self.model_args = dict(decoder_widths=list(decoder_widths), head_width=head_width)
        if encoder != "lite0":  # the shipped configs predate the choice
            self.model_args["encoder"] = encoder

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self._regress(L, self.decode(L))

    def _regress(self, L: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(features, size=L.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([x, L], 1))


class LiteUNetBins(LiteUNet, BinClassifier):
    """:class:`LiteUNet` with a second head: Zhang et al. 2016's classification over ab bins (a
    1x1 conv on the stride-4 decoder features, the annealed mean at ``temperature``), mixed into
    the regression's ab where the classifier is sure. Per pixel,
    ``ab = reg + g * (annealed - reg)``, ``g = clamp(gate[0] + gate[1] * p_max, 0, 1)``, with
    ``p_max`` the largest bin probability (upsampled from stride 4). L1 regression averages
    the colours a grey pixel could have into brown; where one bin dominates, the annealed mean
    keeps that colour's chroma.

    Trained in two stages on a trained :class:`LiteUNet` (``--init`` it): the classifier with
    ``--objective classification --freeze encoder decoder head``, then the two gate numbers with
    ``--objective mse --freeze encoder decoder head classifier``: a least-squares fit of how far to
    trust the classifier at each confidence. ``gate = (0, 0)`` (as built) is the regression alone.
    Or train both heads and the trunk together with ``--objective multitask``, then the gate.

    Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1].
    """

    def __init__(self, decoder_widths: tuple[int, ...] = (192, 96, 64, 32), head_width: int = 16,
                 temperature: float = 0.38, lam: float = 0.5) -> None:
        super().__init__(decoder_widths, head_width)
        self._register_bins(temperature, lam)
        self.classifier = nn.Conv2d(decoder_widths[2], len(self.centres), 1)
        self.gate = nn.Parameter(torch.zeros(2))
        self.model_args = dict(self.model_args, temperature=temperature, lam=lam)

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """``(N, Q, H/4, W/4)`` bin logits."""
        return self.classifier(self.decode_stages(L, blocks=3)[2])

    def heads(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The regression's ``(N, 2, H, W)`` ab and the ``(N, Q, H/4, W/4)`` bin logits, from one
        pass of the trunk."""
        stages = self.decode_stages(L)
        return self._regress(L, stages[3]), self.classifier(stages[2])

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        ab, logits = self.heads(L)
        # bins last: ONNX Runtime's Softmax and MatMul are fast over the innermost axis, its Einsum
        # and channel-axis Softmax are not (they tripled the model's int8 time per frame)
        logits = logits.permute(0, 2, 3, 1)
        confidence = torch.softmax(logits, -1).amax(-1, keepdim=True)
        vivid = torch.softmax(logits / self.temperature, -1) @ (self.centres / AB_SCALE)
        vivid = F.interpolate(torch.cat([vivid, confidence], -1).permute(0, 3, 1, 2), size=L.shape[-2:],
                              mode="bilinear", align_corners=False)
        g = (self.gate[0] + self.gate[1] * vivid[:, 2:]).clamp(0, 1)
        return ab + g * (vivid[:, :2] - ab)


class LiteClassifier(_LiteTrunk, BinClassifier):
    """Zhang et al. 2016's classification over ab bins (rebalanced cross-entropy, annealed mean:
    :mod:`streamcolor.models.zhang`) on the pretrained encoder: the decoder stops at stride 4,
    where a 1x1 conv gives the Q bin logits. Input ``(N, 1, H, W)`` L in [-1, 1]; output (the
    annealed mean) ``(N, 2, H, W)`` ab in [-1, 1]; H, W multiples of 32."""

    def __init__(self, decoder_widths: tuple[int, ...] = (192, 96, 64), temperature: float = 0.38,
                 lam: float = 0.5) -> None:
        if len(decoder_widths) != 3:
            raise InputError(f"decoder_widths: one width for each of strides 16, 8, 4; got {list(decoder_widths)}")
        super().__init__(tuple(decoder_widths))
        self._register_bins(temperature, lam)
        self.classifier = nn.Conv2d(decoder_widths[-1], len(self.centres), 1)
        self.multiple = 32
        self.model_args = dict(decoder_widths=list(decoder_widths), temperature=temperature, lam=lam)

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """``(N, Q, H/4, W/4)`` bin logits."""
        return self.classifier(self.decode(L))


@register_model
def lite0_classification(**kwargs) -> LiteClassifier:
    """Zhang-style classification colorizer (rebalancing, annealed mean) on the ImageNet-pretrained
    EfficientNet-Lite0 encoder; train with ``--objective classification --pretrained``."""
    return LiteClassifier(**kwargs)


@register_model
def lite0_unet_bins(**kwargs) -> LiteUNetBins:
    """:func:`lite0_unet` with a Zhang-style bin classifier as a second head, trusted where it is
    sure (:class:`LiteUNetBins`); start it from a trained ``lite0_unet`` with ``--init``."""
    return LiteUNetBins(**kwargs)


@register_model
def lite2_unet(**kwargs) -> LiteUNet:
    """:func:`lite0_unet` on the larger ImageNet-pretrained EfficientNet-Lite2 (6.1 M parameters
    against 4.7 M, ImageNet top-1 77.6 % against 75.1 %: Tan & Le 2019's Lite table)."""
    if kwargs.setdefault("encoder", "lite2") != "lite2":
        raise InputError(f"lite2_unet's encoder is lite2; got {kwargs['encoder']!r}")
    return LiteUNet(**kwargs)


@register_model
def lite0_unet(**kwargs) -> LiteUNet:
    """U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder (DeOldify-style decoder;
    report 000's pretrained-encoder U-Net with the encoder that can be installed here)."""
    return LiteUNet(**kwargs)
