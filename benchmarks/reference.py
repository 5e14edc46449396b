"""Reference frames: PSNR gained by giving the true colour of a shot's first frame.

    python benchmarks/reference.py [--clip six_shots.mp4]

The colour clip is made grey and colorized three ways: no references; the true colour of
the first frame of every shot as reference; references on every other shot only. Reported
per shot: mean PSNR (dB) against the colour original, and the fps of each run (the cost of
propagation). Shots are the known cuts of six_shots.mp4 (0, 48, 96, 144, 192, 240).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="six_shots.mp4")
    args = parser.parse_args()
    originals = list(read_rgb_frames(DATA / args.clip))
    grey = [f.mean(-1).astype(np.uint8) for f in originals]
    colorizer = Colorizer.from_pretrained(backend="auto")
    bounds = [*SHOTS, len(originals)]
    runs = {"none": {}, "every shot": {s: originals[s] for s in SHOTS},
            "every other shot": {s: originals[s] for s in SHOTS[::2]}}
    print(f"{args.clip}: {len(originals)} frames; PSNR (dB) per shot against the colour original")
    print("| references | " + " | ".join(f"shot {i + 1}" for i in range(len(SHOTS))) + " | all frames | fps |")
    print("|---|" + "---|" * (len(SHOTS) + 2))
    for name, references in runs.items():
        out, fps = run(colorizer, grey, references)
        scores = [psnr(o, t) for o, t in zip(out, originals)]
        shots = [np.mean(scores[a:b]) for a, b in zip(bounds, bounds[1:])]
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in shots) + f" | {np.mean(scores):.2f} | {fps:.1f} |")


if __name__ == "__main__":
    main()
