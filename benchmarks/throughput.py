"""Throughput of the pipeline beside a plain transcode with the same encoder settings.

    python benchmarks/throughput.py FILE [--backends torch-cpu onnxruntime] [--model NAME]
                                         [--batch-size N] [--crf N] [--preset P] [--infer-every K ...]

In one run: fps of decode only, of decode + encode (plain transcode, same x264 settings),
of colorize (the full pipeline, audio copied) per backend with its busiest stages, the
ratio colorize / transcode, and peak RSS (of the whole process).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from pathlib import Path

import av

from streamcolor import Colorizer
from streamcolor.engine import EngineSettings


def decode_only(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        frames = sum(1 for _ in c.decode(video=0))
    return frames, time.perf_counter() - started


def transcode(path: Path, dst: Path, crf: int, preset: str) -> tuple[int, float]:
    started = time.perf_counter()
    frames = 0
    with av.open(str(path)) as src, av.open(str(dst), "w") as out:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=vin.average_rate, options={"crf": str(crf), "preset": preset})
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.codec_context.time_base = vin.time_base
        for frame in src.decode(vin):
            out.mux(vout.encode(frame))
            frames += 1
        out.mux(vout.encode(None))
    return frames, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--backends", nargs="+", default=["torch-cpu", "onnxruntime"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crf", type=int, default=20)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--infer-every", type=int, nargs="+", default=[EngineSettings.infer_every],
                        help="colorize once per value (see EngineSettings.infer_every)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        n_dec, t_dec = decode_only(args.file)
        n_tr, t_tr = transcode(args.file, Path(tmp) / "transcode.mp4", args.crf, args.preset)
        reports = {}
        for backend, every in itertools.product(args.backends, args.infer_every):
            colorizer = Colorizer.from_pretrained(args.model, backend=backend, infer_every=every)
            name = backend if every == 1 else f"{backend}/{every}"
            reports[name] = colorizer.colorize_video(args.file, Path(tmp) / "colorized.mp4", crf=args.crf,
                                                     preset=args.preset, batch_size=args.batch_size, overwrite=True)
    fps_tr = n_tr / t_tr
    print(f"file: {args.file.name}  ({n_dec} frames)  x264 crf {args.crf} preset {args.preset}, batch {args.batch_size}")
    print(f"decode only        : {n_dec / t_dec:7.1f} fps")
    print(f"decode + encode    : {fps_tr:7.1f} fps  (plain transcode)")
    for backend, report in reports.items():
        fps = report.frames / report.seconds
        stages = ", ".join(f"{k} {1000 * v / report.frames:.1f}" for k, v in sorted(report.stages.items(), key=lambda kv: -kv[1]))
        print(f"colorize {backend:13}: {fps:7.1f} fps  = {fps / fps_tr:.2f}x transcode  (ms/frame: {stages})")
    print(f"peak RSS           : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MB")


if __name__ == "__main__":
    main()
