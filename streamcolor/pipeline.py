"""The streaming pipeline, wired in one place:

decode (thread) -> batches of luma -> Engine (inference, smoothing, guided upsampling
to the chroma-plane size) -> Cb/Cr from Lab -> a frame with the source's exact Y'
plane -> encode; audio packets are copied as they are demuxed. Memory is bounded by
the reader queue and the batch size; nothing is written to disk but the output.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
from tqdm import tqdm

from streamcolor.color import lab_to_rgb, luma_code_to_L, rgb_to_cbcr
from streamcolor.engine import Engine
from streamcolor.media import LumaFrame, VideoInfo, VideoReader, VideoWriter, check_output

log = logging.getLogger("streamcolor")

# FFmpeg AVColorSpace / AVColorRange codes used below
_BT709, _RANGE_JPEG = 1, 2


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings: ``codec`` (h264, h265, vp9, av1; None = by container), x264-style
    ``crf`` (lower = better, 18-28 typical) and ``preset``, frames per inference batch."""

    codec: str | None = None
    crf: int = 20
    preset: str = "medium"
    batch_size: int = 8


@dataclass(frozen=True)
class Report:
    """What a run did: frames written, copied packets, wall time in seconds."""

    frames: int
    copied_packets: int
    seconds: float


def ycbcr_matrix(info: VideoInfo) -> str:
    """BT.709 when the stream says so or, unspecified, for HD sizes; BT.601 otherwise."""
    if info.colorspace == _BT709 or (info.colorspace in (0, 2) and info.height >= 720):
        return "bt709"
    return "bt601"


class _ChromaWriter:
    """Turns (Y', ab) into yuv420p frames (8 or 10 bits) with the source's exact Y' plane
    (a 10-bit Y' written at 8 bits is rounded to 8)."""

    def __init__(self, info: VideoInfo, out_bits: int) -> None:
        self.full_range = info.color_range == _RANGE_JPEG or info.pix_fmt.startswith("yuvj")
        self.matrix = ycbcr_matrix(info)
        self.lut = luma_code_to_L(self.full_range, info.bit_depth)
        self.chroma_size = ((info.height + 1) // 2, (info.width + 1) // 2)
        self.width, self.height = info.width, info.height
        self.in_bits, self.out_bits = info.bit_depth, out_bits
        self.format, self.dtype = ("yuv420p", np.dtype(np.uint8)) if out_bits == 8 else ("yuv420p10le", np.dtype("<u2"))

    def frame(self, Y: np.ndarray, lab: np.ndarray) -> av.VideoFrame:
        if self.in_bits > self.out_bits:
            Y = ((Y.astype(np.uint16) + 2) >> 2).clip(0, 255).astype(np.uint8)
        cbcr = rgb_to_cbcr(lab_to_rgb(lab), self.matrix, self.full_range, self.out_bits)
        frame = av.VideoFrame(self.width, self.height, self.format)
        for plane, data in zip(frame.planes, (Y, cbcr[..., 0], cbcr[..., 1])):
            view = np.frombuffer(plane, self.dtype).reshape(plane.height, plane.line_size // self.dtype.itemsize)
            view[:, : plane.width] = data
        return frame


def colorize_video(engine: Engine, src: str | os.PathLike, dst: str | os.PathLike,
                   encode: EncodeSettings = EncodeSettings(), overwrite: bool = False,
                   progress: bool = True, on_batch: Callable[[int, av.VideoFrame], None] | None = None) -> Report:
    """Colorize ``src`` into ``dst`` (container from its suffix), copying the audio.

    Frame count, pts, time_base, frame rate, sample aspect ratio, colour metadata and
    container metadata are those of the source; the Y' plane is the source's.
    ``on_batch(frames_done, last_frame)`` is called after each encoded batch.

    Raises:
        InputError: bad input or output path (see :func:`streamcolor.media.check_output`).
        MediaError: decoding or writing failed; nothing is left at ``dst``.
    """
    started = time.perf_counter()
    with VideoReader(src) as reader:
        dst = check_output(dst, reader.path, overwrite)
        engine.reset()
        frames = 0
        if reader.info.has_alpha:
            log.warning("%s has an alpha channel; the colour output is opaque (alpha dropped)", reader.path.name)
        with VideoWriter(dst, reader.info, reader.copied, dict(reader.container.metadata), reader.container.chapters(),
                         codec=encode.codec, crf=encode.crf, preset=encode.preset) as writer:
            chroma = _ChromaWriter(reader.info, writer.bit_depth)
            bar = tqdm(total=reader.info.frames or None, unit="frame", desc="colorize", disable=not progress)
            with _EncodeThread(writer) as encoder:
                copied = _PacketCounter(encoder)
                for batch in _batches(reader, encode.batch_size, copied):
                    L = [chroma.lut[item.Y] for item in batch]
                    for item, lab in zip(batch, engine.colorize(L, chroma.chroma_size)):
                        out = chroma.frame(item.Y, lab)
                        out.pts, out.time_base = item.pts, item.time_base
                        encoder.submit(writer.write, out)
                    frames += len(batch)
                    bar.update(len(batch))
                    if on_batch is not None:
                        on_batch(frames, out)
            writer.commit()
            bar.close()
        if reader.damaged or reader.ended_early():
            log.warning("%s is damaged or truncated (%d unreadable packets, pictures end at %.1f s): the output "
                        "holds the %d frames that decoded", reader.path.name, reader.damaged, reader.last_time, frames)
    return Report(frames, copied.count, time.perf_counter() - started)


class _EncodeThread:
    """Runs the writer's calls in order on one background thread, so encoding overlaps
    inference; the bounded queue keeps memory flat. An error in the thread is re-raised
    in the caller at the next submit or on leaving the context."""

    def __init__(self, writer: VideoWriter, queue_size: int = 16) -> None:
        self.writer = writer
        self.jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="streamcolor-encode", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job[0](*job[1:])
                except BaseException as exc:  # handed to the caller
                    self.error = exc

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
    """Copies packets of the other streams into the writer (via the encode thread), counting them."""

    def __init__(self, encoder: _EncodeThread) -> None:
        self.encoder, self.count = encoder, 0

    def __call__(self, packet: av.Packet) -> None:
        self.encoder.submit(self.encoder.writer.copy_packet, packet)
        self.count += 1


def _batches(reader: VideoReader, size: int, on_packet: Callable[[av.Packet], None]) -> Iterator[list[LumaFrame]]:
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
