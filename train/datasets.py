"""Image folders as (L, ab) training pairs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from streamcolor.color import normalize_ab, normalize_L, rgb_to_lab
from streamcolor.errors import InputError
from streamcolor.film import film_L
from streamcolor.images import list_images, read_rgb, resize_short_side

log = logging.getLogger("streamcolor")


def read_or_next(files: list[Path], index: int, warned: set[Path]) -> np.ndarray:
    """uint8 RGB of ``files[index]``, or of the next readable file after it: one damaged photo in
    thousands must not stop a run hours in (and a resumed run would stop at it again). Each
    file passed over is warned about once (per process).

    Raises:
        InputError: no file can be read.
    """
    for offset in range(len(files)):
        path = files[(index + offset) % len(files)]
        try:
            return read_rgb(path)
        except InputError as exc:
            if path not in warned:
                warned.add(path)
                log.warning("%s: passed over (%s)", path, exc)
    raise InputError(f"none of the {len(files)} photos can be read")


def to_L_ab(rgb: np.ndarray, L: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB H x W x 3 -> (L (1, H, W), ab (2, H, W)) float32 scaled to [-1, 1].

    ``L`` (float H x W in [0, 100], e.g. :func:`streamcolor.film.film_L`) replaces the
    photo's own Lab L; ab is always the photo's.
    """
    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    L = torch.from_numpy(np.ascontiguousarray(normalize_L(lab[..., 0] if L is None else L)))[None]
    ab = torch.from_numpy(np.ascontiguousarray(normalize_ab(lab[..., 1:]).transpose(2, 0, 1)))
    return L, ab


class ColorizationDataset(Dataset):
    """Photos resized to short side ``scale`` (with ``scale_max``, a short side drawn uniformly
    from ``scale`` .. ``scale_max`` per item); training items are random ``crop`` squares,
    flipped at random and, with ``rotate90``, turned by +-90 degrees half the time; with
    probability ``film`` the input L is the photo as a random old film stock renders it
    (:func:`streamcolor.film.film_L`), the target ab staying the photo's. With ``photo_L``,
    items also carry the photo's own L (``(1, crop, crop)``), for a teacher to colour.

    Indexed by ``(epoch, index)``: randomness comes from ``(seed, epoch, index)``, so a
    resumed run, or one loading with worker processes, sees exactly the same samples.
    Items: ``(L, ab)`` (or ``(L, ab, photo_L)``), float32 ``(1, crop, crop)`` and ``(2, crop, crop)`` in [-1, 1].
    """

    def __init__(self, dirs: tuple[str, ...], scale: int, crop: int, seed: int = 0, rotate90: bool = False,
                 film: float = 0.0, scale_max: int = 0, photo_L: bool = False) -> None:
        self.files = list_images(dirs)
        self.scale, self.crop, self.seed, self.rotate90, self.film = scale, crop, seed, rotate90, film
        self.scale_max, self.photo_L = scale_max, photo_L
        self.unreadable: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        epoch, index = key
        rng = np.random.default_rng((self.seed, epoch, index))
        scale = int(rng.integers(self.scale, self.scale_max + 1)) if self.scale_max else self.scale
        image = resize_short_side(read_or_next(self.files, index, self.unreadable), max(scale, self.crop))
        h, w = image.shape[:2]
        y, x = rng.integers(0, h - self.crop + 1), rng.integers(0, w - self.crop + 1)
        image = image[y : y + self.crop, x : x + self.crop]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if self.rotate90 and rng.random() < 0.5:
            image = np.rot90(image, 1 if rng.random() < 0.5 else -1)
        image = np.ascontiguousarray(image)
        film = film_L(image, rng) if rng.random() < self.film else None
        L, ab = to_L_ab(image, film)
        if not self.photo_L:
            return L, ab
        return L, ab, L if film is None else to_L_ab(image)[0]


class RunSampler(Sampler):
    """Batches of ``(epoch, index)`` keys for steps ``start`` .. ``steps - 1``: each epoch is
    a permutation seeded by ``seed + epoch``, cut into full batches."""

    def __init__(self, size: int, batch_size: int, seed: int, start: int, steps: int) -> None:
        self.size, self.batch_size, self.seed, self.start, self.steps = size, batch_size, seed, start, steps

    @property
    def steps_per_epoch(self) -> int:
        return self.size // self.batch_size

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.steps):
            epoch, pos = divmod(step, self.steps_per_epoch)
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + epoch))
            batch = order[pos * self.batch_size : (pos + 1) * self.batch_size].tolist()
            yield [(epoch, i) for i in batch]
