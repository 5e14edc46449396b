"""Colorization as classification over quantised ab (Zhang, Isola & Efros 2016, "Colorful
Image Colorization"; cited by reports 000, 001 and 004).

- ab space is cut into 10x10 bins; Zhang kept the 313 bins seen in ImageNet. Here the bins
  are those whose cell meets the sRGB gamut at some L in [0, 100] (:func:`ab_bins`: 258).
- Targets are soft-encoded over the 5 nearest bins (Gaussian, sigma 5).
- Rare colours are boosted by class rebalancing: ``w ∝ 1 / ((1 - λ) p̃ + λ / Q)`` with p̃ the
  training-set prior smoothed by a Gaussian (sigma 5), λ = 0.5, normalised so E_p[w] = 1.
- Decoding is the annealed mean at temperature T = 0.38: vivid where the model is sure,
  restrained where it hesitates.

:class:`ZhangColorizer` keeps the generator interface (``forward(L) -> ab`` in [-1, 1]) and
adds :meth:`ZhangColorizer.logits` for training; prior and weights are buffers, saved with it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from streamcolor.color import AB_SCALE, lab_to_linear_rgb
from streamcolor.errors import is_finite_number
from streamcolor.models.blocks import conv_norm_act
from streamcolor.models.registry import register_model

GRID = 10.0


@lru_cache(maxsize=1)
def _in_gamut_bins() -> np.ndarray:
    centres = np.arange(-110, 111, GRID)
    a, b = np.meshgrid(centres, centres, indexing="ij")
    ok = np.zeros(a.shape, bool)
    offsets = np.linspace(-GRID / 2, GRID / 2, 5)
    L = np.arange(0, 101, 2.0)[:, None, None]
    for da in offsets:
        for db in offsets:
            lab = np.stack(np.broadcast_arrays(L, a + da, b + db), -1)
            ok |= ((lab_to_linear_rgb(lab) >= 0) & (lab_to_linear_rgb(lab) <= 1)).all(-1).any(0)
    return np.stack([a[ok], b[ok]], -1).astype(np.float32)


def ab_bins() -> torch.Tensor:
    """Bin centres, float32 ``(Q, 2)`` in Lab units (Q = 258)."""
    return torch.from_numpy(_in_gamut_bins().copy())


def _sq_distances(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``(N, 2, H, W)`` ab and ``(Q, 2)`` centres -> ``(N, Q, H, W)`` squared distances."""
    return ((ab[:, None] - centres[None, :, :, None, None]) ** 2).sum(2)


def soft_encode(ab: torch.Tensor, centres: torch.Tensor, k: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """ab ``(N, 2, H, W)`` (Lab units) -> target distribution ``(N, Q, H, W)`` over the
    ``k`` nearest bins, Gaussian-weighted (sigma in Lab units), summing to 1."""
    d2 = _sq_distances(ab, centres)
    near, idx = d2.topk(k, dim=1, largest=False)
    weights = torch.softmax(-near / (2 * sigma**2), dim=1)
    return torch.zeros_like(d2).scatter_(1, idx, weights)


def hard_encode(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest bin, int64 ``(N, H, W)``."""
    return _sq_distances(ab, centres).argmin(1)


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
    """Logits ``(N, Q, H, W)`` -> ab ``(N, 2, H, W)`` in Lab units: the mean of the
    distribution re-normalised at ``temperature`` (1 = mean, -> 0 = mode)."""
    probs = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", probs, centres)


def rebalancing_weights(prior: torch.Tensor, centres: torch.Tensor, lam: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
    """Per-bin loss weights from the empirical prior ``(Q,)`` (see module docstring)."""
    kernel = torch.exp(-torch.cdist(centres, centres) ** 2 / (2 * sigma**2))
    smoothed = kernel @ prior
    smoothed = smoothed / smoothed.sum()
    w = 1.0 / ((1 - lam) * smoothed + lam / len(prior))
    return w / (w * smoothed).sum()


class BinClassifier(nn.Module):
    """Base of the classification colorizers: subclasses give :meth:`logits` ``(N, Q, h, w)`` at
    a fraction of the input size; the buffers hold the bins, the training prior and the
    rebalancing weights (saved with the model); ``forward`` decodes by annealed mean and
    upsamples to the input size."""

    def _register_bins(self, temperature: float, lam: float) -> None:
        """Called by subclasses from their ``__init__``, after ``nn.Module.__init__``.

        Raises:
            ValueError: ``temperature`` not above 0, or ``lam`` outside [0, 1].
        """
        if not (is_finite_number(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a number above 0, got {temperature!r}")
        if not (is_finite_number(lam) and 0 <= lam <= 1):
            raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
        centres = ab_bins()
        self.register_buffer("centres", centres)
        self.register_buffer("prior", torch.full((len(centres),), 1.0 / len(centres)))
        self.register_buffer("class_weights", torch.ones(len(centres)))
        self.temperature, self.lam = temperature, lam

    def set_prior(self, prior: torch.Tensor) -> None:
        """Store the empirical bin frequencies ``(Q,)`` and the rebalancing weights from them."""
        prior = prior.to(self.prior) / prior.sum()
        self.prior.copy_(prior)
        self.class_weights.copy_(rebalancing_weights(prior, self.centres, self.lam))

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        ab = annealed_mean(self.logits(L), self.centres, self.temperature) / AB_SCALE
        return F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False).clamp(-1, 1)


class ZhangColorizer(BinClassifier):
    """Compact Zhang-style network: conv blocks down to 1/4 size, dilated convs for
    context, 1x1 conv to Q logits at 1/4 size; ab by annealed mean, upsampled x4.

    Input ``(N, 1, H, W)`` L in [-1, 1] (H, W multiples of 4); output ``(N, 2, H, W)``
    ab in [-1, 1]. Call :meth:`set_prior` with the training-set bin frequencies before
    training with the rebalanced loss.
    """

    def __init__(self, width: int = 64, temperature: float = 0.38, lam: float = 0.5) -> None:
        super().__init__()
        self._register_bins(temperature, lam)

        def block(i: int, o: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
            return list(conv_norm_act(i, o, kernel=3, stride=stride, dilation=dilation, act=nn.ReLU(inplace=True),
                                      act_first=False))

        w = width
        self.body = nn.Sequential(
            *block(1, w), *block(w, w * 2, 2), *block(w * 2, w * 2), *block(w * 2, w * 4, 2),
            *block(w * 4, w * 4), *block(w * 4, w * 4, dilation=2), *block(w * 4, w * 4, dilation=4),
            *block(w * 4, w * 4, dilation=2), *block(w * 4, w * 4),
        )
        self.classifier = nn.Conv2d(w * 4, len(self.centres), 1)
        self.multiple = 4
        self.model_args = dict(width=width, temperature=temperature, lam=lam)

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """``(N, Q, H/4, W/4)`` bin logits."""
        return self.classifier(self.body(L))


@register_model
def zhang_classification(**kwargs) -> ZhangColorizer:
    """Zhang et al. 2016 classification colorizer, compact (3.5 M params)."""
    return ZhangColorizer(**kwargs)
