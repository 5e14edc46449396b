"""Reference frames: PSNR gained by giving the true colour of a shot's first frame.

    python benchmarks/reference.py [--clip six_shots.mp4] [--figure docs/reference.jpg]

The colour clip is made grey and colorized three ways: no references; the true colour of
the first frame of every shot as reference; references on every other shot only. Reported
per shot: mean PSNR (dB) against the colour original, and the fps of each run (the cost of
propagation). Shots are the known cuts of six_shots.mp4 (0, 48, 96, 144, 192, 240).
``--figure`` writes, for the middle frame of each shot: grey | no reference | reference on
the shot's first frame | the colour original.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from streamcolor import Colorizer
from streamcolor.media import read_rgb_frames
from streamcolor.metrics import psnr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "color"
SHOTS = [0, 48, 96, 144, 192, 240]


def run(colorizer: Colorizer, grey: list[np.ndarray], references: dict[int, np.ndarray]) -> tuple[list, float]:
    started = time.perf_counter()
    out = list(colorizer.colorize_frames(grey, references=references))
    return out, len(out) / (time.perf_counter() - started)


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--clip", default="six_shots.mp4",
                        help="a clip in ../shared/data/video/color; only six_shots.mp4's shots are known, any "
                             "other is taken as one shot")
    parser.add_argument("--figure", type=Path, default=None, help="also write a figure here")
    args = parser.parse_args()
    originals = list(read_rgb_frames(DATA / args.clip))
    grey = [f.mean(-1).astype(np.uint8) for f in originals]
    colorizer = Colorizer.from_pretrained(backend="auto")
    shots = SHOTS if args.clip == "six_shots.mp4" else [0]
    bounds = [*shots, len(originals)]
    runs = {"none": {}, "every shot": {s: originals[s] for s in shots},
            "every other shot": {s: originals[s] for s in shots[::2]}}
    print(f"{args.clip}: {len(originals)} frames; PSNR (dB) per shot against the colour original")
    print("| references | " + " | ".join(f"shot {i + 1}" for i in range(len(shots))) + " | all frames | fps |")
    print("|---|" + "---|" * (len(shots) + 2))
    outputs = {}
    for name, references in runs.items():
        out, fps = run(colorizer, grey, references)
        outputs[name] = out
        scores = [psnr(o, t) for o, t in zip(out, originals)]
        shots = [np.mean(scores[a:b]) for a, b in zip(bounds, bounds[1:])]
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in shots) + f" | {np.mean(scores):.2f} | {fps:.1f} |")
    if args.figure:
        middles = [(a + b) // 2 for a, b in zip(bounds, bounds[1:])]
        rows = [[np.repeat(grey[i][..., None], 3, -1) for i in middles], [outputs["none"][i] for i in middles],
                [outputs["every shot"][i] for i in middles], [originals[i] for i in middles]]
        grid = np.concatenate([np.concatenate([cv2.resize(f, (284, 160), interpolation=cv2.INTER_AREA) for f in row], 1)
                               for row in rows], 0)
        cv2.imwrite(str(args.figure), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
