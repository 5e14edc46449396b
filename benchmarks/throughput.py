"""Throughput of the pipeline beside a plain transcode with the same encoder settings.

    python benchmarks/throughput.py FILE [--backends auto torch-cpu] [--model NAME]
                                         [--batch-size N] [--crf N] [--preset P] [--infer-every K ...]
                                         [--rounds N]

In one run: fps of decode only, of decode + encode (plain transcode through the pipeline's
own writer: same x264 options and threading, audio copied), of colorize (the full
pipeline, audio copied) per backend with its busiest stages, the ratio colorize /
transcode, and peak RSS (of the whole process). Beside each fps, the process's CPU time a
frame (user + system, all threads).

``--rounds N`` repeats the transcode and the colorize runs N times, interleaved, and gives
each round's ratio and the median: on a machine whose speed drifts between runs, a
colorize run is divided by the transcode run just before it.
"""

from __future__ import annotations

import itertools
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

import av

from streamcolor.argtypes import whole_number
from streamcolor import Colorizer
from streamcolor.engine import EngineSettings
from streamcolor.media import EncodeSettings, VideoReader, VideoWriter, check_input

T = TypeVar("T")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], T]) -> tuple[T, float, float]:
    """``run()``'s result, wall seconds and process CPU seconds."""
    started, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return result, time.perf_counter() - started, cpu_seconds() - cpu


def decode_only(path: Path) -> int:
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        return sum(1 for _ in c.decode(video=0))


def transcode(path: Path, dst: Path, crf: int, preset: str) -> int:
    """Decode and re-encode with the pipeline's own writer (same encoder, options and threading;
    audio copied), the baseline the colorize runs are divided by."""
    with VideoReader(path) as probe:  # opened, not started: the stream facts the writer copies
        info = probe.info
    frames = 0
    with av.open(str(path)) as src:
        video = src.streams.video[0]
        video.thread_type = "AUTO"  # as the pipeline's reader
        with VideoWriter(dst, info, list(src.streams.audio), encode=EncodeSettings("h264", crf, preset)) as writer:
            for packet in src.demux(video, *src.streams.audio):
                if packet.stream.type == "audio":
                    writer.copy_packet(packet)
                    continue
                for frame in packet.decode():
                    writer.write(frame)
                    frames += 1
            writer.commit()
    return frames


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("file", type=Path, help="the video to colorize and to transcode")
    parser.add_argument("--backends", nargs="+", default=["auto", "torch-cpu"],
                        help="as colorize --backend (auto: what colorize runs)")
    parser.add_argument("--model", default=None, help="shipped name or folder (default: the default model)")
    parser.add_argument("--batch-size", type=whole_number("frames", 1), default=8, help="frames per generator call")
    parser.add_argument("--crf", type=whole_number("", 0, 51), default=20, help="the encoder's CRF, for both")
    parser.add_argument("--preset", default="medium", help="x264's preset, for both")
    parser.add_argument("--infer-every", type=whole_number("", 1), nargs="+", default=[EngineSettings.infer_every],
                        help="colorize once per value (see EngineSettings.infer_every)")
    parser.add_argument("--rounds", type=whole_number("", 1), default=1, help="rounds, interleaved with the transcode's; the median is kept")
    args = parser.parse_args()
    check_input(args.file)
    # every backend and setting checked (and loaded) before the minutes of timing
    colorizers = {(backend, every): Colorizer.from_pretrained(args.model, backend=backend, infer_every=every)
                  for backend, every in itertools.product(args.backends, args.infer_every)}
    print(f"file: {args.file.name}  x264 crf {args.crf} preset {args.preset}, batch {args.batch_size}")
    show("decode only", *timed(lambda: decode_only(args.file)))
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}")
            frames, seconds, cpu = timed(lambda: transcode(args.file, Path(tmp) / "transcode.mp4", args.crf, args.preset))
            fps_tr = show("decode + encode (plain transcode)", frames, seconds, cpu)
            for (backend, every), colorizer in colorizers.items():
                name = backend if every == 1 else f"{backend}/{every}"
                report, seconds, cpu = timed(lambda: colorizer.colorize_video(
                    args.file, Path(tmp) / "colorized.mp4", crf=args.crf, preset=args.preset,
                    batch_size=args.batch_size, overwrite=True))
                ratio = show(f"colorize {name}", report.frames, seconds, cpu, report.stages) / fps_tr
                ratios.setdefault(name, []).append(ratio)
    for name, values in ratios.items():
        print(f"colorize {name} / transcode: {statistics.median(values):.2f}x median"
              f" (rounds: {', '.join(f'{r:.2f}' for r in values)})")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def show(label: str, frames: int, seconds: float, cpu: float, stages: dict[str, float] | None = None) -> float:
    """Print one line (fps, CPU ms a frame, busiest stages) and return the fps."""
    fps = frames / seconds
    line = f"  {label:34}: {fps:7.1f} fps, CPU {1000 * cpu / frames:5.1f} ms/frame"
    if stages:
        line += "  (busy ms/frame: " + ", ".join(
            f"{k} {1000 * v / frames:.1f}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])) + ")"
    print(line)
    return fps


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
