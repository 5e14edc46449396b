"""Gradio demo: colorize a photo or a short clip in the browser, offline.

``build_demo()`` returns the Blocks app; it calls only the public API (:mod:`streamcolor.api`).
Limits (upload size, clip duration) are arguments, so a deployment can set its own.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402
from gradio.data_classes import ImageData  # noqa: E402

from streamcolor.api import (  # noqa: E402
    DEFAULT_MODEL, HINT_MODEL, Colorizer, default_settings, display_rotation, duration_seconds, shipped_models,
    to_grey,
)
from streamcolor.errors import InputError, StreamcolorError  # noqa: E402

log = logging.getLogger("streamcolor.demo")

STRENGTH_LABEL = "Colour strength (0 = grey, 1 = the model's colour, 2 = twice as vivid)"
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Limits:
    """Upload size (MB), clip duration (seconds) and photo size (megapixels) the demo accepts:
    a small PNG can hold a picture of gigabytes."""

    max_upload_mb: int = 50
    max_clip_seconds: float = 30.0
    max_megapixels: float = 40.0


class DemoModels:
    """Loads each model once; per-request settings share the loaded weights."""

    def __init__(self) -> None:
        self._loaded: dict[str, Colorizer] = {}
        self._lock = threading.Lock()

    def get(self, name: str, **settings: object) -> Colorizer:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = Colorizer.from_pretrained(name)
        return self._loaded[name].with_settings(**settings) if settings else self._loaded[name]


def user_error(message: str) -> gr.Error:
    """The page's message for a user's mistake. The server logs it as one line: a traceback
    (gradio prints one unless ``print_exception`` is off) is for bugs."""
    log.warning("user error: %s", message)
    return gr.Error(message, print_exception=False)


def _hide_folders(message: str, *paths: str | os.PathLike) -> str:
    """``message`` with each path named by its file name alone: the server's folders are not
    the user's business."""
    for path in paths:
        message = message.replace(f"{Path(path).parent}{os.sep}", "")
    return message


def readable_upload(image: gr.Image) -> gr.Image:
    """``image`` whose unreadable upload is a user error with a message; gradio's own
    preprocessing error shows only a bare "Error" badge. Wrapped, not subclassed: gradio
    writes a stub (.pyi) beside any module that subclasses one of its components."""
    preprocess = image.preprocess

    def checked(payload: ImageData | None) -> np.ndarray | None:
        try:
            image = preprocess(payload)
            return image if payload is None else _sixteen_bit(payload.path, image)
        except gr.Error as exc:  # gradio's own refusal (an SVG) is a user error too
            raise user_error(exc.message) from exc
        except OSError as exc:  # what PIL raises for a file it cannot identify or decode
            raise user_error(f"{_name(payload)} is not an image streamcolor can read; "
                             "upload a PNG or JPEG photo.") from exc
        except PIL.Image.DecompressionBombError as exc:  # PIL's limit, on pixels, not on bytes
            raise user_error(f"{_name(payload)} has too many pixels for this demo; make it smaller first.") from exc

    image.preprocess = checked
    return image


def _sixteen_bit(path: str | None, image: np.ndarray) -> np.ndarray:
    """``image``, or for a 16-bit grey file (PNG, PGM) its own levels in 8 bits: gradio's
    conversion clips them (all but the darkest 1/256 turn white)."""
    if not path:  # pasted as data, not a file
        return image
    with PIL.Image.open(path) as file:
        if not (file.mode.startswith("I;16") or file.mode == "I"):
            return image
        grey = np.asarray(PIL.ImageOps.exif_transpose(file), dtype=np.int64)
        if file.mode == "I" and grey.max() <= 255:  # 32-bit integers holding 8-bit levels
            return image
    grey = (grey.clip(0, 65535) >> 8).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _name(upload: ImageData) -> str:
    """The uploaded file's own name (a pasted image has none)."""
    return upload.orig_name or Path(upload.path).name


def colorize_photo(models: DemoModels, image: np.ndarray | None, model: str, render_size: int,
                   strength: float = 1.0, hints: list | None = None, limits: Limits = Limits()):
    """Photo tab: (before/after pair for the slider, the colour image for download).

    ``hints``: ``(y, x, rgb)`` points; when the chosen model takes none, the shipped hint
    model colorizes instead."""
    if image is None:
        raise user_error("Upload a photo first (PNG or JPEG).")
    if image.shape[0] * image.shape[1] > limits.max_megapixels * 1e6:
        raise user_error(f"The photo is {image.shape[1]}x{image.shape[0]}; this demo takes up to "
                         f"{limits.max_megapixels:g} megapixels. Make it smaller first.")
    try:
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        colorizer = models.get(model, inference_short_side=int(render_size), strength=float(strength))
        if hints and not colorizer.takes_hints:
            colorizer = models.get(HINT_MODEL, inference_short_side=int(render_size), strength=float(strength))
        out = colorizer.colorize_image(image, hints=hints)
    except StreamcolorError as exc:
        raise user_error(str(exc)) from exc
    return (to_grey(image), out), out


def hint_model(models: DemoModels, model: str, render_size: int) -> tuple[str, int]:
    """The model and render size a photo with hints is colorized with: the chosen ones, or the
    shipped hint model at its own size where the chosen model takes no hints (the page then
    shows that model as chosen)."""
    if models.get(model).takes_hints:
        return model, render_size
    return HINT_MODEL, default_settings(HINT_MODEL).inference_short_side


def add_hint(hints: list, index: tuple[int, int], colour: str) -> list:
    """The hint list with a point at ``index`` = (x, y) (Gradio's order) in ``colour``
    (``#rrggbb`` or ``rgba(r, g, b, a)``, as Gradio's colour picker gives it)."""
    return [*hints, (int(index[1]), int(index[0]), _parse_colour(colour))]


def _parse_colour(colour: str) -> tuple[int, int, int]:
    text = colour.strip()
    if text.startswith("#") and len(text) == 7:
        return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
    if text.startswith("rgb"):
        try:
            values = text[text.index("(") + 1 : text.index(")")].split(",")
            return tuple(int(round(float(v))) for v in values[:3])
        except (ValueError, OverflowError):  # not numbers, or infinite
            pass
    raise user_error(f"cannot read the colour {colour!r}")


def colorize_clip(models: DemoModels, limits: Limits, video: str | None, model: str, smoothing: bool,
                  progress: gr.Progress = gr.Progress(), strength: float = 1.0,
                  ) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """Video tab: yields (preview of the latest colour frame, None) while working, then
    (last preview, path of the colour MP4 with the original audio)."""
    if not video:
        raise user_error("Upload a video clip first.")
    try:
        seconds, rotation = duration_seconds(video), display_rotation(video)
    except StreamcolorError as exc:
        raise user_error(_hide_folders(str(exc), video)) from exc
    if seconds is not None and seconds > limits.max_clip_seconds:
        raise user_error(_too_long(f"{seconds:.1f} s long", limits.max_clip_seconds))
    colorizer = models.get(model, smoothing="motion" if smoothing else "off", strength=float(strength))
    # removed when gradio resumes this generator after its last value, which gradio has copied
    # into its own cache by then (that copy is the one the page plays and downloads)
    with tempfile.TemporaryDirectory(prefix="streamcolor-demo-") as folder:
        dst = Path(folder) / f"{Path(video).stem}_colour.mp4"
        preview = None
        run = partial(colorizer.colorize_video, video, dst, preset="veryfast")
        # checked while it runs too: a file may state no duration, or a false one
        for done, preview in _in_thread(run, limits.max_clip_seconds, video, dst):
            progress((done, None), desc="colorizing", unit="frames")
            preview = np.rot90(preview, rotation // 90 % 4)  # as a player shows it (frames are coded as stored)
            yield preview, None
        yield preview, str(dst)


def _too_long(length: str, max_seconds: float) -> str:
    return (f"The clip is {length}; this demo takes up to {max_seconds:g} s. "
            "Use the streamcolor command line for whole films.")


class _Stopped(Exception):
    """Raised in the colorizing thread to end it: the page's job was cancelled."""


class _TooLong(Exception):
    """Raised in the colorizing thread at a picture past the clip limit."""


class _Elapsed:
    """Seconds from a clip's first picture to the last picture of a batch. Only each batch's
    last picture is seen, so the first one's time is worked out from the first two batches'
    spacing (a clip need not start at 0); 0 until then."""

    def __init__(self) -> None:
        self.anchor: tuple[int, float] | None = None  # (pictures done, time) after the first batch
        self.first: float | None = None

    def __call__(self, done: int, time: float) -> float:
        if self.anchor is None:
            self.anchor = (done, time)
        elif self.first is None and done > self.anchor[0]:
            step = (time - self.anchor[1]) / (done - self.anchor[0])
            self.first = self.anchor[1] - (self.anchor[0] - 1) * step
        return 0.0 if self.first is None else time - self.first


def _in_thread(colorize: Callable[..., object], max_seconds: float,
               *paths: str | os.PathLike) -> Iterator[tuple[int, np.ndarray]]:
    """Runs ``colorize(on_batch=...)`` in a thread and yields (frames done, latest colour frame)
    as they come, so that the page shows progress; its errors are raised here, with ``paths``
    named by their file names. The run stops at the first batch ending more than ``max_seconds``
    after the clip's first picture (:class:`_Elapsed`), and at the next batch after this
    generator is closed (the job cancelled; not waited for: gradio closes it on its event loop)."""
    updates: queue.Queue = queue.Queue()
    stop = threading.Event()
    elapsed = _Elapsed()

    def on_batch(done: int, frame) -> None:
        if stop.is_set():
            raise _Stopped
        if frame.time is not None and elapsed(done, frame.time) > max_seconds:
            raise _TooLong
        updates.put((done, frame.to_ndarray(format="rgb24")))

    def work() -> None:
        try:
            colorize(on_batch=on_batch)
            updates.put(None)
        except BaseException as exc:  # raised again below, in the request's own thread
            updates.put(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while (item := updates.get()) is not None:
            if isinstance(item, _TooLong):  # a file that states no duration
                raise user_error(_too_long(f"longer than {max_seconds:g} s", max_seconds))
            if isinstance(item, StreamcolorError):
                raise user_error(_hide_folders(str(item), *paths)) from item
            if isinstance(item, BaseException):  # a bug: gradio prints its traceback, chained to this
                raise gr.Error("Colorizing failed: a bug in streamcolor; the server's log has the details.") from item
            yield item
    finally:
        stop.set()


def _examples(kind: str) -> list[str]:
    files = {"photo": ["eval/kodak24/kodim05.png", "train/faces_val"], "video": ["video/film/chaplin.mp4"]}[kind]
    found = []
    for rel in files:
        path = SAMPLES / rel
        if path.is_dir():
            path = next(iter(sorted(path.glob("*.jpg"))), path)
        if path.is_file():
            found.append(str(path))
    return found


def build_demo(limits: Limits = Limits()) -> gr.Blocks:
    """The app: a Photo tab and a Video tab, examples from ../shared/data when present."""
    models = DemoModels()
    names = shipped_models() or [DEFAULT_MODEL]
    default = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    # gradio keeps every upload, preview and result in its own cache: files older than an hour
    # are removed hourly, so a long-running demo does not fill the disk
    with gr.Blocks(title="streamcolor", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# streamcolor\nColorize black-and-white photos and film. Everything runs on this machine.")
        with gr.Tab("Photo"):
            with gr.Row():
                with gr.Column():
                    photo = readable_upload(gr.Image(label="Black-and-white (or colour, made grey) photo",
                                                     type="numpy", elem_id="photo-input"))
                    photo_model = gr.Dropdown(names, value=default, label="Model")
                    render = gr.Slider(64, 512, value=default_settings(default).inference_short_side, step=2,
                                       label="Render size (short side the model sees, px)")
                    photo_strength = gr.Slider(0, 2, value=1, step=0.05, label=STRENGTH_LABEL)
                    with gr.Row():
                        hint_colour = gr.ColorPicker(value="#b03a2e", label="Hint colour (then click the photo above)")
                        clear_hints = gr.Button("Clear hints")
                    hint_list = gr.JSON(value=[], label="Hints (y, x, RGB)")
                    photo_button = gr.Button("Colorize", variant="primary", elem_id="photo-button")
                with gr.Column():
                    slider = gr.ImageSlider(label="Before / after", type="numpy", elem_id="photo-slider")
                    download = gr.Image(label="Colour result (download)", type="numpy", format="png",
                                        buttons=["download"], elem_id="photo-output")
            if _examples("photo"):
                gr.Examples(_examples("photo"), inputs=photo)
            hints = gr.State([])

            def on_photo(image, model, size, strength, points):
                return colorize_photo(models, image, model, size, strength, points, limits)

            def on_click(image, model, size, strength, points, colour, event: gr.SelectData):
                points = add_hint(points, event.index, colour)
                model, size = hint_model(models, model, size)
                return (*colorize_photo(models, image, model, size, strength, points, limits), points, points, model,
                        size)

            def redraw(image, model, size, strength, points):  # without the hints just cleared
                return on_photo(image, model, size, strength, points) if image is not None else (None, None)

            settings = [photo, photo_model, render, photo_strength, hints]
            photo_button.click(on_photo, settings, [slider, download], api_name="colorize_photo")
            # the hints belong to the photo they were put on; the API is colorize_photo's
            photo.select(on_click, [*settings, hint_colour], [slider, download, hints, hint_list, photo_model, render],
                         api_name=False)
            # a model chosen by hand brings its own render size (a hint sets both itself)
            photo_model.input(lambda name: default_settings(name).inference_short_side, photo_model, render,
                              api_name=False)
            photo.change(lambda: ([], []), None, [hints, hint_list], api_name=False)
            clear_hints.click(lambda: ([], []), None, [hints, hint_list], api_name=False).then(
                redraw, settings, [slider, download], api_name=False)
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column():
                    clip = gr.Video(label=f"Clip (up to {limits.max_clip_seconds:g} s)", sources=["upload"],
                                    elem_id="clip-input")
                    clip_model = gr.Dropdown(names, value=default, label="Model")
                    smooth = gr.Checkbox(value=True, label="Temporal smoothing (motion-aware)")
                    clip_strength = gr.Slider(0, 2, value=1, step=0.05, label=STRENGTH_LABEL)
                    clip_button = gr.Button("Colorize", variant="primary", elem_id="clip-button")
                with gr.Column():
                    preview = gr.Image(label="Latest colorized frame", type="numpy")
                    result = gr.Video(label="Colour film (with the original sound)", elem_id="clip-output")
            if _examples("video"):
                gr.Examples(_examples("video"), inputs=clip)
            def on_clip(video, model, smoothing, strength, progress=gr.Progress()):
                yield from colorize_clip(models, limits, video, model, smoothing, progress, strength)

            clip_button.click(on_clip, [clip, clip_model, smooth, clip_strength], [preview, result],
                              api_name="colorize_clip")
    demo.queue(default_concurrency_limit=1)  # one job at a time: a GPU would be shared
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, limits: Limits = Limits()) -> None:
    """Serve the demo; system fonts only, so the page renders with no network.

    Raises:
        InputError: see :func:`check_address`.
    """
    check_address(host, port)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    build_demo(limits).launch(server_name=host, server_port=port, share=share, theme=theme,
                              max_file_size=f"{limits.max_upload_mb}mb", allowed_paths=[str(SAMPLES)])


def check_address(host: str, port: int) -> None:
    """Bind ``host``:``port`` as the server will, and let go: gradio's own error names only the
    port, whatever was wrong, and its server logs a line of its own.

    Raises:
        InputError: ``host`` is no host name or address; or the operating system's reason the
            server cannot listen there (the port is in use, the address is not this machine's,
            a port under 1024 needs privileges).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r} is no host name or address ({exc.strerror})") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as exc:
            raise InputError(f"the demo cannot listen on {host}:{port}: {exc.strerror} (--host, --port)") from exc
