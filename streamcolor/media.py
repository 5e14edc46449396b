"""Containers: probing, a threaded reader, and a writer that copies every other stream.

Only this module touches PyAV containers; FFmpeg errors are wrapped here, once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from streamcolor.errors import InputError, MediaError

_END = object()


@dataclass(frozen=True)
class VideoInfo:
    """What the writer must reproduce of the source's video stream.

    ``frames`` is 0 when the container does not say; ``time_base`` is the unit of pts.
    """

    width: int
    height: int
    time_base: Fraction
    average_rate: Fraction | None
    frames: int
    sample_aspect_ratio: Fraction | None
    color_range: int
    colorspace: int
    color_primaries: int
    color_trc: int
    pix_fmt: str


@dataclass
class LumaFrame:
    """One decoded picture: its luma plane (uint8 ``(H, W)``, the source's own Y') and timing."""

    Y: np.ndarray
    pts: int | None
    time_base: Fraction


def check_input(path: str | os.PathLike) -> Path:
    """Raise :class:`InputError` unless ``path`` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"input {str(path)!r} is a directory; give a video file")
    if path.stat().st_size == 0:
        raise InputError(f"input {str(path)!r} is empty (0 bytes)")
    return path


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InputError(f"cannot read {str(path)!r} as a video: {exc.strerror or exc}") from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"{str(path)!r} has no video stream")
    return container


def _info(stream: av.video.stream.VideoStream) -> VideoInfo:
    cc = stream.codec_context
    return VideoInfo(
        width=cc.width, height=cc.height, time_base=stream.time_base, average_rate=stream.average_rate or None,
        frames=stream.frames or 0, sample_aspect_ratio=stream.sample_aspect_ratio or None,
        color_range=cc.color_range, colorspace=cc.colorspace, color_primaries=cc.color_primaries,
        color_trc=cc.color_trc, pix_fmt=cc.pix_fmt or "",
    )


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y' plane as uint8 (H, W); other formats are converted to yuv420p first."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width].copy()


class VideoReader:
    """Demux and decode in a background thread into a bounded queue.

    Iterating yields :class:`LumaFrame` for the first video stream and ``av.Packet``
    for every audio stream (to be copied), in demux order. Use as a context manager.

    Raises (on construction):
        InputError: missing/empty file, not a media file, or no video stream.
    """

    def __init__(self, path: str | os.PathLike, queue_size: int = 32) -> None:
        self.path = check_input(path)
        self.container = _open(self.path)
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = list(self.container.streams.audio)
        self.info = _info(self.video)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamcolor-read", daemon=True)

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for packet in self.container.demux([self.video, *self.audio]):
                if packet.stream is self.video:
                    for frame in packet.decode():
                        if not self._put(LumaFrame(_luma(frame), frame.pts, frame.time_base or self.video.time_base)):
                            return
                elif packet.size and not self._put(packet):
                    return
            self._put(_END)
        except av.FFmpegError as exc:
            self._put(MediaError(f"decoding {str(self.path)!r} failed: {exc.strerror or exc}"))
        except BaseException as exc:  # re-raised in the consumer
            self._put(exc)

    def __iter__(self) -> Iterator[LumaFrame | av.Packet]:
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.container.close()


def duration_seconds(path: str | os.PathLike) -> float | None:
    """Duration of a media file in seconds, or None when the container does not state it.

    Raises:
        InputError: see :class:`VideoReader`.
    """
    with _open(check_input(path)) as container:
        if container.duration:
            return container.duration / 1_000_000
        video = container.streams.video[0]
        return float(video.duration * video.time_base) if video.duration else None


def check_output(path: str | os.PathLike, source: Path, overwrite: bool) -> Path:
    """Raise unless ``path`` can be written without losing anything.

    Raises:
        InputError: same file as the input, or it exists and ``overwrite`` is False.
        MediaError: its folder is missing or not writable (checked by creating a file).
    """
    path = Path(path)
    if path.exists() and (path.resolve() == source.resolve() or os.path.samefile(path, source)):
        raise InputError(f"output {str(path)!r} is the input file; choose another name")
    if path.is_dir():
        raise InputError(f"output {str(path)!r} is a directory; give a file name such as out.mp4")
    if path.exists() and not overwrite:
        raise InputError(f"output {str(path)!r} exists; pass --overwrite to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MediaError(f"output folder {str(folder)!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise MediaError(f"output folder {str(folder)!r} is not writable ({exc.strerror})") from exc
    return path


class VideoWriter:
    """Write H.264 (or ``codec``) video plus copies of the source's audio streams to a
    temporary file beside ``path``; :meth:`commit` renames it into place, and leaving the
    context without committing deletes it, so a half-written file never sits at ``path``.

    Args:
        path: destination; its suffix picks the container.
        info: the source video's :class:`VideoInfo` (size, time_base, rate, SAR, colour).
        audio: the source's audio streams, copied packet for packet.
        metadata: container-level metadata to carry over (title, ...).
        crf, preset, codec, pix_fmt: encoder settings.
    """

    def __init__(self, path: Path, info: VideoInfo, audio: list[av.audio.stream.AudioStream],
                 metadata: dict[str, str] | None = None, *, codec: str = "libx264", crf: int = 20,
                 preset: str = "medium", pix_fmt: str = "yuv420p") -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.stem}.streamcolor-part{path.suffix}")
        try:
            self.container = av.open(str(self.tmp), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(f"cannot write {str(path)!r}: {exc}") from exc
        self.container.metadata.update(metadata or {})
        self.video = self._add_video(info, codec, crf, preset, pix_fmt)
        self.audio_map = {s.index: self.container.add_stream_from_template(s) for s in audio}
        self.committed = False

    def _add_video(self, info: VideoInfo, codec: str, crf: int, preset: str, pix_fmt: str) -> av.VideoStream:
        stream = self.container.add_stream(codec, rate=info.average_rate,
                                           options={"crf": str(crf), "preset": preset})
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, pix_fmt
        stream.time_base = info.time_base
        cc = stream.codec_context
        cc.time_base = info.time_base
        cc.thread_type = "AUTO"
        if info.sample_aspect_ratio:
            cc.sample_aspect_ratio = info.sample_aspect_ratio
        cc.color_range, cc.colorspace = info.color_range, info.colorspace
        cc.color_primaries, cc.color_trc = info.color_primaries, info.color_trc
        return stream

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.container.close()
            self.tmp.unlink(missing_ok=True)

    def copy_packet(self, packet: av.Packet) -> None:
        """Mux a packet of a copied stream unchanged (its pts are rescaled by the muxer)."""
        packet.stream = self.audio_map[packet.stream.index]
        with self._errors():
            self.container.mux(packet)

    def write(self, frame: av.VideoFrame) -> None:
        """Encode one picture (its pts in the source time_base)."""
        with self._errors():
            self.container.mux(self.video.encode(frame))

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except av.FFmpegError as exc:
            raise MediaError(f"writing {str(self.path)!r} failed: {exc.strerror or exc}") from exc

    def commit(self) -> None:
        """Flush the encoder, close the file and rename it to the destination."""
        with self._errors():
            self.container.mux(self.video.encode(None))
            self.container.close()
        os.replace(self.tmp, self.path)
        self.committed = True


def read_rgb_frames(path: str | os.PathLike, short_side: int | None = None) -> Iterator[np.ndarray]:
    """Decode the first video stream as uint8 RGB ``(H, W, 3)`` frames, optionally resized
    (area filter) so the short side is ``short_side`` (for metrics).

    Raises:
        InputError: see :class:`VideoReader`.
    """
    import cv2

    container = _open(check_input(path))
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if short_side and min(rgb.shape[:2]) > short_side:
                s = short_side / min(rgb.shape[:2])
                rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
            yield rgb
