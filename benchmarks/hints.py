"""Colour hints: PSNR of a hint model with N ground-truth hints per image against none.

    python benchmarks/hints.py [--model HINT_MODEL] [--hints 10] [--sets kodak24 mcmaster18]
                               [--draws 1] [--figure docs/hints.jpg]

For each evaluation photo, ``--hints`` pixels are drawn uniformly (seeded) and given the
photo's true colour there (mean of the 5x5 patch around it), as a user clicking a point
and picking its colour would; the model colorizes the grey photo with and without them.
``--draws N`` repeats the hinted run with N independent draws of the points (seeds 0 ..
N-1; draw 0 is the one a single run uses) and reports their mean and each draw's gain.
``--figure`` writes, for two kodak24 photos: grey with the hints marked | no hints | with
hints | the original.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from streamcolor import Colorizer
from streamcolor.api import HINT_MODEL
from streamcolor.argtypes import whole_number
from streamcolor.images import list_images, read_rgb
from streamcolor.metrics import colourfulness, psnr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"


def true_hints(rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[int, int, tuple]]:
    h, w = rgb.shape[:2]
    points = zip(rng.integers(2, h - 2, count), rng.integers(2, w - 2, count))
    return [(int(y), int(x), tuple(rgb[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0))) for y, x in points]


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--model", default=HINT_MODEL, help="a hint model: shipped name or folder")
    parser.add_argument("--hints", type=whole_number("", 1), default=10, help="hints drawn per photo")
    parser.add_argument("--sets", nargs="+", default=["kodak24", "mcmaster18"], help="folders of ../shared/data/eval")
    parser.add_argument("--draws", type=whole_number("", 1), default=1, help="random draws of hints per photo")
    parser.add_argument("--figure", type=Path, default=None, help="also write a figure here")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    print(f"model {args.model}, {args.hints} true-colour hints per image, {args.draws} draw(s)")
    print("| set | PSNR no hints | PSNR with hints | gain dB | gain per draw | colourfulness no hints / hints |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        photos = [read_rgb(path) for path in list_images([str(DATA / name)])]
        # the photo's luma, the grey input streamcolor.evaluate gives a model
        greys = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) for rgb in photos]
        plain = [colorizer.colorize_image(grey) for grey in greys]
        hinted_psnr, hinted_colour = [], []
        for draw in range(args.draws):
            rng = np.random.default_rng(draw)
            hinted = [colorizer.colorize_image(g, hints=true_hints(rgb, args.hints, rng)) for g, rgb in zip(greys, photos)]
            hinted_psnr.append(np.mean([psnr(h, rgb) for h, rgb in zip(hinted, photos)]))
            hinted_colour.append(np.mean([colourfulness(h) for h in hinted]))
        a = np.mean([psnr(p, rgb) for p, rgb in zip(plain, photos)])
        b, per_draw = np.mean(hinted_psnr), " ".join(f"{x - a:+.2f}" for x in hinted_psnr)
        c, d = np.mean([colourfulness(p) for p in plain]), np.mean(hinted_colour)
        print(f"| {name} | {a:.2f} | {b:.2f} | {b - a:+.2f} | {per_draw} | {c:.1f} / {d:.1f} |")
    if args.figure:
        write_figure(colorizer, args.hints, args.figure)


def write_figure(colorizer: Colorizer, count: int, path: Path) -> None:
    rows = []
    for name in ("kodim05.png", "kodim23.png"):
        rgb = read_rgb(DATA / "kodak24" / name)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        hints = true_hints(rgb, count, np.random.default_rng(1))
        marked = np.repeat(grey[..., None], 3, -1)
        for y, x, colour in hints:
            cv2.circle(marked, (x, y), 9, tuple(int(c) for c in colour), -1)
            cv2.circle(marked, (x, y), 9, (255, 255, 255), 2)
        tiles = [marked, colorizer.colorize_image(grey), colorizer.colorize_image(grey, hints=hints), rgb]
        rows.append(np.concatenate([cv2.resize(t, (384, 256), interpolation=cv2.INTER_AREA) for t in tiles], 1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
