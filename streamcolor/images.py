"""Image files: listing folders of photos, reading them as RGB, resizing by the short side.

Shared by the CLI's ``eval``, the API's reference loading, the benchmarks and training; numpy
and OpenCV only (no torch).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from streamcolor.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def list_images(dirs: tuple[str, ...] | list[str]) -> list[Path]:
    """Sorted image files (by :data:`IMAGE_SUFFIXES`) in ``dirs`` (not recursive).

    Raises:
        InputError: a folder is missing or holds no image.
    """
    files: list[Path] = []
    for d in dirs:
        if not Path(d).is_dir():
            raise InputError(f"{d!r} is not a folder" if Path(d).exists() else f"folder {d!r} does not exist")
        found = sorted(p for p in Path(d).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise InputError(f"no images in {d!r}: give folders of .jpg/.png photos")
        files += found
    return files


def read_rgb(path: Path | str) -> np.ndarray:
    """Read an image file as uint8 ``(H, W, 3)`` RGB (alpha dropped, grey made RGB).

    Raises:
        InputError: the file is not a readable image.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read image {str(path)!r}: is it a PNG/JPEG file?")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def has_transparency(path: Path | str) -> bool:
    """The image file has pixels that are not opaque (which :func:`read_rgb` shows as opaque)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        return False
    return bool((image[..., 3] < np.iinfo(image.dtype).max).any())


def resize_short_side(image: np.ndarray, short: int) -> np.ndarray:
    """Resize an ``(H, W)`` or ``(H, W, C)`` image so its short side is ``short`` pixels, aspect
    kept (area filter when shrinking); the same array when it already is; dtype kept."""
    h, w = image.shape[:2]
    s = short / min(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
