"""Deep Koalarization (Baldassarre et al. 2017; report 001): encoder + global feature
extractor + fusion layer + decoder.

The paper's extractor is an ImageNet-trained Inception-ResNet-v2 (report 001 tries
Inception-v3 and ConvNeXt-T), giving a 1000-d vector per image, frozen. Those weights cannot be
installed here; an ImageNet-trained EfficientNet-Lite0 can (the ``train`` extra), so
``koalarization_lite0`` uses it as the paper intended: its 1000 class probabilities of the grey
image (resized to 224x224) are the global features, and it stays frozen. ``koalarization`` and
``koalarization_256`` are the from-scratch variants: :class:`GlobalFeatures` is a small CNN
trained with the rest of the network. ``global_keep=256`` is report 001's variant that keeps a
fixed random 256 of the 1000 dimensions, to balance them against the encoder's 256 channels.

Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]; inputs must
be multiples of 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.errors import InputError, is_whole
from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.efficientnet import EfficientNetLite0, load_imagenet_state
from streamcolor.models.registry import register_model


def _conv(in_ch: int, out_ch: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    """3x3 conv (+ ReLU): the paper's network has no normalisation."""
    return conv_norm_act(in_ch, out_ch, kernel=3, stride=stride, norm=False,
                         act=nn.ReLU(inplace=True) if act else None, act_first=False)


class GlobalFeatures(nn.Module):
    """Whole-image descriptor from a 128x128 resize of L: strided convs, global average
    pool, a linear layer to ``dims`` (1000, the size of the paper's Inception output)."""

    def __init__(self, dims: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(1, width, 2), _conv(width, width * 2, 2), _conv(width * 2, width * 4, 2),
                                  _conv(width * 4, width * 4, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(width * 4, dims)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(L, size=(128, 128), mode="bilinear", align_corners=False)
        return self.fc(self.body(x))


class ImageNetClasses(nn.Module):
    """The frozen 1000 ImageNet class probabilities of EfficientNet-Lite0 for a grey image
    (resized to 224x224, L copied to the three channels). Load its weights with
    :meth:`load_pretrained`; it stays in eval mode and takes no gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.net = EfficientNetLite0(classifier=True).requires_grad_(False)

    def load_pretrained(self) -> None:
        self.net.load_state_dict(load_imagenet_state(), strict=True)

    def train(self, mode: bool = True) -> "ImageNetClasses":
        return super().train(False)  # frozen: BatchNorm keeps its ImageNet statistics

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(L, size=(224, 224), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
        return self.net(x).softmax(1)


class Koalarization(nn.Module):
    """Deep Koalarization (report 001; Baldassarre et al. 2017, "Deep Koalarization: Image
    Colorization using CNNs and Inception-ResNet-v2"): encoder, global features
    (``global_extractor``: "scratch", or "lite0", the frozen ImageNet classifier standing in for
    Inception-ResNet-v2), fusion, decoder. Input ``(N, 1, H, W)`` L in [-1, 1]; output ``(N, 2, H, W)`` ab in [-1, 1]. H, W multiples of 8."""

    def __init__(self, global_dims: int = 1000, global_keep: int | None = None, seed: int = 0,
                 global_extractor: str = "scratch") -> None:
        super().__init__()
        if global_extractor not in ("scratch", "lite0"):
            raise InputError(f"global_extractor must be 'scratch' or 'lite0', got {global_extractor!r}")
        if global_extractor == "lite0" and global_dims != 1000:
            raise InputError("the lite0 global extractor gives 1000 ImageNet classes: global_dims must be 1000")
        if global_keep is not None and not (is_whole(global_keep) and 1 <= global_keep <= global_dims):
            raise InputError(f"global_keep must be a whole number from 1 to global_dims ({global_dims}), got {global_keep!r}")
        #: its ImageNet classifier is frozen: trained from random weights it would stay random
        self.needs_pretrained = global_extractor == "lite0"
        self.encoder = nn.Sequential(_conv(1, 64, 2), _conv(64, 128), _conv(128, 128, 2), _conv(128, 256),
                                     _conv(256, 256, 2), _conv(256, 512), _conv(512, 512), _conv(512, 256))
        self.global_features = GlobalFeatures(global_dims) if global_extractor == "scratch" else ImageNetClasses()
        keep = global_keep or global_dims
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("keep_index", torch.randperm(global_dims, generator=generator)[:keep].sort().values)
        self.fusion = _conv(256 + keep, 256)  # the paper's 1x1 fusion; 3x3 here costs little more
        self.decoder = nn.Sequential(
            _conv(256, 128), nn.Upsample(scale_factor=2), _conv(128, 64), _conv(64, 64), nn.Upsample(scale_factor=2),
            _conv(64, 32), nn.Conv2d(32, 2, 3, 1, 1), nn.Tanh(), nn.Upsample(scale_factor=2),
        )
        self.multiple = 8
        self.model_args = dict(global_dims=global_dims, global_keep=global_keep, seed=seed, global_extractor=global_extractor)

    def load_pretrained(self) -> None:
        """Load the ImageNet weights of the global extractor (``global_extractor="lite0"`` only).

        Raises:
            InputError: the extractor is trained from scratch, or the train extra is missing.
        """
        if not isinstance(self.global_features, ImageNetClasses):
            raise InputError("this Koalarization's global extractor is trained from scratch; use koalarization_lite0")
        self.global_features.load_pretrained()

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        local = self.encoder(L)
        glob = self.global_features(L)[:, self.keep_index]
        tiled = glob[:, :, None, None].expand(-1, -1, *local.shape[-2:])
        return self.decoder(self.fusion(torch.cat([local, tiled], 1)))


@register_model
def koalarization(**kwargs) -> Koalarization:
    """Deep Koalarization (report 001) with a 1000-d global branch trained from scratch."""
    return Koalarization(**kwargs)


@register_model
def koalarization_256(**kwargs) -> Koalarization:
    """Report 001's variant: a fixed random 256 of the 1000 global dimensions."""
    return Koalarization(**{"global_keep": 256, **kwargs})


@register_model
def koalarization_lite0(**kwargs) -> Koalarization:
    """Deep Koalarization (report 001) as the paper intended: a frozen ImageNet classifier
    (EfficientNet-Lite0 here; train with ``--pretrained``) gives the 1000-d global features."""
    return Koalarization(**{"global_extractor": "lite0", **kwargs})
