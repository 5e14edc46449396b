"""Colour hints: PSNR of a hint model with N ground-truth hints per image against none.

    python benchmarks/hints.py [--model unet_small_hints_v1] [--hints 10] [--sets kodak24 mcmaster18]

For each evaluation photo, ``--hints`` pixels are drawn uniformly (seeded) and given the
photo's true colour there (mean of the 5x5 patch around it), as a user clicking a point
and picking its colour would; the model colorizes the grey photo with and without them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from streamcolor import Colorizer
from streamcolor.metrics import colourfulness, psnr
from streamcolor.train.datasets import list_images, read_rgb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"


def true_hints(rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[int, int, tuple]]:
    h, w = rgb.shape[:2]
    points = zip(rng.integers(2, h - 2, count), rng.integers(2, w - 2, count))
    return [(int(y), int(x), tuple(rgb[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0))) for y, x in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet_small_hints_v1")
    parser.add_argument("--hints", type=int, default=10)
    parser.add_argument("--sets", nargs="+", default=["kodak24", "mcmaster18"])
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    print(f"model {args.model}, {args.hints} true-colour hints per image")
    print("| set | PSNR no hints | PSNR with hints | gain dB | colourfulness no hints / hints |")
    print("|---|---|---|---|---|")
    for name in args.sets:
        rng = np.random.default_rng(0)
        rows = []
        for path in list_images([str(DATA / name)]):
            rgb = read_rgb(path)
            grey = rgb.mean(-1).astype(np.uint8)
            plain = colorizer.colorize_image(grey)
            hinted = colorizer.colorize_image(grey, hints=true_hints(rgb, args.hints, rng))
            rows.append((psnr(plain, rgb), psnr(hinted, rgb), colourfulness(plain), colourfulness(hinted)))
        a, b, c, d = np.mean(rows, 0)
        print(f"| {name} | {a:.2f} | {b:.2f} | {b - a:+.2f} | {c:.1f} / {d:.1f} |")


if __name__ == "__main__":
    main()
