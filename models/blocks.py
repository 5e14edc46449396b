"""Layers shared by the networks (written once, reused by every family)."""

from __future__ import annotations

from torch import nn


def conv_norm_act(
    in_ch: int, out_ch: int, *, kernel: int = 4, stride: int = 2, transpose: bool = False,
    norm: bool = True, act: nn.Module | None = None, act_first: bool = True,
) -> nn.Sequential:
    """Conv (or ConvTranspose) + BatchNorm + activation, pix2pix order (activation first).

    The conv has a bias only when no norm follows it (BatchNorm would cancel it).
    """
    padding = (kernel - 1) // 2 if stride == 1 else 1
    conv_cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = conv_cls(in_ch, out_ch, kernel, stride, padding, bias=not norm)
    layers: list[nn.Module] = []
    if act is not None and act_first:
        layers.append(act)
    layers.append(conv)
    if norm:
        layers.append(nn.BatchNorm2d(out_ch))
    if act is not None and not act_first:
        layers.append(act)
    return nn.Sequential(*layers)
