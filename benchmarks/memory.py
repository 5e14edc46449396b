"""Memory over a long film: peak RSS after the first minute vs over the whole run.

    python benchmarks/memory.py [--minutes 20] [--fps 24] [--backend auto]

Makes a synthetic 854x480 film (a textured pattern panning and zooming, with a scene change
every 20 s, and an AAC tone), colorizes it with the default model through the full
pipeline, samples the process RSS every 0.5 s, and reports the peak RSS while the first
minute of the film was processed and the peak over the whole film. Target (issue 7): the
whole-run peak is no more than 200 MB above the first minute's.
"""

from __future__ import annotations

import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from streamcolor.argtypes import positive_number, whole_number
from streamcolor import Colorizer

WIDTH, HEIGHT = 854, 480


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def make_film(path: Path, minutes: float, fps: int) -> int:
    """Write the synthetic film; returns its frame count."""
    rng = np.random.default_rng(0)
    scenes = [cv2.GaussianBlur((rng.random((HEIGHT * 2, WIDTH * 2)) * 255).astype(np.uint8), (0, 0), s)
              for s in (2, 4, 8)]
    frames = int(minutes * 60 * fps)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        samples_per_frame = 48000 // fps
        for i in range(frames):
            scene = scenes[(i // (20 * fps)) % len(scenes)]
            t = i % (20 * fps)
            x, y = t % WIDTH, (t // 2) % HEIGHT
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(scene[y : y + HEIGHT, x : x + WIDTH]), format="gray")
            frame.pts = i
            out.mux(video.encode(frame.reformat(format="yuv420p")))
            tone = (0.1 * np.sin(2 * np.pi * 440 * (np.arange(samples_per_frame) + i * samples_per_frame) / 48000))
            sound = av.AudioFrame.from_ndarray(np.repeat(tone[None].astype(np.float32), 2, 0), format="fltp",
                                               layout="stereo")
            sound.sample_rate, sound.pts, sound.time_base = 48000, i * samples_per_frame, Fraction(1, 48000)
            out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return frames


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--minutes", type=positive_number("minutes"), default=20.0, help="length of the synthetic film in minutes")
    parser.add_argument("--fps", type=whole_number("frames a second", 1), default=24, help="its frame rate")
    parser.add_argument("--backend", default="auto", help="as colorize --backend")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "film.mp4"
        started = time.perf_counter()
        frames = make_film(src, args.minutes, args.fps)
        print(f"synthetic film: {frames} frames ({args.minutes:g} min at {args.fps} fps, {WIDTH}x{HEIGHT}) "
              f"made in {time.perf_counter() - started:.0f} s")
        colorizer = Colorizer.from_pretrained(backend=args.backend)
        samples: list[tuple[int, float]] = []  # (frames done, RSS MB)
        done = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.5):
                samples.append((done[0], rss_mb()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        report = colorizer.colorize_video(src, Path(tmp) / "colour.mp4",
                                          on_batch=lambda n, _: done.__setitem__(0, n))
        stop.set()
        sampler.join()
        samples.append((report.frames, rss_mb()))  # a run shorter than the sampling period has one
    minute = 60 * args.fps
    first = max((rss for n, rss in samples if n <= minute), default=samples[-1][1])
    peak = max(rss for _, rss in samples)
    print(f"colorized {report.frames} frames in {report.seconds:.0f} s ({report.frames / report.seconds:.1f} fps)")
    print(f"peak RSS, first minute of film: {first:.0f} MB")
    print(f"peak RSS, whole film:           {peak:.0f} MB  (+{peak - first:.0f} MB; target <= +200 MB)")
    tenths = [max((r for n, r in samples if n <= frames * k / 10), default=None) for k in range(1, 11)]
    print("RSS by tenth of the film (MB; - where no sample fell):", " ".join(
        "-" if rss is None else f"{rss:.0f}" for rss in tenths))


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
