"""Single process vs local Ray on the same films: wall time, ratio, Ray's overhead.

    python benchmarks/scale.py [--workers 2] [FILM ...]

Default films: the sample film and the colour clips of ../shared/data/video. Reported: wall
time of one process colorizing them in turn; of Ray archive mode with ``--workers`` tasks
(Ray start included); Ray's start time; putting the weights in the object store; and a
task that does nothing but rebuild the colorizer from the object store (per-film overhead).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from streamcolor.argtypes import whole_number
from streamcolor import Colorizer
from streamcolor.distributed import RaySettings, colorize_archive, colorizer_from, connect, model_payload, shutdown

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
FILMS = [DATA / "film/chaplin.mp4", DATA / "color/six_shots.mp4", DATA / "edge/video_with_failing_audio.mp4"]


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("films", nargs="*", type=Path, default=FILMS,
                        help=f"films to colorize (default: {', '.join(film.name for film in FILMS)})")
    parser.add_argument("--workers", type=whole_number("", 1), default=2, help="Ray workers")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(backend="auto")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for index, film in enumerate(args.films):
            colorizer.colorize_video(film, Path(tmp) / f"single_{index}_{film.name}", preset="veryfast")
        single = time.perf_counter() - started
        started = time.perf_counter()
        ray = connect(RaySettings(workers=args.workers))
        ray_start = time.perf_counter() - started
        started = time.perf_counter()
        payload = ray.put(model_payload(colorizer))
        put = time.perf_counter() - started
        started = time.perf_counter()
        ray.get(ray.remote(lambda p: colorizer_from(p, 0) is not None).remote(payload))
        rebuild = time.perf_counter() - started
        started = time.perf_counter()
        rows = colorize_archive(colorizer, [(f, Path(tmp) / f"ray_{i}_{f.name}") for i, f in enumerate(args.films)],
                                RaySettings(workers=args.workers), {"preset": "veryfast"}, progress=False)
        archive = time.perf_counter() - started
        shutdown()
    frames = sum(r[1] for r in rows)
    print(f"{len(args.films)} films, {frames} frames; x264 veryfast")
    print(f"single process            : {single:6.1f} s")
    print(f"Ray, {args.workers} workers            : {archive + ray_start:6.1f} s  (of which Ray start {ray_start:.1f} s)"
          f"  ratio {single / (archive + ray_start):.2f}x")
    print(f"weights into object store : {put:6.2f} s")
    print(f"per-task colorizer rebuild: {rebuild:6.2f} s  (first task; includes a worker start)")
    for name, n, fps, status, error in rows:
        print(f"  {name:32} {n:5d} frames {fps:6.1f} fps  {status} {error}")


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
