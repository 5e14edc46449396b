"""Scores of a colorizer on colour photos: PSNR, SSIM, CIEDE2000, colourfulness and hue accuracy,
against the grey, sepia and tint baselines (the CLI's ``eval``, the benchmarks). Written in
numpy and OpenCV, with no model of its own: it scores any ``uint8 grey -> uint8 RGB`` function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from streamcolor.color import lab_to_rgb, rgb_to_lab
from streamcolor.errors import InputError
from streamcolor.film import STOCKS, film_L
from streamcolor.images import read_rgb
from streamcolor.metrics import HUE_SECTORS, ciede2000, colourfulness, hue_accuracy, hue_counts, psnr, ssim

log = logging.getLogger(__name__)

#: A constant sepia tint (Lab a, b): what a colorizer that regresses to the mean paints.
SEPIA_AB = np.array([6.0, 20.0])
#: pixels: SSIM's window (skimage's default, 7 x 7) must fit in a photo
MIN_SIDE = 7
#: uint8 levels: a photo whose channels never differ by more has no colour to score (the grey
#: baseline would match it exactly: an infinite PSNR in the mean)
GREY_SPREAD = 2


@dataclass(frozen=True)
class Scores:
    """Over a set of images: mean PSNR (dB) and SSIM on RGB, CIEDE2000, colourfulness, and the
    hue accuracy of the pooled pixels (:func:`streamcolor.metrics.hue_accuracy`: per sector and
    ``mean``, in [0, 1])."""

    psnr: float
    ssim: float
    ciede2000: float
    colourfulness: float
    hue: dict[str, float]


def replace_ab(rgb: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """uint8 RGB with its Lab L kept and ab set to ``ab`` (Lab units: a constant, or H x W x 2)."""
    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    lab[..., 1:] = ab
    return (lab_to_rgb(lab) * 255 + 0.5).astype(np.uint8)


def L_to_grey(L: np.ndarray) -> np.ndarray:
    """float L in [0, 100] ``(H, W)`` -> the uint8 sRGB grey of that lightness."""
    lab = np.stack([L, np.zeros_like(L), np.zeros_like(L)], -1)
    return (lab_to_rgb(lab)[..., 0] * 255 + 0.5).astype(np.uint8)


def photo_to_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` -> uint8 ``(H, W)`` grey of the photo's own Lab L: the input the
    colorizer is scored on (not the BT.601 luma, which renders saturated colours darker)."""
    return L_to_grey(rgb_to_lab(rgb.astype(np.float32) / 255)[..., 0])


def _grey_input(rgb: np.ndarray, film_seed: int | None, stock: str | None = None) -> np.ndarray:
    if film_seed is None:
        return photo_to_grey(rgb)
    return L_to_grey(film_L(rgb, np.random.default_rng(film_seed), stock))


def unique_labels(paths: list[str]) -> list[str]:
    """Each path's label in a table: its last name, or the path as given where two last names
    are the same (``a/photos`` and ``b/photos``; every training run saves its model as ``final``)."""
    names = [Path(p).name for p in paths]
    return [name if names.count(name) == 1 else p for p, name in zip(paths, names)]


def evaluate_images(colorize: Callable[[np.ndarray], np.ndarray], files: list[Path], tint: np.ndarray | None = None,
                    save_dir: Path | None = None, film: bool | str = False,
                    save_prefix: str | None = None) -> dict[str, Scores]:
    """Score ``colorize`` (uint8 grey H x W -> uint8 RGB H x W x 3) on colour photos.

    The grey input is the photo's Lab L, or with ``film`` the photo as a random old film stock
    renders it (:func:`streamcolor.film.film_L`, seeded by the image's index, so every run
    and every model sees the same renderings). Either way the output's ab is scored on the photo's
    own L, the field's protocol (e.g. Zhang et al. 2016), so that only the colour is measured and
    a model that adds none scores as the grey baseline. ``film`` may also name one stock (a key of
    :data:`streamcolor.film.STOCKS`), used for every photo. Baselines: ``grey`` (ab = 0, L kept), ``sepia``
    (the constant :data:`SEPIA_AB`) and, when
    ``tint`` (ab, Lab units) is given, a constant ``tint``. With ``save_dir``, writes a
    grey | model | truth JPEG per image, named ``{save_prefix}_{photo's stem}.jpg`` (by default
    the prefix is the photo's folder's name).

    Photos smaller than :data:`MIN_SIDE` or without colour (:data:`GREY_SPREAD`) are skipped
    with a warning.

    Raises:
        InputError: an unknown stock, or no photo that can be scored.
    """
    stock = film if isinstance(film, str) else None
    if stock is not None and stock not in STOCKS:
        raise InputError(f"unknown film stock {stock!r}; one of {', '.join(STOCKS)}")
    rows: dict[str, list[tuple[float, ...]]] = {"model": [], "grey": [], "sepia": []}
    if tint is not None:
        rows["tint"] = []
    hues = {key: np.zeros((len(HUE_SECTORS), 2), np.int64) for key in rows}
    for index, path in enumerate(files):
        rgb = read_rgb(path)
        if (reason := _unscorable(rgb)) is not None:
            log.warning("%s: skipped, %s", path, reason)
            continue
        grey = _grey_input(rgb, index if film else None, stock)
        model = replace_ab(rgb, rgb_to_lab(colorize(grey).astype(np.float32) / 255)[..., 1:])
        outputs = {"model": model, "grey": replace_ab(rgb, np.zeros(2)), "sepia": replace_ab(rgb, SEPIA_AB)}
        if tint is not None:
            outputs["tint"] = replace_ab(rgb, tint)
        for key, out in outputs.items():
            rows[key].append((psnr(out, rgb), ssim(out, rgb), ciede2000(out, rgb), colourfulness(out)))
            hues[key] += hue_counts(out, rgb)
        if save_dir is not None:
            strip = np.concatenate([np.repeat(grey[..., None], 3, 2), outputs["model"], rgb], 1)
            name = f"{save_prefix or path.parent.name}_{path.stem}.jpg"
            cv2.imwrite(str(save_dir / name), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    if not rows["model"]:
        raise InputError(f"no photo of the {len(files)} given can be scored "
                         f"(each is grey or under {MIN_SIDE} pixels a side)")
    return {k: Scores(*np.mean(v, 0).tolist(), hue=hue_accuracy(hues[k])) for k, v in rows.items()}


def _unscorable(rgb: np.ndarray) -> str | None:
    """Why a photo cannot be scored, or None."""
    if min(rgb.shape[:2]) < MIN_SIDE:
        return f"{rgb.shape[1]}x{rgb.shape[0]} is under SSIM's {MIN_SIDE}x{MIN_SIDE} window"
    if (rgb.max(-1).astype(np.int16) - rgb.min(-1)).max() <= GREY_SPREAD:
        return "it is grey: there is no colour to score"
    return None


def mean_ab(files: list[Path]) -> np.ndarray:
    """Mean ab (Lab units) of the photos: the constant 'tint' baseline ("safe sepia")."""
    return np.mean([rgb_to_lab(read_rgb(p).astype(np.float32) / 255)[..., 1:].reshape(-1, 2).mean(0) for p in files], 0)


def markdown_table(results: dict[str, dict[str, Scores]]) -> str:
    """``{set name: {method: Scores}}`` -> a markdown table (hue accuracy per sector; "-" where
    the set has no clearly coloured pixel of that hue)."""
    sectors = " | ".join(HUE_SECTORS)
    lines = [f"| set | method | PSNR dB | SSIM | CIEDE2000 | colourfulness | hue mean | {sectors} |",
             "|---|---|---|---|---|---|---|" + "---|" * len(HUE_SECTORS)]
    for name, methods in results.items():
        for method, s in methods.items():
            hue = " | ".join("-" if np.isnan(s.hue[k]) else f"{s.hue[k]:.2f}" for k in ("mean", *HUE_SECTORS))
            lines.append(f"| {name} | {method} | {s.psnr:.2f} | {s.ssim:.3f} | {s.ciede2000:.2f} | {s.colourfulness:.1f} | {hue} |")
    return "\n".join(lines)
