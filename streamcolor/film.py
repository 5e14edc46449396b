"""Simulated black-and-white film: how an old stock would have rendered a colour scene as grey.

Photos made grey by Lab L are not film. Early emulsions saw colour through their own spectral
sensitivity (Luo et al. 2021, "Time-Travel Rephotography", model the same stocks):

- blue-sensitive (to the 1920s): blue skies white, reds and greens dark;
- orthochromatic (1880s-1930s): blind to red, so red lips and faces come out dark;
- panchromatic (from the 1920s-30s): close to the eye, a little more red, less blue;
- luminance: the eye's own weights (Rec. 709), for a modern stock or a colour film printed or
  scanned as grey, which still has the tone curve, softness and grain below.

:func:`film_L` renders a photo through one of them (drawn with equal chances when none is
named, so a quarter of the renderings have the eye's weights; weights jittered), then applies a tone
curve (gamma, contrast), softness (Gaussian blur) and grain (noise in L): training on it
teaches the colorizer film's greys; measuring on it tells how much of a photo score survives.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamcolor.color import luminance_to_L, srgb_to_linear

#: Relative R, G, B sensitivity of each stock (summing to 1, so white stays white).
STOCKS: dict[str, tuple[float, float, float]] = {
    "blue_sensitive": (0.02, 0.18, 0.80),
    "orthochromatic": (0.03, 0.52, 0.45),
    "panchromatic": (0.30, 0.58, 0.12),
    "luminance": (0.2126, 0.7152, 0.0722),
}


def film_L(rgb: np.ndarray, rng: np.random.Generator, stock: str | None = None) -> np.ndarray:
    """Render a photo as a random film stock would have: its L.

    Args:
        rgb: uint8 ``(H, W, 3)`` sRGB.
        rng: the randomness (stock when not given, weight jitter, tone, blur, grain).
        stock: a key of :data:`STOCKS`, or None to draw one.

    Returns:
        float32 ``(H, W)`` L in [0, 100], the size of ``rgb``.

    Raises:
        KeyError: an unknown ``stock``.
    """
    name = stock if stock is not None else rng.choice(list(STOCKS))
    weights = np.asarray(STOCKS[name]) * np.exp(rng.normal(0, 0.15, 3))
    weights /= weights.sum()
    Y = srgb_to_linear(rgb.astype(np.float32) / 255) @ weights.astype(np.float32)
    L = luminance_to_L(Y) / 100
    L = L ** np.float32(np.exp(rng.normal(0, 0.12)))  # exposure / development
    L = (L - 0.5) * np.float32(rng.uniform(0.85, 1.3)) + 0.5  # contrast
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        L = cv2.GaussianBlur(L, (0, 0), sigma)
    L = L + rng.normal(0, rng.uniform(0, 0.035), L.shape).astype(np.float32)  # grain
    return np.clip(L * 100, 0, 100).astype(np.float32)
