"""Containers: probing, a threaded reader, and a writer that copies every other stream.

Only this module touches PyAV containers; FFmpeg errors are wrapped here, once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import heapq
import itertools
import logging
import math
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from streamcolor.errors import InputError, MediaError, is_whole
from streamcolor.frame import Frame

_END = object()
log = logging.getLogger("streamcolor")
#: seconds: how far a packet may fall behind its stream's last one before its time counts as a
#: jump back (FFmpeg's own tool's threshold)
JUMP_BACK = Fraction(1, 10)
#: seconds: how near two streams' ends must be for their jumps back to be one join of recordings
JOIN_MATCH = Fraction(2)
#: video packets read after a seek to find the first keyframe (a GOP is rarely over 300 frames)
SEEK_PACKETS = 1000
_JUMPED = "'{}' has times that jump (files joined as one): it cannot be split or resumed; colorize it whole"


@dataclass(frozen=True)
class VideoInfo:
    """What the writer must reproduce of the source's video stream.

    ``frames`` is 0 when the container does not say; ``time_base`` is the unit of pts;
    ``bit_depth`` is 8, or 10 for any deeper source (its luma is read at 10 bits);
    ``field_order`` is FFmpeg's AVFieldOrder (0 unknown, 1 progressive, 2-5 interlaced);
    ``constant_rate``: every frame's pts is on the grid of 1 / ``average_rate``, measured only where
    an output needs it (:func:`probe_for`).
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
    rotation: int = 0
    has_alpha: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    bit_depth: int = 8
    field_order: int = 0
    constant_rate: bool = False
    disposition: int = 0


#: Suffixes of the containers read in folder mode.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
#: Suffixes of the containers written (the suffix picks the container). MPEG program streams
#: (.mpg, .mpeg) are read but not written: they hold none of the ``--codec`` encoders' video.
OUTPUT_SUFFIXES = tuple(s for s in VIDEO_SUFFIXES if s not in (".mpg", ".mpeg"))
#: What an MPEG transport stream carries: FFmpeg's muxer has no codec table to ask, so PyAV's
#: ``supported_codecs`` names only MPEG-2 video for it.
_MPEGTS_CODECS = {"h264", "hevc", "mpeg2video", "aac", "mp3", "mp2", "ac3", "eac3"}
#: Audio that FFmpeg puts in an MP4 or QuickTime file but that players do not play there: transcoded.
_MP4_UNPLAYABLE = {"vorbis"}
#: Audio FFmpeg's muxer lists for QuickTime but then refuses ("only supported in MP4"): transcoded.
_MOV_REFUSED = {"opus", "flac"}
#: Stream tags that describe the source's encoding (Matroska's statistics, written by mkvmerge
#: as e.g. ``BPS-eng``; WebM's alpha, which the output has not), not the picture: wrong for the
#: new one, so not copied.
_STALE_TAGS = {"encoder", "duration", "bps", "number_of_frames", "number_of_bytes", "vendor_id", "alpha_mode"}
#: Containers that store a display rotation (FFmpeg writes it only there).
_ROTATING_FORMATS = {"mp4", "mov", "ipod", "matroska", "webm"}
#: A channel layout for each channel count that both AAC and Opus encoders take, for a source
#: that leaves the order unspecified ("2 channels": WMA, AVI's PCM), which MP4 and AAC refuse.
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def check_input(path: str | os.PathLike, role: str = "input") -> Path:
    """Raise :class:`InputError` unless ``path`` is an existing, non-empty regular file; the
    message names it by ``role`` (``"input"``, ``"reference"``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{role} {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"{role} {str(path)!r} is a directory; give a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{role} {str(path)!r} is empty (0 bytes)")
    return path


@contextlib.contextmanager
def _ffmpeg_errors() -> Iterator[list[tuple[int, str, str]]]:
    """FFmpeg's error log of this thread while in the context, as (level, name, message):
    it names causes its error codes do not. PyAV passes the log on only at a set level, and
    drops a message that repeats the one before (the same cause in the previous file)."""
    level, skip_repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture() as logs:
            yield logs
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(skip_repeated)


def _is_still_image(container: av.container.InputContainer) -> bool:
    """Read by one of FFmpeg's single-picture demuxers: image2 or a ``*_pipe`` (png_pipe, jpeg_pipe ...)."""
    return container.format.name == "image2" or container.format.name.endswith("_pipe")


def _open(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading.

    Raises:
        InputError: not a media file (an MP4 without its index is named as truncated), a
            still image, or no video stream.
    """
    with _ffmpeg_errors() as logs:
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except av.FFmpegError as exc:
            if _starts_as_mp4(path) and any("moov atom not found" in message for _, _, message in logs):
                raise InputError(f"{str(path)!r} looks truncated or unfinished: its index (the MP4 'moov' box, "
                                 "written last) is missing, and no tool can read the film without it") from exc
            hint = "" if path.suffix.lower() in VIDEO_SUFFIXES else f" ({_suffix_hint(path)})"
            raise InputError(f"cannot read {str(path)!r} as a video: {exc.strerror or exc}{hint}") from exc
    if _is_still_image(container):
        container.close()
        raise InputError(f"{str(path)!r} is a still image, not a video (photos are colorized by the demo's "
                         "photo tab, streamcolor demo, or the API's Colorizer.colorize_image)")
    if not any(not _is_cover(stream) for stream in container.streams.video):
        cover = " (only a cover image)" if container.streams.video else ""
        container.close()
        raise InputError(f"{str(path)!r} has no video stream{cover}")
    return container


def _is_cover(stream: av.stream.Stream) -> bool:
    """A still picture attached to the file (album art), which FFmpeg lists as a video stream."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def picture_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The video stream that is colorized: the first that is not a cover image."""
    return next(stream for stream in container.streams.video if not _is_cover(stream))


def _starts_as_mp4(path: Path) -> bool:
    """The file opens with the 'ftyp' box every MP4 and QuickTime writer puts first (FFmpeg
    tries its MP4 reader on any file named .mp4, text included)."""
    with path.open("rb") as file:
        return file.read(8)[4:] == b"ftyp"


def _suffix_hint(path: Path, suffixes: tuple[str, ...] = VIDEO_SUFFIXES) -> str:
    found = f"{path.suffix} is not a" if path.suffix else "it has no"
    return f"{found} video file suffix; use one of {', '.join(suffixes)}"


def probe(path: str | os.PathLike) -> VideoInfo:
    """The stream facts of ``path``'s first video stream, its display rotation included, from
    one opening of the file. Cached per file (path, inode, size, modification time), so that
    a front end's early check and the run after it share that one opening.

    Raises:
        InputError: missing/empty file, not a media file (an MP4 without its index is named
            as truncated), a still image, or no video stream.
    """
    path = check_input(path)
    stat = path.stat()
    return _probe(path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _probe(path: Path, inode: int, size: int, mtime_ns: int) -> VideoInfo:
    with _open(path) as container:
        return _info(picture_stream(container), _first_frame_rotation(container))


def probe_for(src: str | os.PathLike, dst: str | os.PathLike) -> VideoInfo:
    """:func:`probe`, with ``constant_rate`` measured where ``dst`` is an AVI file, whose one time
    base is its frame rate (:func:`on_rate_grid`)."""
    info = probe(src)
    if Path(dst).suffix.lower() == ".avi":
        return dataclasses.replace(info, constant_rate=on_rate_grid(src, info))
    return info


def on_rate_grid(path: str | os.PathLike, info: VideoInfo) -> bool:
    """Every video pts of ``path`` (read from packets, no decoding) lies on its own frame of the
    grid of 1 / ``info.average_rate`` from the first, to within half a tick of the time base.
    The stated rates cannot tell: Matroska gives average and base rate from one frame duration,
    equal where the frames' times are not."""
    if not info.average_rate:
        return False
    with _open(check_input(path)) as container:
        stamps = [p.pts for p in container.demux(picture_stream(container)) if p.size]
    if not stamps or None in stamps:
        return False
    stamps.sort()
    frames = [(t - stamps[0]) * info.time_base * info.average_rate for t in stamps]
    slack = info.time_base * info.average_rate / 2
    on_grid = all(abs(f - round(f)) <= slack for f in frames)
    return on_grid and len({round(f) for f in frames}) == len(frames)


def _first_frame_rotation(container: av.container.InputContainer) -> int:
    """Counter-clockwise display rotation (degrees) of the first frame: PyAV shows the display
    matrix on decoded frames only."""
    try:
        return int(next(container.decode(picture_stream(container))).rotation or 0)
    except (av.FFmpegError, StopIteration, AttributeError):
        return 0


def _info(stream: av.video.stream.VideoStream, rotation: int) -> VideoInfo:
    cc = stream.codec_context
    return VideoInfo(
        width=cc.width, height=cc.height, time_base=stream.time_base, average_rate=stream.average_rate or None,
        frames=stream.frames or 0, sample_aspect_ratio=stream.sample_aspect_ratio or None,
        color_range=cc.color_range, colorspace=cc.colorspace, color_primaries=cc.color_primaries,
        color_trc=cc.color_trc, pix_fmt=cc.pix_fmt or "", rotation=rotation,
        has_alpha=stream.metadata.get("alpha_mode") == "1" or (cc.pix_fmt or "").startswith("yuva"),
        metadata=dict(stream.metadata), bit_depth=_bit_depth(cc.pix_fmt), field_order=cc.field_order,
        disposition=int(stream.disposition),
    )


def _bit_depth(pix_fmt: str | None) -> int:
    """8, or 10 for any format with deeper components."""
    try:
        return 10 if max(c.bits for c in av.VideoFormat(pix_fmt).components) > 8 else 8
    except (TypeError, ValueError):
        return 8


_PLANAR_Y = {8: ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"),
             10: ("yuv420p10le", "yuv422p10le", "yuv444p10le", "gray10le")}


class TimeJumps:
    """Timestamps made continuous where a container's times may go back (MPEG-TS, MPEG-PS: two
    recordings joined as one file, a broadcast clock reset). A packet over :data:`JUMP_BACK`
    before the end of its stream's last packet starts a new part for its stream, which is moved
    to continue from that end. The first stream at a join sets how far; a video or audio stream
    reaching the same join (its own end within :data:`JOIN_MATCH` of it) is moved as far, so the
    new part keeps its own sync, unless that would take its time back, when it continues from
    its own end; a sparse stream (subtitles, data) takes the latest join that keeps its time
    going forward. Times that go forward (a gap) are kept. Elsewhere (``container``'s format
    has no FFmpeg ``ts_discont`` flag) nothing moves."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.active = bool(container.format.flags & av.format.Flags.ts_discont.value)
        self.joins: list[tuple[Fraction, Fraction]] = []  # (where, in moved seconds; seconds added there)
        self._offset: dict[int, Fraction] = {}  # per stream: seconds added to its packets now
        self._next: dict[int, Fraction] = {}  # per stream: the end of its last packet, in moved seconds

    @property
    def jumped(self) -> bool:
        return bool(self.joins)

    def __call__(self, packet: av.Packet) -> None:
        """Move ``packet``'s pts and dts in place."""
        tb, index = packet.time_base, packet.stream.index
        t = packet.dts if packet.dts is not None else packet.pts
        if not self.active or t is None or not tb:
            return
        raw, offset, expected = t * tb, self._offset.get(index, Fraction(0)), self._next.get(index)
        if expected is not None and raw + offset < expected - JUMP_BACK:
            offset = self._offset[index] = self._join(packet.stream.type in ("video", "audio"), raw, expected)
        shift = round(offset / tb)
        if shift:
            packet.pts = None if packet.pts is None else packet.pts + shift
            packet.dts = None if packet.dts is None else packet.dts + shift
        self._next[index] = raw + offset + (packet.duration or 0) * tb

    def _join(self, dense: bool, raw: Fraction, expected: Fraction) -> Fraction:
        """The offset of a stream whose time went back to ``raw`` after reaching ``expected``."""
        forward = [(where, added) for where, added in self.joins if raw + added >= expected - JUMP_BACK]
        if dense:
            near = [(abs(where - expected), added) for where, added in forward if abs(where - expected) <= JOIN_MATCH]
            if near:
                return min(near)[1]
        elif forward:
            return forward[-1][1]
        self.joins.append((expected, expected - raw))
        return expected - raw


def _luma(frame: av.VideoFrame, bit_depth: int) -> np.ndarray:
    """The Y' plane ``(H, W)``: uint8, or uint16 10-bit codes; other pixel formats are
    converted to yuv420p at that depth first."""
    if frame.format.name not in _PLANAR_Y[bit_depth]:
        frame = frame.reformat(format=_PLANAR_Y[bit_depth][0])
    plane = frame.planes[0]
    dtype = np.dtype(np.uint8 if bit_depth == 8 else "<u2")
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
    return rows[:, : plane.width].copy()


#: Memory the decoded pictures waiting for the engine may take (:func:`read_queue_size`).
READ_QUEUE_BYTES = 64 * 2**20


def frames_within(budget: int, frame_bytes: int) -> int:
    """How many items of ``frame_bytes`` a queue holds: 32 while they fit in ``budget`` bytes,
    fewer for large pictures, never under 8 (a batch)."""
    return max(8, min(32, budget // max(frame_bytes, 1)))


def luma_bytes(info: VideoInfo) -> int:
    """Bytes of one decoded Y' plane of the video ``info`` describes (8 bits: 1 a sample, more: 2)."""
    return info.width * info.height * (1 if info.bit_depth == 8 else 2)


def read_queue_size(info: VideoInfo) -> int:
    """Decoded pictures the reader may hold ahead of the engine: 32 up to 1080p, 8 at
    3840x2160. Decoding runs well ahead of inference, so a short queue costs no speed, while
    32 4K Y' planes held 265 MB (docs/performance.md, session 14)."""
    return frames_within(READ_QUEUE_BYTES, luma_bytes(info))


class VideoReader:
    """Demux and decode in a background thread into a bounded queue.

    Iterating yields a :class:`~streamcolor.frame.Frame` (pts, time_base, key, Y) per picture
    of the first video stream and ``av.Packet`` for every audio, subtitle and further video
    stream (to be copied), in demux order. Packets that fail to decode (a damaged or
    truncated file) are skipped and counted in ``damaged``; the caller reports them. Use as
    a context manager.

    Args:
        path: the video file.
        queue_size: decoded items held ahead of the consumer (None: :func:`read_queue_size`).
        start_pts: seek first to the keyframe at or before this pts (video time_base).
        decode_video: False = yield only the packets of the copied streams (no pictures).
        info: the source's :func:`probe`, when the caller has it (None = probe here).
        jumps_allowed: False = times that jump (:class:`TimeJumps`) raise InputError while
            iterating, for a caller that seeks by the source's pts (a resumed run), which
            are ambiguous in such a file.
        others: False = the other streams are not demuxed (a caller that writes the video only).

    Raises (on construction):
        InputError: missing/empty file, not a media file, or no video stream.
    """

    def __init__(self, path: str | os.PathLike, queue_size: int | None = None, start_pts: int | None = None,
                 decode_video: bool = True, info: VideoInfo | None = None, jumps_allowed: bool = True,
                 others: bool = True) -> None:
        self.path = check_input(path)
        self.jumps_allowed, self.others = jumps_allowed, others
        self.info = info or probe(self.path)
        queue_size = queue_size or read_queue_size(self.info)
        self.container = _open(self.path)
        self.video = picture_stream(self.container)
        self.video.thread_type = "AUTO"
        self.audio = list(self.container.streams.audio)
        #: every stream but the picture's: the writer copies, transcodes or drops each (with a warning)
        self.copied = [stream for stream in self.container.streams if stream is not self.video]
        self.damaged = 0
        # AVI keeps decode times only, which FFmpeg hands on as every packet's pts, so that
        # with B-frames the pictures come out of the decoder with their times out of order:
        # each takes the earliest time not yet given instead, as the display order has it
        self._reorder: list[int] | None = [] if self.container.format.name == "avi" else None
        self.last_time = 0.0  # seconds: pts of the latest decoded frame
        self.start_pts, self.decode_video = start_pts, decode_video
        self.decode_seconds = 0.0  # wall time of the read thread spent demuxing and decoding
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

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        reorder = self._reorder is not None and packet.pts is not None
        if reorder:
            heapq.heappush(self._reorder, packet.pts)
        try:
            frames = packet.decode()
        except av.FFmpegError:
            self.damaged += 1
            if reorder:  # no picture will take its time: the pictures after keep their own
                self._reorder.remove(packet.pts)
                heapq.heapify(self._reorder)
            return []
        for frame in frames:
            if self._reorder:  # the earliest time not yet given
                frame.pts = heapq.heappop(self._reorder)
        return frames

    def _run(self) -> None:
        try:
            for item in self._items():
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # re-raised in the consumer
            self._put(exc)

    def _items(self) -> Iterator[Frame | av.Packet]:
        """Decoded luma frames and copied packets in demux order, timing the work."""
        started = time.perf_counter()
        for packet in self._demux():
            if packet.stream is self.video:
                for frame in self._decode(packet):
                    if frame.time is not None:
                        self.last_time = max(self.last_time, frame.time)
                    item = Frame(frame.pts, frame.time_base or self.video.time_base, bool(frame.key_frame),
                                 _luma(frame, self.info.bit_depth))
                    self.decode_seconds += time.perf_counter() - started
                    yield item
                    started = time.perf_counter()
            elif packet.size:
                self.decode_seconds += time.perf_counter() - started
                yield packet
                started = time.perf_counter()

    def ended_early(self) -> bool:
        """True when decoding stopped over a second before the duration the container states
        (a file cut short: its header still describes the whole film)."""
        video = self.video
        if video.duration:  # the video stream's own length; audio may run longer
            stated, start = float(video.duration * video.time_base), float((video.start_time or 0) * video.time_base)
        elif self.container.duration:
            stated, start = self.container.duration / 1_000_000, (self.container.start_time or 0) / 1_000_000
        else:
            return False
        return self.last_time - start < stated - 1.0

    def _demux(self) -> Iterator[av.Packet]:
        """Demux until the end or until the file stops making sense (a truncated file)."""
        if self.start_pts is not None:
            self._seek(self.start_pts)
        if not (self.decode_video or (self.copied and self.others)):
            return
        others = self.copied if self.others else []
        packets = self.container.demux([self.video, *others] if self.decode_video else others)
        jumps = TimeJumps(self.container)
        while True:
            try:
                packet = next(packets)
                jumps(packet)
                if jumps.jumped and not self.jumps_allowed:
                    raise InputError(_JUMPED.format(self.path))
                yield packet
            except StopIteration:
                return
            except av.FFmpegError:
                self.damaged += 1
                return

    def _seek(self, pts: int) -> None:
        """Seek to the keyframe at or before ``pts``. A container without an index (MPEG-TS,
        MPEG-PS) is searched by its times and can land a keyframe late, which would lose the
        frames between: then seek again, twice as far back each time, until the first keyframe
        after the seek is not after ``pts`` (the caller drops the frames before ``pts``)."""
        target, back = pts, max(1, round(1 / self.video.time_base))  # one second back first
        start = self.video.start_time or 0
        while True:
            self.container.seek(target, stream=self.video, backward=True)
            if target < start:  # before the first packet: as far back as it goes
                break
            key = self._first_key()
            if key is not None and key <= pts:
                break
            target, back = target - back, back * 2
        self.container.seek(target, stream=self.video, backward=True)  # again: the check read on

    def _first_key(self) -> int | None:
        """pts of the first keyframe demuxed from here (reading at most :data:`SEEK_PACKETS`);
        None when there is none (the seek landed past the last one)."""
        for packet in itertools.islice(self.container.demux(self.video), SEEK_PACKETS):
            if packet.is_keyframe and packet.pts is not None:
                return packet.pts
        return None

    def __iter__(self) -> Iterator[Frame | av.Packet]:
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
        video = picture_stream(container)
        return float(video.duration * video.time_base) if video.duration else None


def output_name(source: Path) -> str:
    """The file name a folder batch writes ``source`` as: its own, except that an MPEG program
    stream (not written, :data:`OUTPUT_SUFFIXES`) becomes Matroska, which holds its audio as it is."""
    return source.name if source.suffix.lower() in OUTPUT_SUFFIXES else source.stem + ".mkv"


def check_output(path: str | os.PathLike, source: Path, overwrite: bool) -> Path:
    """Raise unless ``path`` can be written without losing anything.

    Raises:
        InputError: not a written video file suffix (:data:`OUTPUT_SUFFIXES`), same file as the input,
            or it exists and ``overwrite`` is False.
        MediaError: its folder is missing or not writable (checked by creating a file).
    """
    path = Path(path)
    if path.suffix.lower() in VIDEO_SUFFIXES and path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"output {str(path)!r}: {path.suffix} files are read but not written; "
                         f"use one of {', '.join(OUTPUT_SUFFIXES)}")
    if path.suffix.lower() not in OUTPUT_SUFFIXES and not path.is_dir():
        raise InputError(f"output {str(path)!r}: {_suffix_hint(path, OUTPUT_SUFFIXES)}")
    if path.exists() and (path.resolve() == source.resolve() or os.path.samefile(path, source)):
        raise InputError(f"output {str(path)!r} is the input file; choose another name")
    if path.is_dir():
        raise InputError(f"output {str(path)!r} is a directory; give a file name such as out.mp4")
    if path.exists() and not overwrite:
        raise InputError(f"output {str(path)!r} exists; pass --overwrite to replace it")
    check_writable_folder(path.parent if str(path.parent) else Path("."))
    return path


def check_writable(path: str | os.PathLike, folder: bool = False) -> None:
    """Raise unless ``path`` can be written: a file, or with ``folder`` a folder (made when
    missing), in a folder that exists and takes new files.

    Raises:
        InputError: with ``folder``, ``path`` is a file.
        MediaError: see :func:`check_writable_folder`.
    """
    path = Path(path).absolute()
    if folder and path.exists() and not path.is_dir():
        raise InputError("it is a file, not a folder")
    check_writable_folder(path if folder and path.is_dir() else path.parent)


def check_writable_folder(folder: Path) -> None:
    """Raise unless a file can be made in ``folder``.

    Raises:
        MediaError: it is missing, or not writable (checked by creating a file).
    """
    if not folder.is_dir():
        raise MediaError(f"output folder {str(folder)!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise MediaError(f"output folder {str(folder)!r} is not writable ({exc.strerror})") from exc


#: ``--codec`` names -> FFmpeg encoders.
VIDEO_ENCODERS = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
#: x264/x265 presets (``--preset``) -> SVT-AV1's; VP9 takes its speed from the name too
_SVT_PRESETS = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 7,
                "slow": 5, "slower": 4, "veryslow": 2, "placebo": 1}
PRESETS = tuple(_SVT_PRESETS)
#: ``--crf`` range: x264's and x265's scale, mapped onto VP9's and SVT-AV1's (``_encoder_options``)
CRF_RANGE = (0, 51)


@dataclass(frozen=True)
class EncodeSettings:
    """How :class:`VideoWriter` encodes the colour video. Each field is also a ``colorize``
    flag (``--codec``, ``--crf``, ``--preset``): its metadata holds the flag's ``help`` and,
    where the values are a fixed set, its ``choices``.

    Raises:
        InputError: an unknown ``codec``, ``crf`` not a whole number 0-51, an unknown ``preset``.
    """

    codec: str | None = field(default=None, metadata={
        "choices": tuple(VIDEO_ENCODERS), "help": "video codec (default h264; vp9 for .webm)"})
    crf: int = field(default=20, metadata={
        "help": "quality 0-51, lower = better (default 20): the CRF of H.264 and H.265, mapped onto VP9's and "
                "AV1's scales"})
    preset: str = field(default="medium", metadata={
        "help": "speed, as x264 names it: ultrafast ... medium (default) ... veryslow, placebo; mapped for the "
                "other codecs"})

    def __post_init__(self) -> None:
        if self.codec is not None and self.codec not in VIDEO_ENCODERS:
            raise InputError(f"codec (--codec) must be one of {', '.join(VIDEO_ENCODERS)}; got {self.codec!r}")
        if not is_whole(self.crf) or not CRF_RANGE[0] <= self.crf <= CRF_RANGE[1]:
            raise InputError(f"crf (--crf) must be {CRF_RANGE[0]} to {CRF_RANGE[1]}, a whole number (lower = better; "
                             f"18-28 typical), got {self.crf!r}")
        if self.preset not in PRESETS:
            raise InputError(f"preset (--preset) must be one of {', '.join(PRESETS)}; got {self.preset!r}")


def default_codec(path: Path) -> str:
    """H.264, except VP9 for WebM (which cannot hold H.264)."""
    return "vp9" if path.suffix.lower() == ".webm" else "h264"


def output_pix_fmt(info: VideoInfo, codec: str) -> str:
    """yuv420p, or yuv420p10le for a 10-bit source when the ``codec`` encoder can write it
    (a warning says when it cannot; an unknown codec is left to :class:`VideoWriter` to refuse)."""
    if info.bit_depth == 8 or codec not in VIDEO_ENCODERS:
        return "yuv420p"
    if "yuv420p10le" in {f.name for f in av.codec.Codec(VIDEO_ENCODERS[codec], "w").video_formats}:
        return "yuv420p10le"
    log.warning("this build's %s encoder cannot write 10-bit video: the output is 8-bit", codec)
    return "yuv420p"


#: ``--codec`` names whose 4:2:0 coding needs even picture sizes (H.264 and H.265 crop in
#: steps of one chroma sample, two pixels); VP9 and AV1 code any size
_EVEN_SIZES = {"h264", "h265"}


def output_size(info: VideoInfo, codec: str) -> tuple[int, int]:
    """(width, height) to encode: the source's, or one pixel more on an odd side for
    H.264 and H.265 (the last column or row repeated, with a warning): the smallest change
    that keeps every pixel.

    Raises:
        InputError: a size the codec's encoder cannot take (:func:`_refuse_size`).
    """
    _refuse_size(info.width, info.height, codec)
    if codec not in _EVEN_SIZES or (info.width % 2 == 0 and info.height % 2 == 0):
        return info.width, info.height
    width, height = info.width + info.width % 2, info.height + info.height % 2
    log.warning("%dx%d has an odd side and %s 4:2:0 needs even sizes: written as %dx%d, the last column or row "
                "repeated (--codec vp9 or av1 keep the size)", info.width, info.height, codec, width, height)
    return width, height


def _refuse_size(width: int, height: int, codec: str) -> None:
    """Refuse, before anything is written or warned, a size this build's encoder cannot code:
    SVT-AV1 encodes forever with one side under 32 pixels and the other over 64 (2000x16,
    128x24, 16x128 hang; 64x16, 640x32, 16x16 do not; session 14); x265 refuses a side under
    16 pixels after the padding to even sizes (14x64 and 12x12 refused, 16x16 and 16x2000 not;
    session 15)."""
    if codec == "av1" and min(width, height) < 32 and max(width, height) > 64:
        raise InputError(f"the av1 encoder (SVT-AV1) never finishes {width}x{height} video (a side under 32 pixels "
                         "and the other over 64); --codec vp9 takes any size")
    if codec == "h265" and min(width + width % 2, height + height % 2) < 16:
        raise InputError(f"the h265 encoder (x265) refuses {width}x{height} video (a side under 16 pixels); "
                         "--codec vp9 takes any size")


#: AVFieldOrder of interlaced video -> ffprobe's name for it
_FIELD_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}
#: the field orders x264 codes (fields coded and shown in the same order)
_X264_FIELDS = {2: "tff", 3: "bff"}


def _interlace_options(info: VideoInfo, codec: str) -> dict[str, str]:
    """x264 options that code the picture's two fields in the source's order, so that
    players deinterlace it as they did the source; other codecs (and the rare mixed orders)
    code it progressive (:func:`warn_field_order_lost`)."""
    if codec == "h264" and info.field_order in _X264_FIELDS:
        return {"x264-params": f"{_X264_FIELDS[info.field_order]}=1"}
    return {}


def warn_field_order_lost(info: VideoInfo, codec: str) -> None:
    """Warn when ``codec`` will flag interlaced ``info`` progressive; once per run (a resumed
    run writes a file per segment)."""
    if info.field_order in _FIELD_ORDERS and not _interlace_options(info, codec):
        log.warning("the source is interlaced (field order %s) and %s does not code that here: the output is "
                    "flagged progressive (--codec h264 keeps tt and bb)", _FIELD_ORDERS[info.field_order], codec)


#: containers that store one timestamp per packet, its decode time: B-frames, shown in another
#: order, would be given the wrong times (decoders returned them going backwards)
_DECODE_TIME_ONLY = (".avi", ".wmv")


def _adts_into_decode_time_only(source: av.stream.Stream, path: Path) -> bool:
    """AAC framed as ADTS (MPEG-TS's way: no AudioSpecificConfig in the extradata) bound for a
    :data:`_DECODE_TIME_ONLY` container, whose muxers need that config in their header and
    refuse the copy ("Invalid argument")."""
    cc = source.codec_context
    return cc.name == "aac" and not cc.extradata and path.suffix.lower() in _DECODE_TIME_ONLY


def _in_decode_order(codec: str, path: Path) -> dict[str, str]:
    """x264 without B-frames for :data:`_DECODE_TIME_ONLY` containers (of our codecs they hold
    H.264 alone)."""
    return {"bf": "0"} if codec == "h264" and path.suffix.lower() in _DECODE_TIME_ONLY else {}


def _ticks(t: int, src: Fraction, dst: Fraction) -> int:
    """``t`` ticks of ``src`` in ticks of ``dst``, halves away from 0 (FFmpeg's ``av_rescale_q``;
    Python's ``round`` takes halves to even, so that odd half-frame times would collide)."""
    x = abs(t * src / dst)
    return int(math.copysign(math.floor(x + Fraction(1, 2)), t))


def _video_time_base(info: VideoInfo, path: Path) -> Fraction:
    """The output video's time base: the source's, but 1 / rate for an AVI file of a constant
    rate. AVI's one time base is its frame rate: given the source's (1/12288), FFmpeg writes 1/600
    with empty chunks between the frames, and tools then report 600 fps and 24 times the frames.
    A variable rate keeps the fine time base, which keeps every frame's time."""
    if path.suffix.lower() == ".avi" and info.constant_rate:
        return 1 / info.average_rate
    return info.time_base


def _encoder_options(codec: str, encode: EncodeSettings) -> dict[str, str]:
    """FFmpeg options of the ``codec`` encoder for ``encode``'s quality and speed."""
    crf, preset = encode.crf, encode.preset
    if codec == "h264":
        return {"crf": str(crf), "preset": preset}
    if codec == "h265":  # x265 logs its whole configuration otherwise
        return {"crf": str(crf), "preset": preset, "x265-params": "log-level=error"}
    if codec == "vp9":  # constant quality mode; speed from the preset's position
        return {"crf": str(crf + 11), "b": "0", "deadline": "good", "cpu-used": "4" if "fast" in preset else "2",
                "row-mt": "1"}
    return {"crf": str(crf + 10), "preset": str(_SVT_PRESETS[preset])}


class VideoWriter:
    """Write the colour video plus the source's audio and subtitle streams to a temporary
    file beside ``path``; :meth:`commit` renames it into place, and leaving the context
    without committing deletes it, so a half-written file never sits at ``path``.

    Streams the container can hold are copied packet for packet (further video streams with
    a warning: they stay black and white); audio it cannot hold is transcoded (AAC, or Opus
    for WebM, keeping its times), and other streams it cannot hold, cover images, attachments
    and data streams are dropped, each with a warning. An interlaced source keeps its field
    order with H.264 (a warning otherwise). Container metadata, chapters, stream metadata and
    dispositions, and display rotation (where the container stores one) are kept.

    Args:
        path: destination; its suffix picks the container.
        info: the source video's :class:`VideoInfo` (size, time_base, rate, SAR, colour).
        copied: the source's streams to copy (:attr:`VideoReader.copied`).
        metadata, chapters: container-level metadata and chapters to carry over.
        encode: codec (a key of :data:`VIDEO_ENCODERS`; None = :func:`default_codec`), and
            x264-style quality and speed (mapped for VP9 and AV1).
        pix_fmt: encoded pixel format (None = :func:`output_pix_fmt`).
        size: encoded (width, height) (None = :func:`output_size`).
        video_template: copy already encoded video packets of this stream's kind
            (:meth:`copy_video`) instead of encoding pictures.
        first_pts: pictures are written at their pts minus this (source time_base): a part
            of a film, which :func:`mux_segments` puts back at ``first_pts``.

    Raises:
        InputError: the container cannot hold the chosen video codec, or its encoder refuses
            the picture size.
        MediaError: the file cannot be created.
    """

    def __init__(self, path: Path, info: VideoInfo, copied: list[av.stream.Stream],
                 metadata: dict[str, str] | None = None, chapters: list | None = None, *,
                 encode: EncodeSettings = EncodeSettings(), pix_fmt: str | None = None,
                 size: tuple[int, int] | None = None, video_template: av.VideoStream | None = None,
                 first_pts: int = 0) -> None:
        self.path, self.first_pts = path, first_pts
        self.source_time_base, self.time_base = info.time_base, _video_time_base(info, path)
        self._last_pts: int | None = None
        self.tmp = hidden_beside(path, "streamcolor-part", path.suffix)
        self._lock: int | None = claim(self.tmp, path)
        try:
            self.container = av.open(str(self.tmp), "w")
        except (av.FFmpegError, ValueError) as exc:
            self.tmp.unlink(missing_ok=True)
            self._release()
            raise MediaError(f"cannot write {str(path)!r}: {exc}") from exc
        self.committed = False
        #: packets of the copied streams written so far (copied, or decoded to be transcoded)
        self.carried = 0
        self._last_dts: dict[int, Fraction] = {}  # output stream index -> its last copied dts, in seconds
        self._audio_end: dict[int, int] = {}  # output stream index -> end of its last transcoded frame
        try:
            self.container.metadata.update(metadata or {})
            if chapters:
                self.container.set_chapters(chapters)
            if video_template is None:
                self.video = self._add_video(info, encode, pix_fmt, size)
            else:
                self.video = self.container.add_stream_from_template(video_template)
                if info.average_rate:  # a segment's stream carries none: Matroska would say 1/time_base
                    self.video.codec_context.framerate = info.average_rate
            self._describe_video(info)
            self.encoding = video_template is None
            self.outputs = {s.index: self._add_copy(s) for s in copied}
        except BaseException:
            self.discard()
            raise
        self.outputs = {k: v for k, v in self.outputs.items() if v is not None}

    def _add_video(self, info: VideoInfo, encode: EncodeSettings, pix_fmt: str | None,
                   size: tuple[int, int] | None) -> av.VideoStream:
        codec = encode.codec or default_codec(self.path)
        if codec not in VIDEO_ENCODERS:
            raise InputError(f"unknown codec {codec!r}; choose one of {', '.join(VIDEO_ENCODERS)}")
        canonical = av.codec.Codec(VIDEO_ENCODERS[codec], "w").canonical_name
        if not self._holds(canonical):
            raise InputError(f"a {self.path.suffix} file cannot hold {codec} video; choose another --codec or suffix")
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole config to stderr otherwise
        interlace = _interlace_options(info, codec)
        stream = self.container.add_stream(VIDEO_ENCODERS[codec], rate=info.average_rate,
                                           options={**_encoder_options(codec, encode), **interlace,
                                                    **_in_decode_order(codec, self.path)})
        stream.width, stream.height = size or output_size(info, codec)
        stream.pix_fmt = pix_fmt or output_pix_fmt(info, codec)
        cc = stream.codec_context
        cc.time_base = self.time_base
        cc.thread_type = "AUTO"
        if info.sample_aspect_ratio:
            cc.sample_aspect_ratio = info.sample_aspect_ratio
        # an RGB source's matrix (0, "GBR") would tell players the YUV output is RGB: unspecified
        # instead, which they read as :func:`streamcolor.pipeline.ycbcr_matrix` writes it
        cc.color_range, cc.colorspace = info.color_range, (2 if info.colorspace == 0 else info.colorspace)
        cc.color_primaries, cc.color_trc = info.color_primaries, info.color_trc
        if interlace:  # the container's flag too (Matroska, QuickTime)
            cc.field_order = info.field_order
        _refuse_size(stream.width, stream.height, codec)  # output_size checks too, before its warning
        try:  # now rather than at the first frame, so that a refusal is reported as such
            cc.open()
        except av.FFmpegError as exc:
            raise InputError(f"the {codec} encoder refuses {stream.width}x{stream.height} video ({exc.strerror}); "
                             "--codec vp9 takes any size") from exc
        return stream

    def _describe_video(self, info: VideoInfo) -> None:
        """Time base, tags (but those that describe the old encoding), disposition and display
        rotation of the source on the output video."""
        self.video.time_base = self.time_base
        self.video.metadata.update({k: v for k, v in info.metadata.items()
                                    if k.lower().split("-")[0] not in _STALE_TAGS and not k.startswith("_STATISTICS")})
        self.video.disposition = info.disposition
        if info.rotation:
            if self.container.format.name in _ROTATING_FORMATS:
                self.video.set_display_rotation(info.rotation)
            else:
                log.warning("a %s file cannot say the picture is to be turned %d degrees: players will show it "
                            "as stored", self.path.suffix, info.rotation)

    def _holds(self, codec: str) -> bool:
        """The output container can hold ``codec`` (an FFmpeg codec name) where players read it."""
        if self.container.format.name == "mpegts":
            return codec in _MPEGTS_CODECS
        if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") and codec in _MP4_UNPLAYABLE:
            return False
        if self.container.format.name == "mov" and codec in _MOV_REFUSED:
            return False
        if self.container.format.name in ("mp4", "ipod") and codec.startswith("pcm_"):  # no tag for PCM there
            return False
        return codec in self.container.supported_codecs

    def _add_copy(self, source: av.stream.Stream) -> tuple[av.stream.Stream, bool] | None:
        """(output stream, transcode?) for a copied stream, or None when it is dropped."""
        if source.type not in ("audio", "subtitle", "video"):
            # a QuickTime timecode track is written anew from the video's "timecode" tag
            if not (source.type == "data" and "timecode" in source.metadata):
                named = f" ({source.metadata['filename']})" if "filename" in source.metadata else ""
                log.warning("%s stream %d%s is dropped: only audio, subtitles and video are carried over",
                            source.type, source.index, named)
            return None
        name = source.codec_context.codec.canonical_name  # "mp3", where the decoder is "mp3float"
        if source.type == "video" and _is_cover(source):
            log.warning("the cover image (%s video stream %d) is dropped", name, source.index)
            return None
        adts = _adts_into_decode_time_only(source, self.path)
        if self._holds(name) and not adts:
            out = self.container.add_stream_from_template(source)
            transcode = False
            if source.type == "video":
                log.warning("video stream %d is copied as it is: only the first video stream is colorized",
                            source.index)
        elif source.type == "audio":
            encoder = "libopus" if self.path.suffix.lower() == ".webm" else "aac"
            rate = 48000 if encoder == "libopus" else source.codec_context.sample_rate
            out = self.container.add_stream(encoder, rate=rate, layout=_layout(source, encoder))
            log.warning("%s audio%s cannot go in a %s file: transcoding it to %s", name, " as ADTS (MPEG-TS's framing)"
                        if adts else "", self.path.suffix, out.codec_context.codec.canonical_name)
            transcode = True
        else:
            log.warning("%s %s stream %d cannot go in a %s file: dropped", name, source.type, source.index,
                        self.path.suffix)
            return None
        out.metadata.update(source.metadata)
        out.disposition = source.disposition  # which track players pick, forced subtitles
        return out, transcode

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.discard()

    def discard(self) -> None:
        """Close and delete the temporary file (nothing reaches the destination)."""
        try:
            self.container.close()
        except av.FFmpegError:
            pass  # closing a file we are throwing away: nothing worth reporting
        self.tmp.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def copy_packet(self, packet: av.Packet) -> None:
        """Mux a packet of a copied stream (transcoding it when the container needs that)."""
        if packet.stream.index not in self.outputs:
            return
        out, transcode = self.outputs[packet.stream.index]
        with self._errors():
            if not transcode:
                packet.stream = out
                self._after_last(packet, out)
                self.container.mux(packet)
                self.carried += 1
                return
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                log.warning("an audio packet at pts %s could not be decoded (%s): skipped", packet.pts, exc)
                return
            self.carried += 1
            for frame in frames:
                self._audio_time(frame, out.index)
                self.container.mux(out.encode(frame))

    def _audio_time(self, frame: av.AudioFrame, index: int) -> None:
        """Keep a decoded frame's pts (the audio's start and its gaps), but never before the end
        of the frame before: the encoder refuses time going back (two files joined as one)."""
        tb = frame.time_base
        end = self._audio_end.get(index)
        if tb is None or (frame.pts is not None and end is not None and frame.pts < end):
            frame.pts = end  # None before the first frame: the encoder counts from 0
        if frame.pts is not None and tb is not None:
            self._audio_end[index] = frame.pts + round(Fraction(frame.samples, frame.sample_rate) / tb)

    def _after_last(self, packet: av.Packet, out: av.stream.Stream) -> None:
        """Put ``packet``'s dts in ``out``'s time base, after the last one muxed there. A
        container that counts time coarsely (AVI counts AAC audio in frames of 1,024 samples)
        rounds the jittering times of a cut clip's audio onto the one before, and refuses the
        file; FFmpeg's own tool moves such a dts on by one tick too. (Muxing would rescale the
        packet itself; it is done here to compare in the output's ticks. Those can change once,
        when the first packet writes the header: the last time is kept in seconds.)"""
        if packet.time_base and packet.time_base != out.time_base:
            packet.pts, packet.dts, packet.duration = (
                None if t is None else _ticks(t, packet.time_base, out.time_base)
                for t in (packet.pts, packet.dts, packet.duration))
            packet.time_base = out.time_base
        if packet.dts is None:
            return
        last = self._last_dts.get(out.index)
        if last is not None and packet.dts <= math.floor(last / out.time_base):
            packet.dts = math.floor(last / out.time_base) + 1
            if packet.pts is not None:
                packet.pts = max(packet.pts, packet.dts)
        self._last_dts[out.index] = packet.dts * out.time_base

    def write(self, frame: av.VideoFrame) -> None:
        """Encode one picture (its pts in the source time_base)."""
        if frame.pts is not None:
            frame.pts = self._pts(frame.pts)
            frame.time_base = self.time_base
        with self._errors():
            self.container.mux(self.video.encode(frame))

    def _pts(self, pts: int) -> int:
        """A picture's output pts: moved back by ``first_pts``, in the output time base, and after
        the last one (a demuxer's own time for the last frame can round onto the one before)."""
        pts = pts - self.first_pts
        if self.time_base == self.source_time_base:
            return pts
        pts = _ticks(pts, self.source_time_base, self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        return pts

    def copy_video(self, packet: av.Packet) -> None:
        """Mux an encoded video packet (``video_template`` mode)."""
        packet.stream = self.video
        with self._errors():
            self.container.mux(packet)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except av.FFmpegError as exc:
            raise MediaError(f"writing {str(self.path)!r} failed: {exc.strerror or exc}") from exc

    def commit(self) -> None:
        """Flush the encoders, close the file and rename it to the destination."""
        with self._errors():
            if self.encoding:
                self.container.mux(self.video.encode(None))
            for out, transcode in self.outputs.values():
                if transcode:
                    self.container.mux(out.encode(None))
            self.container.close()
        durable_replace(self.tmp, self.path)
        self._release()
        self.committed = True


def hidden_beside(path: Path, tag: str, suffix: str = "") -> Path:
    """A hidden name beside ``path`` for its work in progress, ``.NAME.TAG`` + ``suffix`` (NAME
    without ``suffix`` where it ends so), shortened to a digest of NAME where that would be
    over the 255 bytes a filesystem takes (a valid long output name must not be refused)."""
    name = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.name
    hidden = f".{name}.{tag}{suffix}"
    if len(hidden.encode()) > 255:
        hidden = f".{hashlib.sha256(name.encode()).hexdigest()[:32]}.{tag}{suffix}"
    return path.with_name(hidden)


def durable_replace(tmp: Path, path: Path) -> None:
    """``os.replace`` after the file's data reach the disk, and the rename too: a power cut
    leaves the old name or the whole new file, never a renamed empty one."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError:  # some filesystems cannot sync a folder; the data are synced
        pass
    finally:
        os.close(folder)


def video_frames(path: Path) -> int | None:
    """Pictures in ``path``'s first video stream, counted from its packets (no decoding: an
    index's count can describe a file that was cut); None when it cannot be read (an empty or
    cut file)."""
    try:
        with av.open(str(path)) as container:
            return sum(1 for packet in container.demux(video=0) if packet.size)
    except (av.FFmpegError, IndexError, ValueError):
        return None


def claim(tmp: Path, path: Path) -> int:
    """A descriptor of the work file ``tmp`` (a part file, a resume folder's lock file) holding
    its exclusive lock. Another run writing the same output holds it; the OS lets go of it when
    a run ends, however it ends, so the work of a killed run is taken over, not left beside the
    output. Where the filesystem has no locks (NFS mounted nolock) the file is written
    unguarded, as before there were locks.

    Raises:
        InputError: another run is writing ``path``.
        MediaError: ``tmp`` cannot be made.
    """
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise MediaError(f"cannot write {str(path)!r}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(f"another run is writing {str(path)!r} now") from None
    except OSError as exc:
        log.debug("no lock on %s (%s): written unguarded", tmp, exc.strerror)
    return fd


def _layout(source: av.audio.stream.AudioStream, encoder: str) -> str:
    """The channel layout to transcode ``source`` to with ``encoder``: its own,
    or :data:`_DEFAULT_LAYOUTS`' for its channel count where its order is unspecified or the
    encoder is Opus, which takes only Vorbis' channel orders (not 2.1)."""
    layout = source.codec_context.layout
    if layout.name.endswith(" channels") or encoder == "libopus":
        return _DEFAULT_LAYOUTS.get(layout.nb_channels, layout.name)
    return layout.name


def keyframes(path: str | os.PathLike) -> tuple[list[tuple[int, int]], int]:
    """Keyframes of the first video stream, read from packets only (no decoding).

    Returns:
        ``(frame index in presentation order, pts)`` of each keyframe, and the frame count.

    Raises:
        InputError: see :class:`VideoReader`, or packets without timestamps.
    """
    with _open(check_input(path)) as container:
        stamps, keys, jumps = [], set(), TimeJumps(container)
        for packet in container.demux(picture_stream(container)):
            if not packet.size:
                continue
            jumps(packet)
            if packet.pts is None:
                raise InputError(f"{str(path)!r} has video packets without timestamps: it cannot be split")
            if jumps.jumped:
                raise InputError(_JUMPED.format(path))
            stamps.append(packet.pts)
            if packet.is_keyframe:
                keys.add(packet.pts)
    order = sorted(stamps)
    return [(i, t) for i, t in enumerate(order) if t in keys], len(order)


def _seconds(packet: av.Packet) -> float:
    t = packet.dts if packet.dts is not None else packet.pts or 0
    return float(t * packet.time_base) if packet.time_base else 0.0


def segment_suffix(dst: Path) -> str:
    """The container of the parts a film is written in before :func:`mux_segments` joins them
    into ``dst``: ``dst``'s own, but MP4 for Matroska, whose demuxer gives the first packets of
    a B-frame stream no dts, which a join needs, and for MPEG-TS and FLV, whose muxers move each
    part's times on by the encoder's delay (80 ms for x264's B-frames), which the join would add
    to the video's (MP4 keeps every dts and holds every codec here)."""
    return ".mp4" if dst.suffix.lower() in (".mkv", ".ts", ".flv") else dst.suffix


def _moved(part: av.container.InputContainer, start: Fraction) -> Iterator[av.Packet]:
    """The video packets of ``part`` with ``start`` seconds added to their timestamps."""
    offset = round(start / part.streams.video[0].time_base)
    for packet in part.demux(video=0):
        if packet.size:
            packet.pts = None if packet.pts is None else packet.pts + offset
            packet.dts = None if packet.dts is None else packet.dts + offset
            yield packet


def mux_segments(segments: list[Path], starts: list[int], source: str | os.PathLike, dst: Path,
                 info: VideoInfo) -> int:
    """Write ``dst`` from encoded video segments, their packets copied in order (no
    re-encoding) and moved to start at ``starts`` (the source pts of each segment's first
    picture, which its file holds at 0: :class:`VideoWriter`'s ``first_pts``), and the other
    streams of ``source`` (:attr:`VideoReader.copied`), through a temporary file as
    :class:`VideoWriter` does. Returns the number of the source's packets carried over.

    Raises:
        MediaError: a segment cannot be read or the output cannot be written.
    """
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(VideoReader(source, decode_video=False, info=info))
        try:
            parts = [stack.enter_context(av.open(str(p))) for p in segments]
        except av.FFmpegError as exc:
            raise MediaError(f"cannot read a finished segment: {exc}") from exc
        writer = stack.enter_context(VideoWriter(dst, info, reader.copied, dict(reader.container.metadata),
                                                 reader.container.chapters(), video_template=parts[0].streams.video[0]))
        video = ((True, p) for part, start in zip(parts, starts) for p in _moved(part, start * info.time_base))
        for is_video, packet in heapq.merge(video, ((False, p) for p in reader), key=lambda t: _seconds(t[1])):
            if is_video:
                writer.copy_video(packet)
            else:
                writer.copy_packet(packet)
        writer.commit()
    return writer.carried


def read_rgb_frames(path: str | os.PathLike, short_side: int | None = None,
                    crop: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Decode the first video stream as uint8 RGB ``(H, W, 3)`` frames, optionally cut to the
    top-left ``crop`` = (width, height) first (the pixel an H.264 output adds to an odd side goes),
    then resized (area filter) so the short side is ``short_side`` (for metrics).

    Raises:
        InputError: see :class:`VideoReader`.
    """
    import cv2

    container = _open(check_input(path))
    with container:
        stream = picture_stream(container)
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if crop is not None:
                rgb = rgb[:crop[1], :crop[0]]
            if short_side and min(rgb.shape[:2]) > short_side:
                s = short_side / min(rgb.shape[:2])
                rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
            yield rgb
