"""Temporal consistency: per-frame colour vs moving average vs motion-aware smoothing.

    python benchmarks/temporal.py [--clips six_shots.mp4 big_buck_bunny_480p_30s.mp4] [--frames N]
                                  [--infer-every 1 3]

Each colour clip is made grey (its own luma), colorized with the default model with smoothing
off / ema / motion (the last once per ``--infer-every`` k: the generator on every k-th frame
of a shot, the flow carrying colour between) and scored against the colour original: warp error and CDC
(lower = steadier; measured at short side 240), PSNR (dB), fps of the engine at the clip's size, and, on the first
frame after each detected cut, whether the smoothed output equals the per-frame output.
Cut detection precision/recall is reported against the known cuts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from streamcolor.argtypes import whole_number
from streamcolor import Colorizer
from streamcolor.engine import EngineSettings
from streamcolor.images import resize_short_side
from streamcolor.media import read_rgb_frames
from streamcolor.metrics import flicker
from streamcolor.temporal import CutDetector

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "color"
KNOWN_CUTS = {"six_shots.mp4": [48, 96, 144, 192, 240], "big_buck_bunny_480p_30s.mp4": [283, 376, 551]}


def detect(frames: list[np.ndarray]) -> list[int]:
    from streamcolor.api import image_to_L

    detector = CutDetector()
    cuts = [i for i, f in enumerate(frames) if detector.push(resize_short_side(image_to_L(f), 150))]
    return cuts[1:]  # frame 0 always starts a shot


def precision_recall(found: list[int], truth: list[int], tolerance: int = 1) -> tuple[float, float]:
    hits = sum(any(abs(f - t) <= tolerance for t in truth) for f in found)
    recalled = sum(any(abs(f - t) <= tolerance for f in found) for t in truth)
    # nothing to find and nothing found is perfect, not 0
    return hits / len(found) if found else 1.0, recalled / len(truth) if truth else 1.0


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--clips", nargs="+", default=list(KNOWN_CUTS), help="clips in ../shared/data/video/color, or paths")
    parser.add_argument("--frames", type=whole_number("", 0), default=0, help="use only the first N frames (0 = all)")
    parser.add_argument("--infer-every", type=whole_number("", 1), nargs="+", default=sorted({1, EngineSettings.infer_every}),
                        help="colorize once per value (see EngineSettings.infer_every)")
    args = parser.parse_args()
    for clip in args.clips:
        originals = list(read_rgb_frames(DATA / clip))
        if args.frames:
            originals = originals[: args.frames]
        grey = [f.mean(-1).astype(np.uint8) for f in originals]  # stand-in B&W film (luma-like)
        cuts = detect(originals)
        p, r = precision_recall(cuts, [c for c in KNOWN_CUTS.get(clip, []) if c < len(originals)])
        print(f"\n{clip}: {len(originals)} frames {originals[0].shape[1]}x{originals[0].shape[0]}; "
              f"cuts found {cuts} (precision {p:.2f}, recall {r:.2f})")
        print("| smoothing | warp error | CDC | PSNR dB | engine fps | first frame after cuts = per-frame (to 1 code) |")
        print("|---|---|---|---|---|---|")
        per_frame = None
        for method, every in [("off", 1), ("ema", 1)] + [("motion", k) for k in args.infer_every]:
            colorizer = Colorizer.from_pretrained(device="cpu", smoothing=method, infer_every=every)
            started = time.perf_counter()
            out = list(colorizer.colorize_frames(grey))
            fps = len(out) / (time.perf_counter() - started)
            scores = flicker([resize_short_side(f, 240) for f in out], [resize_short_side(f, 240) for f in originals])
            per_frame = out if method == "off" else per_frame
            same = all(np.abs(out[c].astype(int) - per_frame[c]).max() <= 1 for c in [0, *cuts])
            name = method if every == 1 else f"{method}, infer every {every}"
            print(f"| {name} | {scores['warp_error']:.3f} | {scores['cdc']:.5f} | {scores['psnr']:.2f} | "
                  f"{fps:.1f} | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
