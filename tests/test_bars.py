"""Letterbox and pillarbox bars: found in the picture, left black in the output."""

from __future__ import annotations

import av
import numpy as np

from conftest import data_file
from streamcolor import Colorizer
from streamcolor.api import image_to_L
from streamcolor.bars import Area, find_active_area
from streamcolor.images import read_rgb


def _letterboxed_clip(path, frames=12, bar=24, black=12):
    """A clip of a kodak photo panning right, with bars of ``bar`` rows above and below, their
    RGB ``black`` (the not-quite-black of a film scan; 0 = no bars)."""
    photo = read_rgb(data_file("eval/kodak24/kodim03.png"))[::4, ::4]  # 128 x 192
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 128 + 2 * bar, "yuv420p"
        for t in range(frames):
            canvas = np.full((128 + 2 * bar, 160, 3), black, np.uint8)
            canvas[bar:bar + 128] = photo[:, t:t + 160]
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_bars_found_on_a_letterboxed_clip_and_kept_black(tmp_path):
    source, output = tmp_path / "letterbox.mp4", tmp_path / "out.mp4"
    _letterboxed_clip(source)
    with av.open(str(source)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    found = find_active_area(image_to_L(first))
    assert found is not None and np.abs(np.subtract(found, (24, 152, 0, 160))).max() <= 2  # x264 blurs the edge
    Colorizer.from_pretrained().colorize_video(source, output, progress=False)
    with av.open(str(output)) as container:
        for frame in container.decode(video=0):
            y, u, v = (plane.astype(int) for plane in _planes(frame))
            # the bars' chroma rows, but for the 8x8 chroma block that also holds picture (x264 blurs it)
            for plane in (u, v):
                assert np.abs(plane[:8] - 128).max() <= 1 and np.abs(plane[-8:] - 128).max() <= 1
            assert y[:20].max() <= 32  # and they stay as dark as they were
            picture = np.hypot(u[12:76] - 128, v[12:76] - 128)
            assert picture.mean() > 2  # the picture itself is coloured


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    yuv = frame.to_ndarray(format="yuv420p")
    h = frame.height
    y, rest = yuv[:h], yuv[h:].reshape(2, h // 2, frame.width // 2)
    return [y, rest[0], rest[1]]


def test_a_dark_edge_on_one_side_is_not_a_bar(kodak):
    L = image_to_L(read_rgb(kodak[0]))
    L[:, :60] = 1.0  # a shadow down the left side only
    assert find_active_area(L) is None
    L[:, -60:] = 1.0  # a pillarbox: both sides
    assert find_active_area(L) == Area(0, L.shape[0], 60, L.shape[1] - 60)


def test_a_black_frame_has_no_bars():
    assert find_active_area(np.zeros((90, 160), np.float32)) is None


def test_bars_are_dropped_when_the_picture_grows_into_them(kodak):
    """A title card on black looks letterboxed; once the shot fades into a full picture the
    engine must look again (bunny's opening title did this)."""
    from streamcolor.bars import bars_still_dark

    L = image_to_L(read_rgb(kodak[0]))
    card = np.zeros_like(L)
    card[96:416] = L[96:416]  # a band of picture on black
    area = find_active_area(card)
    assert area is not None and bars_still_dark(card, area)
    assert not bars_still_dark(L, area)
