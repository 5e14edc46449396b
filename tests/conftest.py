"""Shared fixtures: the data in ../shared/data, a tiny saved model, a temp output folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STREAMCOLOR_DATA", REPO.parent / "shared" / "data"))


def data_file(relative: str) -> Path:
    """A file under ../shared/data; the test is skipped, naming it, when it is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"test data {path} is absent (../shared/data is not beside the repository)")
    return path


def moving_pattern(n=8, shift=2, size=96):
    """A textured L pattern moving right by `shift` px per frame, with a colour patch on it."""
    rng = np.random.default_rng(0)
    base = np.clip(50 + 15 * rng.standard_normal((size, size * 2)), 0, 100).astype(np.float32)
    base = cv2.GaussianBlur(base, (0, 0), 1.5)
    ab_base = np.zeros((size, size * 2, 2), np.float32)
    ab_base[30:60, 60:100] = (40, -20)
    Ls, abs_ = [], []
    for t in range(n):
        x0 = 40 - t * shift
        Ls.append(np.ascontiguousarray(base[:, x0 : x0 + size]))
        abs_.append(np.ascontiguousarray(ab_base[:, x0 : x0 + size]))
    return Ls, abs_


def make_clip(path: Path, width: int, height: int, frames: int = 4, codec: str = "libx264",
              pix_fmt: str = "yuv420p", rate: int = 25, options: dict | None = None) -> Path:
    """Encode a small textured clip (a moving gradient plus fixed noise) with a real encoder."""
    import av

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 40, (height, width, 1), dtype=np.uint8)
    ramp = np.add.outer(np.arange(height), np.arange(width)).astype(np.uint8)[..., None]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            picture = np.repeat(ramp + noise + np.uint8(8 * i % 256), 3, axis=2)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_turned(src: Path, dst: Path, degrees: int = 90) -> Path:
    """``src``'s packets with a display rotation of ``degrees`` (a phone clip stored on its side)."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        out = o.add_stream_from_template(i.streams.video[0])
        out.set_display_rotation(degrees)
        for packet in i.demux():
            if packet.size:
                packet.stream = out
                o.mux(packet)
    return dst


@pytest.fixture
def chaplin() -> Path:
    return data_file("video/film/chaplin.mp4")


@pytest.fixture
def kodak() -> list[Path]:
    return sorted(data_file("eval/kodak24").glob("*.png"))


@pytest.fixture(autouse=True)
def no_error_logs(caplog: pytest.LogCaptureFixture):
    """Fail a test that logged at ERROR or above."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"ERROR logs: {[r.getMessage() for r in errors]}"
