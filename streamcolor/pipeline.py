"""The streaming pipeline, wired in one place:

decode (thread) -> batches of luma -> Engine (inference, smoothing, guided upsampling
to the chroma-plane size) -> Cb/Cr from Lab -> a frame with the source's exact Y'
plane -> encode; audio packets are copied as they are demuxed. Memory is bounded by
the reader queue and the batch size; nothing is written to disk but the output.
"""

from __future__ import annotations

import os
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

# FFmpeg AVColorSpace / AVColorRange codes used below
_BT709, _RANGE_JPEG = 1, 2


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings: x264-style ``crf`` (lower = better, 18-28 typical) and ``preset``."""

    codec: str = "libx264"
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
    """Turns (Y', ab) into yuv420p frames with the source's exact Y' plane."""

    def __init__(self, info: VideoInfo) -> None:
        self.full_range = info.color_range == _RANGE_JPEG or info.pix_fmt.startswith("yuvj")
        self.matrix = ycbcr_matrix(info)
        self.lut = luma_code_to_L(self.full_range)
        self.chroma_size = ((info.height + 1) // 2, (info.width + 1) // 2)
        self.width, self.height = info.width, info.height

    def frame(self, Y: np.ndarray, lab: np.ndarray) -> av.VideoFrame:
        cbcr = rgb_to_cbcr(lab_to_rgb(lab), self.matrix, self.full_range)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, data in zip(frame.planes, (Y, cbcr[..., 0], cbcr[..., 1])):
            view = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
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
        chroma = _ChromaWriter(reader.info)
        engine.reset()
        frames = 0
        with VideoWriter(dst, reader.info, reader.audio, dict(reader.container.metadata), codec=encode.codec,
                         crf=encode.crf, preset=encode.preset) as writer:
            bar = tqdm(total=reader.info.frames or None, unit="frame", desc="colorize", disable=not progress)
            copied = _PacketCounter(writer)
            for batch in _batches(reader, encode.batch_size, copied):
                L = [chroma.lut[item.Y] for item in batch]
                for item, lab in zip(batch, engine.colorize(L, chroma.chroma_size)):
                    out = chroma.frame(item.Y, lab)
                    out.pts, out.time_base = item.pts, item.time_base
                    writer.write(out)
                frames += len(batch)
                bar.update(len(batch))
                if on_batch is not None:
                    on_batch(frames, out)
            writer.commit()
            bar.close()
    return Report(frames, copied.count, time.perf_counter() - started)


class _PacketCounter:
    """Copies packets of the other streams into the writer, counting them."""

    def __init__(self, writer: VideoWriter) -> None:
        self.writer, self.count = writer, 0

    def __call__(self, packet: av.Packet) -> None:
        self.writer.copy_packet(packet)
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
