"""The streaming pipeline: one loop (:meth:`_Run.loop`) for a whole film, resumable
segments and Ray spans:

decode (thread) -> :class:`~streamcolor.frame.Frame` items, numbered, with L at the
chroma-plane size -> :class:`~streamcolor.engine.Engine` (its stages: cuts, inference,
smoothing, references, guided upsampling) -> Cb/Cr from Lab -> a frame with the source's
exact Y' plane -> encode (thread); audio packets are copied as they are demuxed. Memory is
bounded by the reader queue, the engine's delay and the encode queue; nothing is written
to disk but the output.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np
import torch
from tqdm import tqdm

from streamcolor.color import lab_to_cbcr, luma_code_to_L
from streamcolor.engine import Engine
from streamcolor.errors import InputError, MediaError, is_whole
from streamcolor.frame import Frame
from streamcolor.media import (EncodeSettings, VideoInfo, VideoReader, VideoWriter, check_output, default_codec,
                               frames_within, luma_bytes, mux_segments, output_pix_fmt, output_size, probe_for,
                               segment_suffix, video_frames, warn_field_order_lost)
from streamcolor.segments import Segment, SegmentStore
from streamcolor.backends.device import maths_device, to_device

log = logging.getLogger("streamcolor")

# FFmpeg AVColorSpace / AVColorRange codes used below
_BT709, _RANGE_JPEG = 1, 2


@dataclass(frozen=True)
class RunSettings:
    """How a run writes its video: the encoder's :class:`~streamcolor.media.EncodeSettings`,
    frames per inference batch and, in resumable runs, the frames after which a segment
    ends at the next source keyframe."""

    encode: EncodeSettings = EncodeSettings()
    batch_size: int = 8
    segment_frames: int = 250

    def __post_init__(self) -> None:
        """Raises InputError for a batch or segment that is not a whole number of frames, 1 or
        more, or a batch above :data:`MAX_BATCH_SIZE`."""
        for name, value in (("batch_size", self.batch_size), ("segment_frames", self.segment_frames)):
            if not is_whole(value) or value < 1:
                raise InputError(f"{name} (--{name.replace('_', '-')}) must be 1 or more, got {value!r}")
        if self.batch_size > MAX_BATCH_SIZE:
            raise InputError(f"batch_size (--batch-size) must be at most {MAX_BATCH_SIZE}: the frames of a batch are "
                             f"held in memory until it is full; got {self.batch_size}")


#: Frames per generator call at most: each waits, at full size, until its batch is full, so
#: that memory grows with the batch (about 10 MB a 1080p frame).
MAX_BATCH_SIZE = 64


@dataclass(frozen=True)
class Report:
    """What a run did: frames written, packets of the other streams (audio, subtitles) carried
    into the output (copied, or transcoded where the container needs it), wall time in seconds, the wall
    seconds each stage was busy (``decode`` and ``encode`` run on their own threads, so the
    stages overlap; the largest is the bottleneck), and of the frames, those a resumed run
    kept from the runs before it (colorized then, not in ``seconds``)."""

    frames: int
    carried_packets: int
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    resumed_frames: int = 0

    @property
    def copied_packets(self) -> int:
        """Deprecated name of :attr:`carried_packets` (until session 26)."""
        return self.carried_packets


def ycbcr_matrix(info: VideoInfo) -> str:
    """BT.709 when the stream says so or, unspecified, for HD sizes; BT.601 otherwise."""
    if info.colorspace == _BT709 or (info.colorspace in (0, 2) and info.height >= 720):
        return "bt709"
    return "bt601"


class _ChromaWriter:
    """Turns (Y', ab) into yuv420p frames (8 or 10 bits) of ``size`` with the source's exact
    Y' plane (a 10-bit Y' written at 8 bits is rounded to 8; a ``size`` one pixel larger than
    the source's repeats its last column or row). The Lab -> Cb/Cr maths run in OpenCV,
    or in torch on ``device`` (the CUDA device of the generator, :func:`maths_device`)."""

    def __init__(self, info: VideoInfo, pix_fmt: str, size: tuple[int, int],
                 device: torch.device | None = None) -> None:
        self.full_range = info.color_range == _RANGE_JPEG or info.pix_fmt.startswith("yuvj")
        self.matrix = ycbcr_matrix(info)
        self.lut = luma_code_to_L(self.full_range, info.bit_depth)
        self.chroma_size = ((info.height + 1) // 2, (info.width + 1) // 2)
        self.width, self.height = size
        # an odd side padded to even keeps the chroma size: (n + 1) // 2 samples either way
        self.pad = ((0, self.height - info.height), (0, self.width - info.width))
        self.format, self.out_bits = pix_fmt, 10 if pix_fmt == "yuv420p10le" else 8
        self.in_bits, self.dtype = info.bit_depth, np.dtype(np.uint8 if self.out_bits == 8 else "<u2")
        self.device = device

    def L(self, Y: np.ndarray) -> np.ndarray:
        """float32 L in [0, 100] at the chroma-plane size: Y' codes area-averaged over each
        chroma sample, then mapped to L. Averaging Y' (gamma-encoded, as 4:2:0 chroma is
        made from gamma-encoded R'G'B') before the lookup also keeps the lookup and the
        engine's work at a quarter of the pixels."""
        return self.lut[cv2.resize(Y, self.chroma_size[::-1], interpolation=cv2.INTER_AREA)]

    def frame(self, Y: np.ndarray, lab: np.ndarray) -> av.VideoFrame:
        if self.in_bits > self.out_bits:
            Y = ((Y.astype(np.uint16) + 2) >> 2).clip(0, 255).astype(np.uint8)
        if any(after for _, after in self.pad):
            Y = np.pad(Y, self.pad, mode="edge")
        cbcr = self.cbcr(lab)
        frame = av.VideoFrame(self.width, self.height, self.format)
        for plane, data in zip(frame.planes, (Y, cbcr[..., 0], cbcr[..., 1])):
            view = np.frombuffer(plane, self.dtype).reshape(plane.height, plane.line_size // self.dtype.itemsize)
            view[:, : plane.width] = data
        return frame

    def cbcr(self, lab: np.ndarray) -> np.ndarray:
        """float32 Lab ``(h, w, 3)`` at the chroma size -> Cb, Cr codes ``(h, w, 2)`` of the output's dtype."""
        if self.device is None:
            return lab_to_cbcr(lab, self.matrix, self.full_range, self.out_bits)
        codes = lab_to_cbcr(to_device(lab, self.device), self.matrix, self.full_range, self.out_bits)
        return codes.cpu().numpy().astype(self.dtype, copy=False)


def colorize_video(engine: Engine, src: str | os.PathLike, dst: str | os.PathLike,
                   settings: RunSettings = RunSettings(), overwrite: bool = False,
                   progress: bool = True, on_batch: Callable[[int, av.VideoFrame], None] | None = None,
                   resume_run: dict | None = None) -> Report:
    """Colorize ``src`` into ``dst`` (container from its suffix), copying the audio.

    Frame count, pts, time_base, frame rate, sample aspect ratio, colour metadata and
    container metadata are those of the source; the Y' plane is the source's.
    ``on_batch(frames_done, last_frame)`` is called after each encoded batch.

    ``resume_run`` (JSON-able, naming the model and its settings) makes the run resumable:
    the video is written as keyframe-aligned segments beside ``dst``
    (:mod:`streamcolor.segments`), a run stopped in any way continues from the last
    finished segment when called again with the same arguments, and the segments are
    joined without re-encoding at the end.

    Raises:
        InputError: bad input or output path (see :func:`streamcolor.media.check_output`).
        MediaError: decoding or writing failed; nothing is left at ``dst``.
    """
    started = time.perf_counter()
    info, source = probe_for(src, dst), Path(src)
    dst = check_output(dst, source, overwrite)
    check_reference_range(engine.last_reference, info.frames or None)  # 0: a container that states no count
    engine.turn_references(info.rotation, (info.height, info.width))  # a still of a phone clip is turned
    if info.has_alpha:
        log.warning("%s has an alpha channel; the colour output is opaque (alpha dropped)", source.name)
    engine.reset(settings.batch_size)
    # delay: a refusal while the output opens is then the only line on stderr
    with tqdm(total=info.frames or None, unit="frame", desc="colorize", disable=not progress, delay=0.5) as bar:
        run = _Run(engine, settings, info, bar, on_batch)
        if resume_run is None:
            frames, copied = run.whole(source, dst)
        else:
            frames, copied = run.segmented(source, dst, resume_run)
    return Report(frames, copied, time.perf_counter() - started, {**run.stages, **engine.seconds}, run.kept)


def colorize_span(engine: Engine, source: Path, part: Path, info: VideoInfo, first: int, span: Segment,
                  before: Segment | None, settings: RunSettings,
                  on_frames: Callable[[int], None] | None = None) -> int:
    """Colorize one span of a film (for parallel workers) into the video-only file ``part``.

    Writes the ``span.frames`` frames from ``span.start_pts`` (frame index ``first``; a
    source keyframe), through a temporary file renamed when complete. The last frames of
    ``before``, the span just before it, run through the engine first, so smoothing and
    cut detection continue across the border as in a single pass. ``info`` is the film's
    :func:`~streamcolor.media.probe`. Returns frames written; ``on_frames(done)`` is called
    after each batch with the frames written so far.

    Raises:
        InputError, MediaError: as :func:`colorize_video`.
    """
    engine.reset(settings.batch_size)
    run = _Run(engine, settings, info, tqdm(disable=True), None if on_frames is None else lambda n, _: on_frames(n))
    with VideoReader(source, start_pts=(before or span).start_pts, info=info, others=False) as reader:
        encode, pix_fmt, size = _resolve(settings.encode, part, info)
        with VideoWriter(part, info, [], encode=encode, pix_fmt=pix_fmt, size=size,
                         first_pts=span.start_pts) as writer:
            frames = run.loop(reader, pix_fmt, size, _Start(first, before, span.frames),
                              lambda frame, key: writer.write(frame), lambda packet: None, writer.commit)
    return frames


def _resolve(encode: EncodeSettings, dst: Path, info: VideoInfo) -> tuple[EncodeSettings, str, tuple[int, int]]:
    """``encode`` with the codec chosen for ``dst``'s container, and the pixel format and size to encode."""
    codec = encode.codec or default_codec(dst)
    warn_field_order_lost(info, codec)
    return dataclasses.replace(encode, codec=codec), output_pix_fmt(info, codec), output_size(info, codec)


@dataclass(frozen=True)
class _Start:
    """Where a run starts: the index of its first frame; ``after``, a finished segment or span
    just before it (the reader starts at or before its first frame, whose frames are
    skipped, the last of them warming the engine up); at most ``limit`` frames (None = to the end)."""

    index: int = 0
    after: Segment | None = None
    limit: int | None = None


class _Run:
    """One video's colour loop, writing one file, resumable segments or a span."""

    #: generator runs on the finished segment's last frames (16 x ``infer_every`` frames)
    #: made again on resume, so the temporal smoothing and cut detector start warm
    WARM_UP = 16

    def __init__(self, engine: Engine, settings: RunSettings, info: VideoInfo, bar: tqdm,
                 on_batch: Callable[[int, av.VideoFrame], None] | None) -> None:
        self.engine, self.settings, self.info, self.bar, self.on_batch = engine, settings, info, bar, on_batch
        self.stages = {"decode": 0.0, "to_yuv": 0.0, "encode": 0.0}
        self.encoded = 0  # frames written (the bar may be disabled and not count)
        self.kept = 0  # frames of finished segments a resumed run keeps

    def loop(self, reader: VideoReader, pix_fmt: str, size: tuple[int, int], start: _Start,
             write: Callable[[av.VideoFrame, bool], None], copy: Callable[[av.Packet], None],
             finish: Callable[[], None]) -> int:
        """The one loop: the reader's frames through the engine into ``write(frame, source
        keyframe?)`` on the encode thread as ``pix_fmt`` frames of ``size`` (:func:`_resolve`),
        packets of the other streams to ``copy`` (on that thread) as they are demuxed, then
        ``finish()`` on the encode thread. Returns the frames written.

        Raises:
            InputError: a reference frame past the end of the video, reference frames for a
                video too small for optical flow.
        """
        chroma = _ChromaWriter(self.info, pix_fmt, size, maths_device(self.engine.backend))
        frames = 0
        with _EncodeThread(self.info) as encoder:
            for done in self.engine.run(self._frames(reader, chroma, start, functools.partial(encoder.submit, copy))):
                self.bar.update(len(done))
                for i, item in enumerate(done):
                    encoder.submit(self._encode, item, chroma, write, i == len(done) - 1)
                frames += len(done)
            check_reference_range(self.engine.last_reference, start.index + frames)
            encoder.submit(finish)  # the encoder's flush is encoding time too
        self.stages["decode"] += reader.decode_seconds
        self.stages["encode"] += encoder.busy_seconds - self.stages["to_yuv"]  # to_yuv runs in its jobs too
        if start.limit is None:
            _report_damage(reader, start.index + frames)
        return frames

    def _frames(self, reader: VideoReader, chroma: _ChromaWriter, start: _Start,
                copy: Callable[[av.Packet], None]) -> Iterator[Frame]:
        """The frames to colorize, numbered from ``start.index``, with L at the chroma-plane
        size; the engine is warmed up on the frames of ``start.after`` first."""
        skip = start.after.frames if start.after else 0
        warm: deque[Frame] = deque(maxlen=self.WARM_UP * self.engine.settings.infer_every)
        index, landed = start.index, start.after is None
        for item in reader:
            if not isinstance(item, Frame):
                copy(item)
                continue
            if start.after and item.pts is not None and item.pts < start.after.start_pts:
                continue  # the seek landed on an earlier keyframe
            if not landed:  # the frames are counted from here: a later one would lose those between
                if item.pts is not None and item.pts != start.after.start_pts:
                    raise MediaError(f"{reader.path.name}: a seek to the frame at pts {start.after.start_pts} "
                                     f"found {item.pts}: it cannot be resumed or split; colorize it whole")
                landed = True
            if skip:
                warm.append(item)
                skip -= 1
                if not skip:
                    self._warm_up(list(warm), start.index, chroma)
                continue
            if index - start.index == start.limit:
                return
            item.index, item.L = index, chroma.L(item.Y)
            index += 1
            yield item

    def _warm_up(self, frames: list[Frame], first: int, chroma: _ChromaWriter) -> None:
        """Run the frames just before frame ``first`` through the engine; their colour is not written."""
        for k, item in enumerate(frames):
            item.index, item.L = first - len(frames) + k, chroma.L(item.Y)
            self.engine.push(item)
        self.engine.flush()

    def _encode(self, item: Frame, chroma: _ChromaWriter, write: Callable[[av.VideoFrame, bool], None],
                ends_batch: bool) -> None:
        """Make one colour frame and write it. Runs on the encode thread, so the Cb/Cr maths
        overlaps the next batch's inference; ``on_batch`` follows a batch's last frame."""
        started = time.perf_counter()
        out = chroma.frame(item.Y, item.lab())
        out.pts, out.time_base = item.pts, item.time_base
        self.stages["to_yuv"] += time.perf_counter() - started
        write(out, item.key)
        self.encoded += 1
        if ends_batch and self.on_batch is not None:
            self.on_batch(self.encoded, out)

    def whole(self, source: Path, dst: Path) -> tuple[int, int]:
        """Everything in one pass into one file. Returns (frames, packets of the other streams
        carried over)."""
        encode, pix_fmt, size = _resolve(self.settings.encode, dst, self.info)
        with VideoReader(source, info=self.info) as reader:
            with VideoWriter(dst, self.info, reader.copied, dict(reader.container.metadata),
                             reader.container.chapters(), encode=encode, pix_fmt=pix_fmt, size=size) as writer:
                frames = self.loop(reader, pix_fmt, size, _Start(), lambda frame, key: writer.write(frame),
                                   writer.copy_packet, writer.commit)
        return frames, writer.carried

    def _warm_span(self, segments: list[Segment]) -> Segment | None:
        """The finished segments a resumed run reads again to warm the engine up, as one span:
        the last ones, back until they hold the warm-up's frames (short segments would give it
        fewer, and the colour a jump at the join); None with none finished."""
        need, frames, first = self.WARM_UP * self.engine.settings.infer_every, 0, None
        for first in reversed(segments):
            frames += first.frames
            if frames >= need:
                break
        return None if first is None else Segment("", first.start_pts, frames)

    def segmented(self, source: Path, dst: Path, resume_run: dict) -> tuple[int, int]:
        """Resumable: finished segments are kept, the rest is colorized, then all are joined."""
        stat = source.stat()
        store = SegmentStore(dst, {**resume_run, "source": str(source.resolve()), "size": stat.st_size,
                                   "mtime_ns": stat.st_mtime_ns, "encode": asdict(self.settings)}, video_frames)
        self.kept = store.frames
        try:
            if not store.complete:
                self._colorize_segments(source, dst, store)
            copied = mux_segments(store.paths(), [s.start_pts for s in store.segments], source, dst, self.info)
        except BaseException:
            if store.segments:
                store.release()
            else:
                store.remove()  # nothing worth keeping: leave nothing beside the output
            raise
        store.remove()
        return store.frames, copied

    def _colorize_segments(self, source: Path, dst: Path, store: SegmentStore) -> None:
        warm = self._warm_span(store.segments)
        if warm:
            log.info("resuming at frame %d (%d finished segments kept)", store.frames, len(store.segments))
        self.bar.update(store.frames)
        self.encoded = store.frames
        with VideoReader(source, start_pts=warm.start_pts if warm else None, info=self.info,
                         jumps_allowed=False, others=False) as reader:
            encode, pix_fmt, size = _resolve(self.settings.encode, dst, self.info)
            sink = _SegmentSink(store, self.info, encode, self.settings.segment_frames, pix_fmt, size,
                                segment_suffix(dst))
            try:
                self.loop(reader, pix_fmt, size, _Start(store.frames, warm), sink.write, lambda packet: None,
                          sink.close)
            finally:
                sink.discard()  # an unfinished segment (after an error) is not kept
        store.finish()


class _SegmentSink:
    """Encodes frames into segment files, starting a new one on the first source keyframe
    after ``segment_frames`` frames; runs on the encode thread."""

    def __init__(self, store: SegmentStore, info: VideoInfo, encode: EncodeSettings, segment_frames: int,
                 pix_fmt: str, size: tuple[int, int], suffix: str) -> None:
        self.store, self.info, self.encode, self.suffix = store, info, encode, suffix
        self.segment_frames = segment_frames
        self.pix_fmt, self.size = pix_fmt, size
        self.writer: VideoWriter | None = None
        self.start_pts, self.count = 0, 0

    def write(self, frame: av.VideoFrame, key: bool) -> None:
        """Encode ``frame``; ``key``: it is a keyframe of the source (a segment may start there)."""
        if self.writer is None or (key and self.count >= self.segment_frames):
            self.close()
            path = self.store.next_file().with_suffix(self.suffix)
            # each segment starts at pts 0: an MP4 would keep a later start in its edit list, which
            # counts in milliseconds and so moved every later frame (by 8 ticks of 1/12288 s in one film)
            self.writer = VideoWriter(path, self.info, [], encode=self.encode, pix_fmt=self.pix_fmt, size=self.size,
                                      first_pts=frame.pts)
            self.start_pts, self.count = frame.pts, 0
        self.writer.write(frame)
        self.count += 1

    def close(self) -> None:
        """Finish the open segment and record it."""
        if self.writer is not None:
            self.writer.commit()
            self.store.add(Segment(self.writer.path.name, self.start_pts, self.count))
            self.writer = None

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()


def check_reference_range(last_index: int, frames: int | None, of: str = "the video") -> None:
    """Raise InputError when reference frame ``last_index`` (-1: none) is past the end of ``of``
    (the words for what holds ``frames`` frames; None = not known yet: no check)."""
    if frames is not None and frames <= last_index:
        raise InputError(f"reference frame {last_index} is past the end of {of} (frames 0 to {frames - 1})")


def _report_damage(reader: VideoReader, frames: int) -> None:
    if reader.damaged or reader.ended_early():
        packets = f"; {reader.damaged} unreadable packet{'s' * (reader.damaged > 1)}" if reader.damaged else ""
        log.warning("%s is damaged or truncated (pictures end at %.1f s%s): the output holds the %d frames that "
                    "decoded", reader.path.name, reader.last_time, packets, frames)


#: bytes the encode thread's waiting jobs may hold (Y' and Lab at the chroma size each)
ENCODE_QUEUE_BYTES = 256 * 2**20


def encode_queue_size(info: VideoInfo) -> int:
    """Frames that may wait for the encode thread: 32 (four batches of 8) while they fit in
    :data:`ENCODE_QUEUE_BYTES`, fewer for large pictures, never under 8.

    Inference hands over a batch at a time while x264's frame threads take frames in bursts;
    with room for only two batches the encoder ran dry between them (1.65 of 2 cores busy on
    the bunny clip against 1.89 with 32, and 20-25 % fewer fps, docs/performance.md). 32 jobs
    of 854x480 hold 52 MB; of 3840x2160 they would hold 1 GB, so 4K gets 8.
    """
    lab = ((info.width + 1) // 2) * ((info.height + 1) // 2) * 3 * 4  # float32
    return frames_within(ENCODE_QUEUE_BYTES, luma_bytes(info) + lab)


class _EncodeThread:
    """Runs the writer's calls in order on one background thread, so encoding overlaps
    inference; the bounded queue keeps memory flat. An error in the thread is re-raised
    in the caller at the next submit or on leaving the context.

    :func:`encode_queue_size` frames (jobs) of the video ``info`` describes may wait."""

    def __init__(self, info: VideoInfo) -> None:
        self.jobs: queue.Queue = queue.Queue(maxsize=encode_queue_size(info))
        self.error: BaseException | None = None
        self.busy_seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="streamcolor-encode", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                started = time.perf_counter()
                try:
                    job[0](*job[1:])
                except BaseException as exc:  # handed to the caller
                    self.error = exc
                self.busy_seconds += time.perf_counter() - started

    def submit(self, fn: Callable, *args: object) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put((fn, *args))

    def __enter__(self) -> "_EncodeThread":
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None and self.error is None:
            self.error = exc[1]  # the caller failed: skip the queued work, the file is discarded
        self.jobs.put(None)
        self.thread.join()
        if exc[0] is None and self.error is not None:
            raise self.error
