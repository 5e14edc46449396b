"""Python API: :class:`Colorizer` (images, frame sequences, a video, a folder of videos) and what
a front end needs around it (reference images, a model's default settings, a grey preview)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
import torch

from streamcolor.backends import BACKENDS, Backend, TorchBackend, select_backend
from streamcolor.backends.cache import weights_digest
from streamcolor.color import lab_to_rgb, luma_code_to_L, rgb_to_lab
from streamcolor.distributed import RaySettings, colorize_archive
from streamcolor.engine import Engine, EngineSettings
from streamcolor.errors import InputError, StreamcolorError, is_finite_number, is_frame_number, is_whole
from streamcolor.frame import Frame
from streamcolor.images import has_transparency, read_rgb
from streamcolor.media import VIDEO_SUFFIXES, EncodeSettings, duration_seconds, output_name, probe
from streamcolor.models import Generator, from_pretrained, shipped_models
from streamcolor.models.io import HINT_MODEL, read_config, save_calibration, save_pretrained
from streamcolor.pipeline import Report, RunSettings, check_reference_range, colorize_video
from streamcolor.stages.cuts import inference_size

#: the kinds of settings :func:`_changed` changes by name
Settings = TypeVar("Settings", EngineSettings, EncodeSettings)

# the public names, all a front end (the CLI, the demo, a script) imports; some come from media and models
__all__ = ["DEFAULT_MODEL", "HINT_MODEL", "Colorizer", "FileResult", "check_references", "default_settings",
           "display_rotation", "duration_seconds", "image_to_L", "load_references", "rasterize_hints", "shipped_models", "to_grey"]

log = logging.getLogger("streamcolor")

#: Shipped weights used when no model is named.
DEFAULT_MODEL = "lite0_unet_v6"

_GREY_TO_L = luma_code_to_L(full_range=True)


def check_references(references: dict[int, np.ndarray] | None) -> dict[int, np.ndarray]:
    """Validate reference frames (see :meth:`Colorizer.colorize_video`).

    Raises:
        InputError: not a mapping, a negative or non-integer index, or not a uint8 ``(H, W, 3)`` image.
    """
    if references is not None and not isinstance(references, Mapping):
        raise InputError(f"references must map frame indices to images, got a {type(references).__name__}")
    for index, image in (references or {}).items():
        if not (is_whole(index) and index >= 0):
            raise InputError(f"reference frame index must be a whole number 0 or more, got {index!r}")
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
            raise InputError(f"reference for frame {index} must be a uint8 (H, W, 3) RGB image")
    # copies: the caller may reuse its arrays before the lazy run reaches the frame
    return {int(index): image.copy() for index, image in (references or {}).items()}


def load_references(images: Mapping[int, str | os.PathLike] | None = None,
                    folder: str | os.PathLike | None = None) -> dict[int, np.ndarray]:
    """Read reference images for :meth:`Colorizer.colorize_video`'s ``references``.

    Args:
        images: image file by 0-based frame index.
        folder: a folder of images named by frame index (``000064.png`` is frame 64; files
            whose name is not a number are passed over with a warning).

    Returns:
        ``{frame index: uint8 (H, W, 3) RGB}``.

    Raises:
        InputError: ``folder`` is not a folder, or holds no numbered file and ``images`` is
            empty, or two images of one frame (``12.png`` and ``012.png``, or one in ``images``
            and one in ``folder``); an image file is missing or not one OpenCV can read.
    """
    wanted = {index: Path(path) for index, path in (images or {}).items()}
    if folder is not None:
        if not Path(folder).is_dir():
            raise InputError(f"references folder {str(folder)!r} is not a folder")
        files = sorted(p for p in Path(folder).iterdir() if p.is_file())
        numbered = [p for p in files if is_frame_number(p.stem)]
        for index in {int(p.stem) for p in numbered}:
            same = [p.name for p in numbered if int(p.stem) == index]
            if len(same) > 1:
                raise InputError(f"references: {' and '.join(same)} are both frame {index}; keep one")
            if index in wanted:
                raise InputError(f"references: frame {index} is given as {str(wanted[index])!r} and as {same[0]!r} "
                                 f"in {str(folder)!r}; keep one")
        wanted.update({int(p.stem): p for p in numbered})
        passed_over = [p.name for p in files if not is_frame_number(p.stem)]
        if passed_over:  # a misnamed reference would otherwise vanish without a word
            log.warning("references: %d file(s) in %r not named by frame number passed over (e.g. %r)",
                        len(passed_over), str(folder), passed_over[0])
        if not wanted:
            raise InputError(f"no reference images named by frame number (e.g. 000064.png) in {str(folder)!r}")
    return {index: _read_reference(path) for index, path in wanted.items()}


def _read_reference(path: Path) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB of one reference image file (alpha dropped, with a warning)."""
    if not path.is_file():
        raise InputError(f"reference image {str(path)!r} does not exist")
    try:
        rgb = read_rgb(path)
    except InputError:  # named for what the user gave it as: a reference
        raise InputError(f"reference {str(path)!r} is not an image OpenCV can read") from None
    if has_transparency(path):
        log.warning("reference %r: its alpha channel is dropped (transparent parts keep the colour under them)",
                    str(path))
    return rgb


def rasterize_hints(hints: Iterable[tuple[int, int, Any]], shape: tuple[int, int], size: tuple[int, int],
                    radius: int = 1) -> np.ndarray:
    """Hint points at image ``shape`` -> the hint channels at inference ``size``.

    Returns:
        float32 ``(h, w, 3)``: a, b (Lab units) of each hint's colour and the mask, on a
        ``2 * radius + 1`` square around the scaled point (overlaps: the later hint wins).

    Raises:
        InputError: ``hints`` not a sequence, a hint that is not ``(y, x, colour)``, coordinates
            that are not numbers, a point outside the image or a colour that is not three
            0-255 values.
    """
    if not isinstance(hints, Iterable) or isinstance(hints, (str, bytes)):
        raise InputError(f"hints must be a list of (y, x, (R, G, B)), got {hints!r}")
    out = np.zeros((*size, 3), np.float32)
    for hint in hints:
        if not isinstance(hint, (tuple, list)) or len(hint) != 3:
            raise InputError(f"each hint must be (y, x, (R, G, B)), got {hint!r}")
        y, x, rgb = hint
        if not (is_finite_number(y) and is_finite_number(x)):
            raise InputError(f"hint coordinates must be numbers (y, x), got ({y!r}, {x!r})")
        if not (0 <= y < shape[0] and 0 <= x < shape[1]):
            raise InputError(f"hint at (y={y}, x={x}) is outside the {shape[1]}x{shape[0]} image")
        colour = np.asarray(rgb)
        # numbers only: numpy would read the text "255" as a number, and refuse "red" with a ValueError
        colour = colour.astype(np.float32).reshape(-1) if colour.dtype.kind in "iuf" else np.array([np.nan])
        if colour.shape != (3,) or not ((0 <= colour) & (colour <= 255)).all():
            raise InputError(f"hint colour must be three 0-255 values (R, G, B), got {rgb!r}")
        ab = rgb_to_lab(colour / 255)[1:]
        cy, cx = int(y * size[0] / shape[0]), int(x * size[1] / shape[1])
        patch = (slice(max(0, cy - radius), cy + radius + 1), slice(max(0, cx - radius), cx + radius + 1))
        out[patch] = (*ab, 1.0)
    return out


def image_to_L(image: np.ndarray, warn: bool = True) -> np.ndarray:
    """uint8 ``(H, W)`` grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (alpha dropped, with a
    warning where it is not opaque and ``warn``, as the video path does) -> float32 L in
    [0, 100] ``(H, W)``.

    Raises:
        InputError: not a uint8 array of those shapes, or an empty one.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = f"{type(image).__name__} of {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"image must be a uint8 numpy array, got {got}")
    if image.ndim in (2, 3) and 0 in image.shape[:2]:
        raise InputError(f"image is empty: shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 4:
        if warn and _transparent(image):
            log.warning(ALPHA_DROPPED)
        image = image[..., :3]
    if image.ndim == 2:
        return _GREY_TO_L[image]
    if image.ndim == 3 and image.shape[2] == 3:
        return rgb_to_lab(image.astype(np.float32) / 255)[..., 0]
    raise InputError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")


def display_rotation(path: str | os.PathLike) -> int:
    """Degrees counter-clockwise (0, 90, 180 or 270) that a player turns the video's frames by
    (a phone clip stored on its side); its frames, and so the colorized ones, are as stored.

    Raises:
        InputError: not a readable video (:func:`streamcolor.media.probe`).
    """
    return probe(path).rotation


ALPHA_DROPPED = "the image's alpha channel is dropped: colour is added to its RGB only"


def _transparent(image: np.ndarray) -> bool:
    """An RGBA image with a pixel that is not opaque (whose alpha dropping changes it)."""
    return image.ndim == 3 and image.shape[2] == 4 and bool((image[..., 3] < 255).any())


def to_grey(image: np.ndarray) -> np.ndarray:
    """The picture the colorizer sees: uint8 ``(H, W)``, ``(H, W, 3)`` RGB or ``(H, W, 4)``
    RGBA (see :func:`image_to_L`) -> uint8 ``(H, W, 3)`` sRGB grey with the same L (ab = 0),
    e.g. the "before" of a before/after view.

    Raises:
        InputError: see :func:`image_to_L`.
    """
    L = image_to_L(image)
    return _rgb8(np.stack([L, np.zeros_like(L), np.zeros_like(L)], -1))


def default_settings(name: str | os.PathLike | None = None) -> EngineSettings:
    """The colour settings a model runs with unless told otherwise: the defaults of
    :class:`EngineSettings` at the generator's inference scale (``inference_short_side`` in its
    config) and, where its config gives one, the scale of its training photos
    (``via_short_side``), read without loading the weights.

    Args:
        name: shipped name or saved model folder; None = :data:`DEFAULT_MODEL`.

    Raises:
        UnknownModelError: no such shipped model or folder.
    """
    return _settings_of(read_config(DEFAULT_MODEL if name is None else name))


def _image_digest(image: np.ndarray) -> str:
    return hashlib.sha256(repr(image.shape).encode() + np.ascontiguousarray(image).tobytes()).hexdigest()


def _frames_out(engine: Engine, frames: Iterable[np.ndarray], last_reference: int) -> Iterator[np.ndarray]:
    count, warned = 0, False

    def L_of(image: np.ndarray) -> np.ndarray:  # the alpha warning once for the sequence, not per frame
        nonlocal warned
        if not warned and isinstance(image, np.ndarray) and _transparent(image):
            log.warning(ALPHA_DROPPED)
            warned = True
        return image_to_L(image, warn=False)

    for batch in engine.run(Frame(index=i, L=L_of(frame)) for i, frame in enumerate(frames)):
        for frame in batch:
            count += 1
            yield _rgb(frame)
    check_reference_range(last_reference, count, "the frames given")  # of unknown length: known only now


def _name_clashes(videos: list[Path]) -> dict[Path, list[Path]]:
    """Each film of a folder batch -> the other films written under the same output name (x.mpg
    and x.mkv are both written as x.mkv); case is ignored, as macOS and Windows ignore it."""
    by_name: dict[str, list[Path]] = {}
    for video in videos:
        by_name.setdefault(output_name(video).casefold(), []).append(video)
    return {video: [v for v in by_name[output_name(video).casefold()] if v != video] for video in videos}


def _changed(settings: Settings, changes: dict[str, Any]) -> Settings:
    """``settings`` (EngineSettings, EncodeSettings) with fields changed by name; an unknown name is
    an InputError naming the known ones, not Python's TypeError."""
    known = [f.name for f in dataclasses.fields(settings)]
    unknown = [name for name in changes if name not in known]
    if unknown:
        raise InputError(f"unknown argument or setting {', '.join(map(repr, unknown))}; the settings of "
                         f"{type(settings).__name__} are {', '.join(known)}")
    return dataclasses.replace(settings, **changes)


#: config.json's keys that :func:`streamcolor.models.save_pretrained` writes from the model itself
_WRITTEN_BY_SAVE = ("architecture", "model_args", "format_version", "L_scale", "ab_scale")


def _settings_of(config: dict[str, Any]) -> EngineSettings:
    return EngineSettings(inference_short_side=config.get("inference_short_side", 150),
                          via_short_side=config.get("via_short_side"))


def _rgb8(lab: np.ndarray) -> np.ndarray:
    """float Lab ``(H, W, 3)`` -> uint8 ``(H, W, 3)`` sRGB."""
    return (lab_to_rgb(lab) * 255 + 0.5).astype(np.uint8)


def _rgb(frame: Frame) -> np.ndarray:
    """uint8 ``(H, W, 3)`` sRGB of a coloured frame."""
    return _rgb8(frame.lab())


@dataclasses.dataclass(frozen=True)
class FileResult:
    """What became of one file of :meth:`Colorizer.colorize_folder`.

    Attributes:
        status: ``"ok"``, ``"skipped (done)"`` (the output exists), ``"FAILED"`` or
            ``"ignored"`` (not a video file suffix: not counted as a film).
        name: the file's name in the input folder (and the output's, in the output folder).
        detail: ``"<frames> frames, <fps> fps"`` when ok, otherwise why.
    """

    status: str
    name: str
    detail: str


class Colorizer:
    """Colorize images, frame sequences and video files with a trained generator.

    Build with :meth:`from_pretrained`. The generator runs at the short side in its config
    (``inference_short_side``, through ``via_short_side`` where given: :class:`EngineSettings`);
    colour is upsampled to the full resolution guided by the picture's own L, which is kept exactly.

    Attributes:
        model: the generator (whatever backend runs it).
        backend: the :class:`~streamcolor.backends.Backend` running it.
        backend_request: the backend name asked for (``"auto"`` or a key of
            :data:`~streamcolor.backends.BACKENDS`), None when a backend object or only a
            device was given; Ray tasks choose theirs from it (:mod:`streamcolor.distributed`).
        takes_hints: the model accepts colour hints and its backend passes them on
            (:meth:`colorize_image`).
    """

    def __init__(self, model: Generator, device: str = "cpu", settings: EngineSettings | None = None,
                 backend: Backend | str | None = None) -> None:
        """Run ``model`` (a loaded generator, :func:`streamcolor.models.from_pretrained`).

        Args:
            device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, for the torch backend when
                ``backend`` is None.
            settings: the engine's; None = the model config's (:func:`default_settings`).
            backend: a backend name as for :meth:`from_pretrained`, or a built backend.

        Raises:
            InputError: an unknown backend name, one that cannot run here, or a backend that
                is neither a name nor a :class:`~streamcolor.backends.Backend`.
        """
        if settings is not None and not isinstance(settings, EngineSettings):
            raise InputError(f"settings must be an EngineSettings, not {type(settings).__name__} "
                             "(Colorizer.from_pretrained takes the settings by name)")
        config = model.config
        self.settings = settings or _settings_of(config)
        self.backend_request = backend if isinstance(backend, str) else None
        if isinstance(backend, str):
            backend = select_backend(backend, model)
        elif backend is not None and not isinstance(backend, Backend):
            raise InputError(f"backend must be a name ({', '.join(['auto', *BACKENDS])}) or a Backend, "
                             f"not {type(backend).__name__}")
        self.backend = backend or TorchBackend(model, device)
        self.name = config.get("name", model.architecture)
        self.takes_hints = model.hint_channels > 0 and self.backend.takes_hints
        self.model = model

    @classmethod
    def from_pretrained(cls, name: str | os.PathLike | None = None, device: str | None = None,
                        backend: str | None = None, **settings: Any) -> "Colorizer":
        """Load shipped weights by name, or a folder written by :meth:`save_pretrained` (or
        :func:`streamcolor.models.save_pretrained`, or a training run's ``final/``).

        Args:
            name: shipped name or folder; None = :data:`DEFAULT_MODEL`.
            device: ``"cpu"``, ``"cuda"``; None = CUDA when available (torch backend).
            backend: ``"auto"``, ``"tensorrt"``, ``"torch-cuda"``, ``"onnxruntime-int8"``,
                ``"onnxruntime"``, ``"torch-cpu"`` (see :func:`streamcolor.backends.select_backend`);
                overrides ``device``.
            settings: :class:`EngineSettings` fields (``smoothing``, ``smooth_strength`` ...).

        Raises:
            UnknownModelError: no such shipped model or folder.
            InputError: a setting :class:`EngineSettings` does not have, or refuses.
        """
        name = DEFAULT_MODEL if name is None else name
        if device is not None and not (isinstance(device, str) and device):
            raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or None (CUDA when there is one), got {device!r}")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        engine_settings = _changed(default_settings(name), settings)
        return cls(from_pretrained(name), device, engine_settings, backend or None)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write this colorizer's model to ``directory`` so that :meth:`from_pretrained` loads
        it back to the same pictures: its weights (float32), ``config.json`` with its name and
        this colorizer's render sizes (``inference_short_side``, ``via_short_side``; the other
        settings are per run), and the int8 calibration frames where the model has them.

        Returns:
            The folder.

        Raises:
            InputError: the folder cannot be written.
        """
        model = self.model
        kept = {k: v for k, v in model.config.items() if k not in _WRITTEN_BY_SAVE}
        metadata = {**kept, "name": self.name, "inference_short_side": self.settings.inference_short_side,
                    "via_short_side": self.settings.via_short_side}
        try:
            path = save_pretrained(model, directory, dtype=torch.float32, **metadata)  # a backend may hold fp16
            if model.calibration is not None:  # stored as the uint8 L it was read from
                save_calibration(path, ((model.calibration + 1) * 127.5).round().to(torch.uint8))
        except OSError as exc:
            raise InputError(f"cannot write the model to {str(directory)!r}: {exc.strerror or exc}") from exc
        return path

    def with_settings(self, **changes: Any) -> "Colorizer":
        """A colorizer sharing this one's loaded model, with some :class:`EngineSettings` changed.

        Raises:
            InputError: a setting :class:`EngineSettings` does not have, or refuses.
        """
        clone = copy.copy(self)
        clone.settings = _changed(self.settings, changes)
        return clone

    def colorize_image(self, image: np.ndarray, hints: Iterable[tuple[int, int, Any]] | None = None) -> np.ndarray:
        """Colorize one picture.

        Args:
            image: uint8 ``(H, W)`` grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (a colour image
                is made grey first; alpha is dropped with a warning).
            hints: colour hints for a hint model (:data:`HINT_MODEL`, Zhang et al. 2017):
                ``(y, x, rgb)`` with y, x pixel coordinates in ``image`` and rgb three 0-255
                values; the model spreads each hint's colour over the region around it.

        Returns:
            uint8 ``(H, W, 3)`` RGB of the same size; its L equals the input's to 8-bit
            rounding.

        Raises:
            InputError: wrong dtype or shape; hints for a model (or backend) that takes none,
                or hints that :func:`rasterize_hints` refuses (outside the image, not numbers).
        """
        L = image_to_L(image)
        engine = Engine(self.backend, EngineSettings(**{**self.settings.__dict__, "smoothing": "off"}))
        small = inference_size(*L.shape, self.settings.inference_short_side, self.backend.multiple)
        if isinstance(hints, Iterable) and not isinstance(hints, (np.ndarray, str, bytes)):
            hints = list(hints)  # an iterator is read once: its length decides whether there are hints
        # no hints on any model: None, or an empty list, tuple or array
        no_hints = hints is None or (isinstance(hints, (list, tuple, np.ndarray)) and len(hints) == 0)
        hint_map = None if no_hints else rasterize_hints(hints, L.shape, small)
        [[frame]] = engine.run([Frame(L=L, hints=hint_map)])
        return _rgb(frame)

    def colorize_frames(self, frames: Iterable[np.ndarray], batch_size: int = 8,
                        references: dict[int, np.ndarray] | None = None) -> Iterator[np.ndarray]:
        """Colorize a sequence of frames of one size, keeping temporal state (smoothing, cuts).

        Args:
            frames: uint8 ``(H, W)`` or ``(H, W, 3)`` arrays.
            batch_size: frames per generator call, 1 to :data:`~streamcolor.pipeline.MAX_BATCH_SIZE`.
            references: see :meth:`colorize_video`.

        Returns:
            an iterator of uint8 ``(H, W, 3)`` RGB, one per input frame, in order.

        Raises:
            InputError: at the call, ``batch_size`` not a whole number from 1 to
                :data:`~streamcolor.pipeline.MAX_BATCH_SIZE`, or bad references; while
                iterating, a frame of the wrong dtype or shape, or of another size than the first.
                A reference past the last frame: at the call where ``frames`` has a length,
                else after the last frame.
        """
        batch_size = RunSettings(batch_size=batch_size).batch_size  # checked as a video run's is
        if not isinstance(frames, Iterable) or isinstance(frames, (str, bytes)):
            raise InputError(f"frames must be an iterable of uint8 images (a list, a generator), "
                             f"not {type(frames).__name__}")
        references = check_references(references)
        last_reference = max(references, default=-1)
        if isinstance(frames, Sized):
            check_reference_range(last_reference, len(frames), "the frames given")
        engine = Engine(self.backend, self.settings, references, batch_size)
        return _frames_out(engine, frames, last_reference)

    def colorize_video(self, src: str | os.PathLike, dst: str | os.PathLike, *, encode: EncodeSettings | None = None,
                       batch_size: int = 8, overwrite: bool = False, progress: bool = False,
                       on_batch: Callable[[int, av.VideoFrame], None] | None = None, resume: bool = False,
                       segment_frames: int = 250, references: dict[int, np.ndarray] | None = None,
                       **encode_fields: Any) -> Report:
        """Colorize a video file into ``dst`` as the CLI does (audio copied, timing kept).

        ``encode``: the encoder's settings (:class:`~streamcolor.media.EncodeSettings`: codec,
        crf, preset); ``encode_fields``, its fields by name, replace the ones in ``encode``
        (e.g. ``crf=18``).

        ``resume``: work in keyframe-aligned segments kept beside ``dst`` until the end, so
        that a run stopped in any way (even SIGKILL) continues from the last finished
        segment when called again with ``resume=True`` and the same arguments; a segment
        ends at the first source keyframe after ``segment_frames`` frames.

        ``references``: colour images by 0-based frame index in decode order (uint8
        ``(H, W, 3)`` RGB, any size, e.g. a hand-coloured still of that frame). The frame
        takes the reference's ab (its luma stays the film's) and the colour is carried
        forward through the shot, and back over up to 48 frames before it, along optical
        flow, fading where tracking fails; a scene cut ends it. Raises InputError for a
        frame index past the end.

        ``batch_size``: frames per generator call, 1 to :data:`~streamcolor.pipeline.MAX_BATCH_SIZE`.
        ``overwrite``: replace ``dst`` if it exists (else InputError). ``progress``: a tqdm bar
        on stderr.

        ``on_batch(frames_done, last_frame)`` is called after each batch (progress, previews).

        Returns:
            a :class:`~streamcolor.pipeline.Report`: frames written, audio/subtitle packets
            carried over, wall seconds, and the busy seconds of each stage.

        Raises:
            InputError, MediaError: see :func:`streamcolor.pipeline.colorize_video`.
        """
        encode = _changed(encode or EncodeSettings(), encode_fields)
        settings = RunSettings(encode, batch_size, segment_frames)
        references = check_references(references)
        run = None
        if resume:  # another model, backend or references make the finished segments stale
            run = {"model": self.name, "weights": weights_digest(self.model),
                   # as JSON keeps it: a tuple comes back a list, and the run would never match
                   "model_args": json.loads(json.dumps(getattr(self.model, "model_args", {}), default=str)),
                   "backend": self.backend.name,
                   "references": {str(i): _image_digest(image) for i, image in sorted(references.items())},
                   "settings": dataclasses.asdict(self.settings)}
        engine = Engine(self.backend, self.settings, references)
        return colorize_video(engine, src, dst, settings, overwrite, progress, on_batch, run)

    def colorize_folder(self, src_dir: str | os.PathLike, dst_dir: str | os.PathLike, *,
                        encode: EncodeSettings | None = None, batch_size: int = 8, overwrite: bool = False,
                        progress: bool = False, resume: bool = False, segment_frames: int = 250,
                        ray: RaySettings | None = None, on_file: Callable[[FileResult], None] | None = None,
                        reraise: bool = False, **encode_fields: Any) -> list[FileResult]:
        """Colorize every video in ``src_dir`` (not recursive) into ``dst_dir``, same names
        (:func:`streamcolor.media.output_name`: an .mpg or .mpeg film is written as .mkv).

        A film whose output exists is skipped (``dst_dir`` only ever holds finished files, so a
        rerun picks up where a stopped batch ended) unless ``overwrite``. A film that fails is
        reported and the batch goes on: a :class:`StreamcolorError` with its message, any other
        exception (a bug, a library error not wrapped yet) as ``unexpected <Type>: <first
        line>``, or raised when ``reraise``. Files without a video suffix are reported as
        ignored.

        ``encode``, ``encode_fields``, ``batch_size``, ``progress``, ``resume`` and
        ``segment_frames`` are :meth:`colorize_video`'s, for each film. With ``ray``
        (:class:`streamcolor.distributed.RaySettings`) each film is a Ray task instead, and
        the results come when all have ended.

        ``on_file(result)`` is called as each file's result is known, in the order returned
        (a batch can take hours: a front end shows each line at once).

        Returns:
            One :class:`FileResult` per file, in ``on_file``'s order: ignored files, films
            skipped or whose output name is taken, then the others, each kind by name.

        Films that would be written under one name (``x.mkv`` and ``x.mpg``) all fail, with
        that reason: neither is written, and an output already there is not taken as either's.

        Raises:
            InputError: ``src_dir`` is no folder; ``dst_dir`` is a file or ``src_dir`` itself,
                or its parent folder is missing; ``src_dir`` holds no video, ``resume`` with
                ``ray``, or a setting :meth:`colorize_video` refuses (before any folder is made).
        """
        src_dir, dst_dir = Path(src_dir), Path(dst_dir)
        if not src_dir.is_dir():
            raise InputError(f"input folder {str(src_dir)!r} " + ("is not a folder" if src_dir.exists() else "does not exist"))
        if ray is not None and resume:
            raise InputError("resume does not apply to a Ray batch: a rerun skips the films already done")
        if dst_dir.exists() and not dst_dir.is_dir():
            raise InputError(f"output {str(dst_dir)!r} must be a folder when the input is a folder")
        if dst_dir.exists() and dst_dir.resolve() == src_dir.resolve():
            raise InputError(f"output folder {str(dst_dir)!r} is the input folder: the colour films would take the "
                             "names of the originals; choose another folder")
        files = sorted(p for p in src_dir.iterdir() if p.is_file())
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        if not videos:
            raise InputError(f"no video files ({' '.join(VIDEO_SUFFIXES)}) in {str(src_dir)!r}")
        if not dst_dir.parent.is_dir():  # a typo must not leave a tree of new folders behind
            raise InputError(f"output folder {str(dst_dir)!r}: its parent folder does not exist")
        encode = _changed(encode or EncodeSettings(), encode_fields)
        RunSettings(encode, batch_size, segment_frames)  # refused here, not once per film
        try:
            dst_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"output folder {str(dst_dir)!r} cannot be made ({exc.strerror})") from exc
        results: list[FileResult] = []

        def done(status: str, name: str, detail: str) -> None:
            results.append(FileResult(status, name, detail))
            if on_file is not None:
                on_file(results[-1])

        for other in files:
            if other not in videos:
                done("ignored", other.name, "not a video file suffix")
        todo, clashes = [], _name_clashes(videos)
        for video in videos:
            if clashes[video]:  # neither is written, nor an output already there taken as either's
                names = " and ".join(v.name for v in sorted([video, *clashes[video]]))
                done("FAILED", video.name, f"{names} would both be written as {output_name(video)!r}: rename one")
            elif (dst_dir / output_name(video)).exists() and not overwrite:
                done("skipped (done)", video.name, "the output exists (--overwrite redoes it)")
            else:
                todo.append((video, dst_dir / output_name(video)))
        if ray is not None:
            task_options = {"encode": encode, "batch_size": batch_size, "overwrite": overwrite}
            for name, frames, fps, status, error in colorize_archive(self, todo, ray, task_options, progress):
                done(status, name, error or f"{frames} frames, {fps:.1f} fps")
            return results
        for video, dst in todo:
            try:
                report = self.colorize_video(video, dst, encode=encode, batch_size=batch_size, overwrite=overwrite,
                                             progress=progress, resume=resume, segment_frames=segment_frames)
            except StreamcolorError as exc:
                done("FAILED", video.name, str(exc))
            except Exception as exc:  # a bug or a library error we do not wrap yet: the batch goes on
                if reraise:
                    raise
                first_line = (str(exc).strip().splitlines() or [""])[0]
                done("FAILED", video.name, f"unexpected {type(exc).__name__}: {first_line}")
            else:
                done("ok", video.name, f"{report.frames} frames, {report.frames / max(report.seconds, 1e-9):.1f} fps")
        return results
