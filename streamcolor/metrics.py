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


#: Lab hue angle ranges (degrees, start inclusive, end exclusive; red wraps through 0) of the
#: sectors :func:`hue_counts` scores. sRGB red sits at 40, skin near 55, yellow 100, foliage
#: 110-150, cyan 195, sky 240-290, sRGB blue 306, magenta 328.
HUE_SECTORS: dict[str, tuple[float, float]] = {
    "red": (345, 50), "orange_yellow": (50, 110), "green": (110, 170),
    "cyan": (170, 235), "blue": (235, 300), "purple": (300, 345),
}


def _lab(rgb: np.ndarray) -> np.ndarray:
    from streamcolor.color import rgb_to_lab

    return rgb_to_lab(rgb.astype(np.float32) / 255)


def hue_counts(image: np.ndarray, reference: np.ndarray, min_chroma: float = 20.0, min_predicted_chroma: float = 10.0,
               tolerance: float = 30.0) -> np.ndarray:
    """Per hue sector of the reference's clearly coloured pixels, how many the image gets right.

    A reference pixel counts when its Lab chroma is >= ``min_chroma``; it is right when the
    image's chroma there is >= ``min_predicted_chroma`` and its hue is within ``tolerance``
    degrees of the reference's. Pool the counts of a set of images, then :func:`hue_accuracy`.

    Args:
        image, reference: uint8 RGB ``(H, W, 3)`` of equal shape.

    Returns:
        int64 ``(len(HUE_SECTORS), 2)``: per sector (in :data:`HUE_SECTORS` order), pixels right
        and pixels counted.

    Raises:
        ValueError: the shapes differ.
    """
    if image.shape != reference.shape:
        raise ValueError(f"hue_counts: shapes differ, {image.shape} vs {reference.shape}")
    ab, ab_ref = _lab(image)[..., 1:], _lab(reference)[..., 1:]
    chroma_ref = np.hypot(ab_ref[..., 0], ab_ref[..., 1])
    hue, hue_ref = (np.degrees(np.arctan2(x[..., 1], x[..., 0])) % 360 for x in (ab, ab_ref))
    difference = np.abs((hue - hue_ref + 180) % 360 - 180)
    right = (np.hypot(ab[..., 0], ab[..., 1]) >= min_predicted_chroma) & (difference <= tolerance)
    counts = np.zeros((len(HUE_SECTORS), 2), np.int64)
    for i, (start, end) in enumerate(HUE_SECTORS.values()):
        in_sector = (hue_ref >= start) & (hue_ref < end) if start < end else (hue_ref >= start) | (hue_ref < end)
        counted = in_sector & (chroma_ref >= min_chroma)
        counts[i] = (right & counted).sum(), counted.sum()
    return counts


def hue_accuracy(counts: np.ndarray, min_share: float = 0.01) -> dict[str, float]:
    """Share right per hue sector from pooled :func:`hue_counts`, and ``mean``: their mean over the
    sectors present (holding at least ``min_share`` of the counted pixels). A sector with no
    pixel is NaN. Values in [0, 1]."""
    right, total = counts[:, 0].astype(float), counts[:, 1].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = right / total
    present = total >= min_share * max(total.sum(), 1)
    out = dict(zip(HUE_SECTORS, share.tolist()))
    out["mean"] = float(share[present].mean()) if present.any() else float("nan")
    return out


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity of two uint8 RGB images (skimage, per channel, averaged)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(image, reference, channel_axis=-1, data_range=255))


def _histograms(rgb: np.ndarray, bins: int = 64) -> np.ndarray:
    """Per-channel normalised histograms, ``(3, bins)``."""
    hist = np.stack([np.bincount(rgb[..., c].ravel() // (256 // bins), minlength=bins) for c in range(3)]).astype(float)
    return hist / hist.sum(1, keepdims=True)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two distributions (scipy)."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q, base=2) ** 2)


class FlickerMeter:
    """Streaming flicker metrics over a video's frames (bounded memory: 4 frames of history).

    Per frame ``t`` it records: ``cdc`` at each distance d (mean over R, G, B of the JS
    divergence between the histograms of frames t - d and t; Lei & Chen 2019), ``warp``
    (mean ab difference, Lab units, between frame t and frame t - 1 warped onto it by DIS
    optical flow on luma, over pixels whose forward-backward flow agrees within 1 px, so
    occlusions are excluded) and ``colourfulness``; with a reference, ``psnr`` and ``ssim``.
    """

    def __init__(self, distances: tuple[int, ...] = (1, 2, 4)) -> None:
        from streamcolor.temporal.flow import Flow

        self.distances = distances
        self.flow = Flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.history: list[np.ndarray] = []
        self.previous_lab: np.ndarray | None = None
        self.series: dict[str, list[float]] = {f"cdc{d}": [] for d in distances}
        self.series.update(warp=[], colourfulness=[], psnr=[], ssim=[])

    def push(self, rgb: np.ndarray, reference: np.ndarray | None = None) -> None:
        """Add the next uint8 RGB frame (and the matching reference frame, if any)."""
        from streamcolor.color import rgb_to_lab

        hist = _histograms(rgb)
        for d in self.distances:
            if len(self.history) >= d:
                old = self.history[-d]
                self.series[f"cdc{d}"].append(float(np.mean([js_divergence(old[c], hist[c]) for c in range(3)])))
        self.history = (self.history + [hist])[-max(self.distances):]
        lab = rgb_to_lab(rgb.astype(np.float32) / 255)
        if self.previous_lab is not None:
            self.series["warp"].append(self._warp_error(self.previous_lab, lab))
        self.previous_lab = lab
        self.series["colourfulness"].append(colourfulness(rgb))
        if reference is not None:
            self.series["psnr"].append(psnr(rgb, reference))
            self.series["ssim"].append(ssim(rgb, reference))

    def _warp_error(self, prev: np.ndarray, cur: np.ndarray) -> float:
        from streamcolor.temporal.flow import consistency, warp

        backward = self.flow(cur[..., 0], prev[..., 0])  # cur[y, x] ≈ prev[y + v, x + u]
        forward = self.flow(prev[..., 0], cur[..., 0])
        visible = consistency(backward, forward) < 1.0
        diff = np.linalg.norm(cur[..., 1:] - warp(np.ascontiguousarray(prev[..., 1:]), backward), axis=-1)
        return float(diff[visible].mean()) if visible.any() else 0.0

    def summary(self) -> dict[str, float]:
        """Means: ``cdc`` (over the distances), ``cdc1``.., ``warp_error``, ``colourfulness``,
        and ``psnr``/``ssim`` when a reference was given. The change between frames is left
        out where there was none to measure (a single frame): 0 would say the colour is steady."""
        means = {k: float(np.mean(v)) for k, v in self.series.items() if v}
        cdc = [means[f"cdc{d}"] for d in self.distances if f"cdc{d}" in means]
        out = {"cdc": float(np.mean(cdc))} if cdc else {}
        out.update({k: v for k, v in means.items() if k.startswith("cdc")})
        if "warp" in means:
            out["warp_error"] = means["warp"]
        out.update({k: means[k] for k in ("colourfulness", "psnr", "ssim") if k in means})
        return out


def flicker(frames: list[np.ndarray], references: list[np.ndarray] | None = None) -> dict[str, float]:
    """:class:`FlickerMeter` summary of a list of uint8 RGB frames."""
    meter = FlickerMeter()
    for i, frame in enumerate(frames):
        meter.push(frame, references[i] if references is not None else None)
    return meter.summary()
