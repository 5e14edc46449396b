"""Image quality metrics (library implementations where one exists)."""

from __future__ import annotations

import cv2
import numpy as np


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 images of equal shape (peak 255)."""
    if image.shape != reference.shape:
        raise ValueError(f"psnr: shapes differ, {image.shape} vs {reference.shape}")
    return float(cv2.PSNR(image, reference))


def ciede2000(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference of two uint8 RGB images (skimage's implementation)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(np.mean(deltaE_ciede2000(rgb2lab(image), rgb2lab(reference))))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of a uint8 RGB image (0 = grey; ~40 for vivid photos)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
