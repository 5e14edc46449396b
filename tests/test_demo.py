"""The Gradio demo: its functions on real inputs, and the page in a real (headless) browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import data_file

gr = pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")

from streamcolor.api import DEFAULT_MODEL  # noqa: E402
from streamcolor.demo.app import DemoModels, Limits, colorize_clip, colorize_photo  # noqa: E402
from streamcolor.train.datasets import read_rgb  # noqa: E402


def _chroma(rgb: np.ndarray) -> float:
    from streamcolor.color import rgb_to_lab

    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def test_photo_function_colours_a_real_photo():
    rgb = read_rgb(data_file("eval/kodak24/kodim05.png"))
    (before, after), download = colorize_photo(DemoModels(), rgb.mean(-1).astype(np.uint8), DEFAULT_MODEL, 150)
    assert before.shape == after.shape == rgb.shape and np.array_equal(after, download)
    assert _chroma(before) < 0.5 and _chroma(after) > 3


def test_photo_function_rejects_missing_input():
    with pytest.raises(gr.Error, match="Upload a photo"):
        colorize_photo(DemoModels(), None, DEFAULT_MODEL, 150)


class _Progress:
    def __call__(self, *args, **kwargs):
        pass


def test_video_function_gives_colour_mp4_with_audio():
    src = data_file("video/film/chaplin.mp4")
    steps = list(colorize_clip(DemoModels(), Limits(), str(src), DEFAULT_MODEL, True, _Progress()))
    previews = [p for p, v in steps if v is None]
    final = steps[-1][1]
    assert len(previews) >= 2 and previews[0] is not None  # frames shown before the end
    with av.open(final) as c:
        assert len(c.streams.audio) == 1
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert _chroma(frame) > 2


def test_video_function_limits_and_bad_files(tmp_path):
    src = data_file("video/film/chaplin.mp4")
    with pytest.raises(gr.Error, match="up to 5 s"):
        list(colorize_clip(DemoModels(), Limits(max_clip_seconds=5), str(src), DEFAULT_MODEL, True, _Progress()))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(gr.Error, match="cannot read"):
        list(colorize_clip(DemoModels(), Limits(), str(text), DEFAULT_MODEL, True, _Progress()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamcolor.demo", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"demo did not start: {proc.stdout.read()}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


CHROMIUM = "/usr/bin/chromium"


def test_browser_uploads_photo_and_shows_result(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt install chromium; .ci/run does this where apt works)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    photo = data_file("eval/kodak24/kodim05.png")
    shot = tmp_path / "demo.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)
        page.locator("#photo-input input[type=file]").set_input_files(str(photo))
        page.locator("#photo-input img").first.wait_for(timeout=30_000)
        page.locator("#photo-button").click()
        page.locator("#photo-output img").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("STREAMCOLOR_SCREENSHOT")
    if keep:
        shutil.copy(shot, Path(keep))


def test_photo_hints_switch_to_the_hint_model_and_colour_the_point():
    from streamcolor.demo.app import add_hint

    rgb = read_rgb(data_file("eval/kodak24/kodim05.png"))
    grey = rgb.mean(-1).astype(np.uint8)
    hints = add_hint([], (380, 250), "#1e3cdc")  # Gradio gives (x, y)
    assert hints == [(250, 380, (30, 60, 220))]
    hints = add_hint(hints, (10, 20), "rgba(200, 30, 30, 1)")
    (_, plain), _ = colorize_photo(DemoModels(), grey, DEFAULT_MODEL, 150)
    (_, hinted), _ = colorize_photo(DemoModels(), grey, DEFAULT_MODEL, 150, 1.0, hints)
    assert np.abs(hinted[245:256, 375:386].astype(int) - plain[245:256, 375:386]).mean() > 5
