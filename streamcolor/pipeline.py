"""The streaming pipeline, wired in one place:

decode (thread) -> batches of luma -> Engine (inference, smoothing, guided upsampling
to the chroma-plane size) -> Cb/Cr from Lab -> a frame with the source's exact Y'
plane -> encode; audio packets are copied as they are demuxed. Memory is bounded by
the reader queue and the batch size; nothing is written to disk but the output.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import cv2
import numpy as np
import torch
from tqdm import tqdm

from streamcolor.color import lab_to_cbcr, luma_code_to_L
from streamcolor.engine import Engine
from streamcolor.errors import InputError
from streamcolor.media import (CRF_RANGE, PRESETS, LumaFrame, VideoInfo, VideoReader, VideoWriter, check_output,
                               default_codec, mux_segments, output_pix_fmt, output_size)
from streamcolor.segments import Segment, SegmentStore
from streamcolor.backends.device import maths_device, to_device

log = logging.getLogger("streamcolor")

# FFmpeg AVColorSpace / AVColorRange codes used below
_BT709, _RANGE_JPEG = 1, 2


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings: ``codec`` (h264, h265, vp9, av1; None = by container), ``crf``
    (0-51 as in x264 and x265, lower = better, 18-28 typical; mapped onto VP9's and AV1's
    scales) and ``preset`` (x264's names, mapped likewise: :data:`streamcolor.media.PRESETS`),
    frames per inference batch; in resumable runs a segment ends at the first source
    keyframe after ``segment_frames``.

    Raises:
        InputError: ``crf`` outside 0-51, an unknown ``preset``.
    """

    codec: str | None = None
    crf: int = 20
    preset: str = "medium"
    batch_size: int = 8
    segment_frames: int = 250

    def __post_init__(self) -> None:
        if not CRF_RANGE[0] <= self.crf <= CRF_RANGE[1]:
            raise InputError(f"crf (--crf) must be {CRF_RANGE[0]} to {CRF_RANGE[1]} (lower = better; 18-28 typical), "
                             f"got {self.crf}")
        if self.preset not in PRESETS:
            raise InputError(f"preset (--preset) must be one of {', '.join(PRESETS)}; got {self.preset!r}")


@dataclass(frozen=True)
class Report:
    """What a run did: frames written, copied packets, wall time in seconds, and the wall
    seconds each stage was busy (``decode`` and ``encode`` run on their own threads, so the
    stages overlap; the largest is the bottleneck)."""

    frames: int
    copied_packets: int
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)


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
        engine's resizes at a quarter of the pixels."""
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
                   encode: EncodeSettings = EncodeSettings(), overwrite: bool = False,
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
    with VideoReader(src) as probe:  # opened, not started: checks and stream facts
        dst = check_output(dst, probe.path, overwrite)
        info, source = probe.info, probe.path
    check_reference_range(max(engine.references, default=-1), info.frames)
    if info.has_alpha:
        log.warning("%s has an alpha channel; the colour output is opaque (alpha dropped)", source.name)
    engine.reset()
    bar = tqdm(total=info.frames or None, unit="frame", desc="colorize", disable=not progress)
    run = _Run(engine, encode, bar, on_batch)
    if resume_run is None:
        frames, copied = run.whole(source, dst)
    else:
        frames, copied = run.segmented(source, dst, resume_run, info)
    bar.close()
    return Report(frames, copied, time.perf_counter() - started, {**run.stages, **engine.seconds})


def colorize_span(engine: Engine, source: Path, part: Path, first: int, span: Segment, before: Segment | None,
                  encode: EncodeSettings, on_frames: Callable[[int], None] | None = None) -> int:
    """Colorize one span of a film (for parallel workers) into the video-only file ``part``.

    Writes the ``span.frames`` frames from ``span.start_pts`` (frame index ``first``; a
    source keyframe), through a temporary file renamed when complete. The last frames of
    ``before``, the span just before it, run through the engine first, so smoothing and
    cut detection continue across the border as in a single pass. Returns frames written;
    ``on_frames(done)`` is called after each batch with the frames written so far.

    Raises:
        InputError, MediaError: as :func:`colorize_video`.
    """
    engine.reset()
    run = _Run(engine, encode, tqdm(disable=True), None if on_frames is None else lambda n, _: on_frames(n))
    with VideoReader(source, start_pts=(before or span).start_pts) as reader:
        encode, pix_fmt, size = _resolve(encode, part, reader.info)
        chroma = _ChromaWriter(reader.info, pix_fmt, size, maths_device(engine.backend))
        items = run._after(reader, before, chroma, first) if before else reader
        frames = 0
        with VideoWriter(part, reader.info, [], codec=encode.codec, crf=encode.crf, preset=encode.preset,
                         pix_fmt=pix_fmt, size=size) as writer:
            with _EncodeThread(reader.info) as encoder:
                for batch in run._frames(_first_frames(items, span.frames), chroma, lambda packet: None):
                    run.submit(encoder, batch, chroma, lambda frame, _: writer.write(frame))
                    frames += len(batch)
            writer.commit()
    return frames


def _resolve(encode: EncodeSettings, dst: Path, info: VideoInfo) -> tuple[EncodeSettings, str, tuple[int, int]]:
    """``encode`` with the codec chosen for ``dst``'s container, and the pixel format and size to encode."""
    codec = encode.codec or default_codec(dst)
    return dataclasses.replace(encode, codec=codec), output_pix_fmt(info, codec), output_size(info, codec)


def _first_frames(items: Iterable[LumaFrame | av.Packet], count: int) -> Iterator[LumaFrame]:
    """The first ``count`` pictures of ``items``."""
    if count <= 0:
        return
    for item in items:
        if isinstance(item, LumaFrame):
            yield item
            count -= 1
            if count == 0:
                return


class _Run:
    """One video's colour loop, writing either one file or resumable segments."""

    #: generator runs on the finished segment's last frames (16 x ``infer_every`` frames)
    #: made again on resume, so the temporal smoothing and cut detector start warm
    WARM_UP = 16

    def __init__(self, engine: Engine, encode: EncodeSettings, bar: tqdm,
                 on_batch: Callable[[int, av.VideoFrame], None] | None) -> None:
        self.engine, self.encode, self.bar, self.on_batch = engine, encode, bar, on_batch
        self.stages = {"decode": 0.0, "to_yuv": 0.0, "encode": 0.0}
        self.encoded = 0  # frames written (the bar may be disabled and not count)

    def _frames(self, items: Iterable[LumaFrame | av.Packet],
                chroma: _ChromaWriter, on_packet: Callable[[av.Packet], None]) -> Iterator[list[tuple[LumaFrame, np.ndarray]]]:
        """Batches of (source frame, Lab at the chroma-plane size), oldest first, counting
        progress. The engine may hold frames back for a reference ahead: they come out in
        later batches."""
        waiting: deque[LumaFrame] = deque()
        for batch in _batches(items, self.encode.batch_size, on_packet):
            waiting.extend(batch)
            done = self._pair(waiting, self.engine.colorize([chroma.L(item.Y) for item in batch], chroma.chroma_size))
            if done:
                yield done
        done = self._pair(waiting, self.engine.flush())
        if done:
            yield done

    def _pair(self, waiting: deque[LumaFrame], labs: list[np.ndarray]) -> list[tuple[LumaFrame, np.ndarray]]:
        done = [(waiting.popleft(), lab) for lab in labs]
        self.bar.update(len(done))
        return done

    def submit(self, encoder: _EncodeThread, batch: list[tuple[LumaFrame, np.ndarray]], chroma: _ChromaWriter,
               write: Callable[[av.VideoFrame, LumaFrame], None]) -> None:
        """Queue a batch's frames for the encode thread, one job a frame (the queue's bound
        stays a bound on frames held)."""
        for i, (item, lab) in enumerate(batch):
            encoder.submit(self._encode, item, lab, chroma, write, i == len(batch) - 1)

    def _encode(self, item: LumaFrame, lab: np.ndarray, chroma: _ChromaWriter,
                write: Callable[[av.VideoFrame, LumaFrame], None], ends_batch: bool) -> None:
        """Make one colour frame and write it. Runs on the encode thread, so the Cb/Cr maths
        overlaps the next batch's inference; ``on_batch`` follows a batch's last frame."""
        started = time.perf_counter()
        out = chroma.frame(item.Y, lab)
        out.pts, out.time_base = item.pts, item.time_base
        self.stages["to_yuv"] += time.perf_counter() - started
        write(out, item)
        self.encoded += 1
        if ends_batch and self.on_batch is not None:
            self.on_batch(self.encoded, out)

    def whole(self, source: Path, dst: Path) -> tuple[int, int]:
        """Everything in one pass into one file. Returns (frames, copied packets)."""
        with VideoReader(source) as reader:
            with VideoWriter(dst, reader.info, reader.copied, dict(reader.container.metadata),
                             reader.container.chapters(), codec=self.encode.codec, crf=self.encode.crf,
                             preset=self.encode.preset) as writer:
                chroma = _ChromaWriter(reader.info, writer.video.pix_fmt, (writer.video.width, writer.video.height),
                                       maths_device(self.engine.backend))
                frames = 0
                with _EncodeThread(reader.info) as encoder:
                    copied = _PacketCounter(encoder, writer.copy_packet)
                    for batch in self._frames(reader, chroma, copied):
                        self.submit(encoder, batch, chroma, lambda frame, _: writer.write(frame))
                        frames += len(batch)
                    check_reference_range(max(self.engine.references, default=-1), frames)
                    encoder.submit(writer.commit)  # the encoder's flush is encoding time too
                self._add_io(reader, encoder)
            _report_damage(reader, frames)
        return frames, copied.count

    def segmented(self, source: Path, dst: Path, resume_run: dict, info: VideoInfo) -> tuple[int, int]:
        """Resumable: finished segments are kept, the rest is colorized, then all are joined."""
        stat = source.stat()
        store = SegmentStore(dst, {**resume_run, "source": str(source.resolve()), "size": stat.st_size,
                                   "mtime_ns": stat.st_mtime_ns, "encode": asdict(self.encode)})
        try:
            if not store.complete:
                self._colorize_segments(source, dst, store)
            copied = mux_segments(store.paths(), source, dst, info)
        except BaseException:
            if not store.segments:
                store.remove()  # nothing worth keeping: leave nothing beside the output
            raise
        store.remove()
        return store.frames, copied

    def _colorize_segments(self, source: Path, dst: Path, store: SegmentStore) -> None:
        last = store.segments[-1] if store.segments else None
        if last:
            log.info("resuming at frame %d (%d finished segments kept)", store.frames, len(store.segments))
        self.bar.update(store.frames)
        self.encoded = store.frames
        with VideoReader(source, start_pts=last.start_pts if last else None) as reader:
            encode, pix_fmt, size = _resolve(self.encode, dst, reader.info)
            chroma = _ChromaWriter(reader.info, pix_fmt, size, maths_device(self.engine.backend))
            sink = _SegmentSink(store, reader.info, encode, pix_fmt, size, dst.suffix)
            items = self._after(reader, last, chroma, store.frames) if last else reader
            frames = store.frames
            try:
                with _EncodeThread(reader.info) as encoder:
                    for batch in self._frames(items, chroma, lambda packet: None):
                        self.submit(encoder, batch, chroma, lambda frame, item: sink.write(frame, item.key))
                        frames += len(batch)
                    encoder.submit(sink.close)
                self._add_io(reader, encoder)
            finally:
                sink.discard()  # an unfinished segment (after an error) is not kept
            check_reference_range(max(self.engine.references, default=-1), frames)
            store.finish()
            _report_damage(reader, frames)

    def _add_io(self, reader: VideoReader, encoder: _EncodeThread) -> None:
        self.stages["decode"] += reader.decode_seconds
        self.stages["encode"] += encoder.busy_seconds - self.stages["to_yuv"]  # to_yuv runs in its jobs too

    def _after(self, reader: VideoReader, last: Segment, chroma: _ChromaWriter,
               done: int) -> Iterator[LumaFrame | av.Packet]:
        """The frames after segment ``last``, the ``done``-th frame onward (the reader starts
        at or before the segment's first frame); its final frames warm the engine up."""
        seen, warm = 0, []
        warm_frames = self.WARM_UP * self.engine.settings.infer_every
        for item in reader:
            if not isinstance(item, LumaFrame):
                continue
            if item.pts is not None and item.pts < last.start_pts:
                continue
            if seen < last.frames:
                seen += 1
                warm = (warm + [item])[-warm_frames:]
                continue
            if warm:
                self.engine.index = done - len(warm)
                self.engine.colorize([chroma.L(w.Y) for w in warm], chroma.chroma_size)
                self.engine.flush()  # warm-up output is not written
                warm = []
            yield item


class _SegmentSink:
    """Encodes frames into segment files, starting a new one on the first source keyframe
    after ``encode.segment_frames`` frames; runs on the encode thread."""

    def __init__(self, store: SegmentStore, info: VideoInfo, encode: EncodeSettings, pix_fmt: str,
                 size: tuple[int, int], suffix: str) -> None:
        self.store, self.info, self.encode, self.suffix = store, info, encode, suffix
        self.pix_fmt, self.size = pix_fmt, size
        self.writer: VideoWriter | None = None
        self.start_pts, self.count = 0, 0

    def write(self, frame: av.VideoFrame, key: bool) -> None:
        if self.writer is None or (key and self.count >= self.encode.segment_frames):
            self.close()
            path = self.store.next_file().with_suffix(self.suffix)
            self.writer = VideoWriter(path, self.info, [], codec=self.encode.codec, crf=self.encode.crf,
                                      preset=self.encode.preset, pix_fmt=self.pix_fmt, size=self.size)
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


def check_reference_range(last_index: int, frames: int) -> None:
    """Raise InputError when reference frame ``last_index`` is past the end of a video of
    ``frames`` frames (0 = not known yet: no check)."""
    if 0 < frames <= last_index:
        raise InputError(f"reference frame {last_index} is past the end of the video (frames 0 to {frames - 1})")


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
    luma = info.width * info.height * (1 if info.bit_depth == 8 else 2)
    lab = ((info.width + 1) // 2) * ((info.height + 1) // 2) * 3 * 4  # float32
    return max(8, min(32, ENCODE_QUEUE_BYTES // (luma + lab)))


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


class _PacketCounter:
    """Hands packets of the other streams to ``copy`` on the encode thread, counting them."""

    def __init__(self, encoder: _EncodeThread, copy: Callable[[av.Packet], None]) -> None:
        self.encoder, self.copy, self.count = encoder, copy, 0

    def __call__(self, packet: av.Packet) -> None:
        self.encoder.submit(self.copy, packet)
        self.count += 1


def _batches(reader: Iterable[LumaFrame | av.Packet], size: int, on_packet: Callable[[av.Packet], None]) -> Iterator[list[LumaFrame]]:
    """Group decoded frames into lists of ``size`` (the last may be shorter); packets of
    copied streams go to ``on_packet`` as they arrive, keeping the demux interleaving."""
    batch: list[LumaFrame] = []
    for item in reader:
        if isinstance(item, LumaFrame):
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        else:
            on_packet(item)
    if batch:
        yield batch
