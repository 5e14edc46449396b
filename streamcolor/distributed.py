"""Scale out on Ray (extra ``streamcolor[ray]``, imported lazily): a folder of films, one
Ray task per film, or one long film split into keyframe-aligned spans colorized in parallel.

The model's weights go into the Ray object store once; every task builds its colorizer
from them. Outputs go through the same temporary-file-then-rename path as the CLI, so a
finished film is never rewritten and a rerun skips it; Ray retries a task whose worker
died. Workers report frames done to one progress actor, which feeds the overall bar.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from streamcolor.errors import InputError, StreamcolorError, is_finite_number, is_whole

if TYPE_CHECKING:
    from streamcolor.pipeline import RunSettings

#: retries of a task whose worker process died
MAX_RETRIES = 3


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide: ``address`` None = start a local Ray (``"auto"``,
    ``"ray://host:10001"`` join a cluster), ``workers`` tasks at once, and the resources
    each task asks for."""

    address: str | None = None
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        """Raises InputError: ``workers`` below 1 or not whole, ``cpus_per_worker`` not above 0,
        ``gpus_per_worker`` below 0 (either not finite)."""
        if not is_whole(self.workers) or self.workers < 1:
            raise InputError(f"workers (--workers) must be a whole number, 1 or more; got {self.workers!r}")
        _check_resource("cpus_per_worker", self.cpus_per_worker, zero_allowed=False)
        _check_resource("gpus_per_worker", self.gpus_per_worker, zero_allowed=True)


def _check_resource(name: str, value: object, zero_allowed: bool) -> None:
    """Ray's resource request per task: a finite number above 0 (or 0 itself where allowed).

    Raises:
        InputError: it is not.
    """
    if not (is_finite_number(value) and (value > 0 or zero_allowed and value == 0)):
        bound = "0 or more" if zero_allowed else "above 0"
        raise InputError(f"{name} (--{name.replace('_', '-')}) must be a finite number {bound}; got {value!r}")


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise InputError("--ray needs Ray: pip install 'streamcolor[ray]'") from exc
    return ray


def connect(settings: RaySettings):
    """The ``ray`` module, initialised: a local Ray sized ``workers * cpus_per_worker`` CPUs,
    or the cluster at ``settings.address``; an already initialised Ray is used as it is.

    Raises:
        InputError: Ray is not installed.
    """
    ray = _ray()
    if not ray.is_initialized():
        if settings.address is None:
            # Ray announces on stderr, at every start, the token authentication it turns on for
            # a new local instance; that default is what we want, so the line says nothing
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            ray.init(num_cpus=max(1, round(settings.workers * settings.cpus_per_worker)), include_dashboard=False,
                     log_to_driver=False)
        else:
            ray.init(address=settings.address, log_to_driver=False)
    return ray


def model_payload(colorizer) -> dict[str, Any]:
    """What a task needs to rebuild the colorizer: its class, architecture, weights, settings."""
    model = colorizer.model
    # the class travels (pickled by name) instead of being imported here: the API imports this
    # module for its folder batches, and an import back would make a loop
    return {"class": type(colorizer),
            "config": {**model.config, "architecture": model.architecture,
                       "model_args": model.model_args},
            "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "calibration": getattr(model, "calibration", None),  # so that CPU workers can run int8
            "settings": dataclasses.asdict(colorizer.settings),
            # the name asked for, not the backend built here: a worker may hold other devices
            "backend": colorizer.backend_request or "auto"}


def colorizer_from(payload: dict[str, Any]):
    """The colorizer of :func:`model_payload` on the backend the driver was asked for, built
    on this worker: ``auto`` takes the best that runs in the task (TensorRT or torch-cuda when
    it holds a GPU)."""
    from streamcolor.engine import EngineSettings
    from streamcolor.models import create_model

    config = payload["config"]
    model = create_model(config["architecture"], **config["model_args"])
    model.load_state_dict(payload["state"])
    model.config, model.calibration = config, payload["calibration"]
    return payload["class"](model.eval(), settings=EngineSettings(**payload["settings"]), backend=payload["backend"])


class _Progress:
    """Ray actor: frames done across all tasks."""

    def __init__(self) -> None:
        self.frames = 0

    def add(self, frames: int) -> None:
        self.frames += frames

    def total(self) -> int:
        return self.frames


def _reporter(progress):
    """A callback ``(frames done so far, ...)`` that sends the progress actor what is new."""
    previous = [0]

    def report(done: int, *_: object) -> None:
        progress.add.remote(done - previous[0])
        previous[0] = done

    return report


def _film_task(payload: dict[str, Any], src: str, dst: str, options: dict[str, Any], progress) -> dict:
    if Path(dst).exists():  # finished by an earlier attempt: never rewritten
        return {"frames": 0, "fps": 0.0, "status": "skipped (done)"}
    result = colorizer_from(payload).colorize_video(src, dst, on_batch=_reporter(progress), **options)
    return {"frames": result.frames, "fps": result.frames / result.seconds, "status": "ok"}


def _span_task(payload: dict[str, Any], src: str, part: str, info, first: int, span, before, run, progress) -> int:
    from streamcolor.engine import Engine
    from streamcolor.pipeline import colorize_span

    colorizer = colorizer_from(payload)
    engine = Engine(colorizer.backend, colorizer.settings)
    return colorize_span(engine, Path(src), Path(part), info, first, span, before, run,
                         on_frames=_reporter(progress))


def _watch(ray, refs: list, progress, total: int | None, show: bool) -> None:
    """Feed the overall bar until every task has ended."""
    bar = tqdm(total=total, unit="frame", desc="colorize (ray)", disable=not show)
    pending = list(refs)
    while pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
        bar.update(ray.get(progress.total.remote()) - bar.n)
    bar.update(ray.get(progress.total.remote()) - bar.n)
    bar.close()


def _options(settings: RaySettings) -> dict[str, Any]:
    return {"num_cpus": settings.cpus_per_worker, "num_gpus": settings.gpus_per_worker, "max_retries": MAX_RETRIES}


def colorize_archive(colorizer, films: list[tuple[Path, Path]], settings: RaySettings, options: dict[str, Any],
                     progress: bool = True) -> list[tuple[str, int, float, str, str]]:
    """Colorize each ``(src, dst)`` in its own Ray task.

    Returns:
        One row per film: (name, frames, fps, status, error); status is ``ok``,
        ``skipped (done)`` or ``FAILED`` (error says why).
    """
    ray = connect(settings)
    payload = ray.put(model_payload(colorizer))
    counter = ray.remote(_Progress).remote()
    task = ray.remote(_film_task).options(**_options(settings))
    refs = [task.remote(payload, str(src), str(dst), options, counter) for src, dst in films]
    _watch(ray, refs, counter, None, progress)
    rows = []
    for (src, _), ref in zip(films, refs):
        try:
            result = ray.get(ref)
            rows.append((src.name, result["frames"], result["fps"], result["status"], ""))
        except ray.exceptions.RayError as exc:
            rows.append((src.name, 0, 0.0, "FAILED", _reason(exc)))
    return rows


def _reason(exc: Exception) -> str:
    """The one-line cause of a failed task (our own error message when it is one)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, StreamcolorError):
        return str(cause)
    return (str(cause or exc).strip().splitlines() or ["worker failed"])[-1]


def colorize_split(colorizer, src: Path, dst: Path, settings: RaySettings, run: RunSettings, overwrite: bool = False,
                   progress: bool = True) -> tuple[int, float]:
    """Colorize one film as keyframe-aligned spans in parallel Ray tasks, then join the
    spans without re-encoding and mux the source's audio and other streams once.

    Returns:
        (frames, wall seconds).

    Raises:
        InputError, MediaError: bad paths, a film that cannot be split, a failed span.
    """
    from streamcolor.media import check_output, hidden_beside, keyframes, mux_segments, probe_for, segment_suffix
    from streamcolor.segments import plan_spans

    started = time.perf_counter()
    info = probe_for(src, dst)
    dst = check_output(dst, src, overwrite)
    keys, frames = keyframes(src)
    spans = plan_spans(keys, frames, max(24, frames // (2 * settings.workers)))
    folder = hidden_beside(dst, "streamcolor-split")
    folder.mkdir(exist_ok=True)
    try:
        ray = connect(settings)
        payload = ray.put(model_payload(colorizer))
        counter = ray.remote(_Progress).remote()
        task = ray.remote(_span_task).options(**_options(settings))
        parts = [folder / f"span_{i:05d}{segment_suffix(dst)}" for i in range(len(spans))]
        refs = [task.remote(payload, str(src), str(part), info, first, span, spans[i - 1][1] if i else None,
                            run, counter)
                for i, ((first, span), part) in enumerate(zip(spans, parts))]
        _watch(ray, refs, counter, frames, progress)
        try:
            written = sum(ray.get(refs))
        except ray.exceptions.RayError as exc:
            raise InputError(f"a span of {src.name} failed: {_reason(exc)}") from exc
        mux_segments(parts, [span.start_pts for _, span in spans], src, dst, info)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return written, time.perf_counter() - started


def shutdown() -> None:
    """Disconnect from (or stop the local) Ray, if it was started."""
    if "ray" in sys.modules:
        ray = _ray()
        if ray.is_initialized():
            ray.shutdown()
