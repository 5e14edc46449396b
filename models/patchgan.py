"""PatchGAN discriminator (Isola et al. 2017; reports 000, 002, 003).

With ``n_layers=3`` each output score sees a 70x70 patch of the input.
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN: scores (L, ab) pairs patch by patch.

    Args:
        in_channels: 3 for the conditional L + ab input.
        ndf: filters of the first layer, doubled per layer up to ``8 * ndf``.
        n_layers: stride-2 layers after the first (3 -> 70x70 receptive field).

    Input: float32 ``(N, 3, H, W)`` in [-1, 1]. Output: ``(N, 1, H', W')`` logits
    (about ``H / 8 - 2`` for ``n_layers=3``).
    """

    #: it scores colourings, it makes none (training refuses it as --model)
    is_discriminator = True

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), lrelu()]
        width = ndf
        for i in range(1, n_layers + 1):
            out = ndf * min(2**i, 8)
            layers.append(conv_norm_act(width, out, stride=2 if i < n_layers else 1, kernel=4,
                                        act=lrelu(), act_first=False))
            width = out
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.model_args = dict(in_channels=in_channels, ndf=ndf, n_layers=n_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_model
def patchgan70(**kwargs) -> PatchDiscriminator:
    """70x70 PatchGAN (pix2pix): ndf 64, 3 layers."""
    return PatchDiscriminator(**{"ndf": 64, "n_layers": 3, **kwargs})
