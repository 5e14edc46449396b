"""The Gradio demo: its functions on real inputs, and the page in a real (headless) browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import data_file

gr = pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")

from streamcolor.api import DEFAULT_MODEL, HINT_MODEL, default_settings  # noqa: E402
from streamcolor.demo.app import DemoModels, Limits, colorize_clip, colorize_photo, readable_upload  # noqa: E402
from streamcolor.images import read_rgb  # noqa: E402


def _chroma(rgb: np.ndarray) -> float:
    from streamcolor.color import rgb_to_lab

    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def test_photo_function_colours_a_real_photo():
    rgb = read_rgb(data_file("eval/kodak24/kodim05.png"))
    (before, after), download = colorize_photo(DemoModels(), rgb.mean(-1).astype(np.uint8), DEFAULT_MODEL, 150)
    assert before.shape == after.shape == rgb.shape and np.array_equal(after, download)
    assert _chroma(before) < 0.5 and _chroma(after) > 3


def test_user_error_is_one_log_line_without_traceback(caplog):
    with pytest.raises(gr.Error, match="Upload a photo") as error:
        colorize_photo(DemoModels(), None, DEFAULT_MODEL, 150)
    assert not error.value.print_exception  # gradio would print a traceback
    assert [r.getMessage() for r in caplog.records] == ["user error: Upload a photo first (PNG or JPEG)."]


def test_unreadable_photo_is_named_without_its_server_folder(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(gr.Error) as error:
        readable_upload(gr.Image(type="numpy")).preprocess(gr.data_classes.ImageData(path=str(fake),
                                                                                     orig_name="fake.png"))
    assert error.value.message == "fake.png is not an image streamcolor can read; upload a PNG or JPEG photo."
    assert not error.value.print_exception


def test_photo_over_pils_pixel_limit_is_a_user_error(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 16)  # PIL refuses over twice this
    with pytest.raises(gr.Error) as error:
        readable_upload(gr.Image(type="numpy")).preprocess(gr.data_classes.ImageData(path=str(tmp_path / "big.png"),
                                                                                     orig_name="big.png"))
    assert error.value.message == "big.png has too many pixels for this demo; make it smaller first."


class _Progress:
    def __call__(self, *args, **kwargs):
        pass


def test_video_function_gives_colour_mp4_with_audio_then_removes_it():
    src = data_file("video/film/chaplin.mp4")
    steps = colorize_clip(DemoModels(), Limits(), str(src), DEFAULT_MODEL, True, _Progress())
    previews = []
    for preview, final in steps:  # stops at the result, as gradio does while it copies the file
        if final:
            break
        previews.append(preview)
    assert len(previews) >= 2 and previews[0] is not None  # frames shown before the end
    with av.open(final) as c:
        assert len(c.streams.audio) == 1
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert _chroma(frame) > 2
    assert next(steps, None) is None and not Path(final).parent.exists()


def test_video_function_limits_and_bad_files(tmp_path):
    src = data_file("video/film/chaplin.mp4")
    with pytest.raises(gr.Error, match="up to 5 s"):
        list(colorize_clip(DemoModels(), Limits(max_clip_seconds=5), str(src), DEFAULT_MODEL, True, _Progress()))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(gr.Error, match="cannot read 'notes.mp4'") as error:
        list(colorize_clip(DemoModels(), Limits(), str(text), DEFAULT_MODEL, True, _Progress()))
    assert str(tmp_path) not in error.value.message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    log: Path  # what it printed
    tmp: Path  # its TMPDIR: gradio's cache and the demo's own folders


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    tmp, log = tmp_path / "server_tmp", tmp_path / "server.log"
    tmp.mkdir()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamcolor.demo", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(tmp)})
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"demo did not start: {log.read_text()}")
    yield Server(f"http://127.0.0.1:{port}", log, tmp)
    proc.terminate()
    proc.wait(10)


CHROMIUM = "/usr/bin/chromium"


def _tiny_clip(path: Path) -> Path:
    """12 frames of 96x64 grey noise, H.264: colorized in seconds."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        stream = c.add_stream("h264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for _ in range(12):
            grey = rng.integers(0, 256, (64, 96), np.uint8).repeat(3).reshape(64, 96, 3)
            c.mux(stream.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")))
        c.mux(stream.encode(None))
    return path


def _gone(folder: Path, pattern: str, seconds: float = 10) -> bool:
    """Nothing matches ``pattern`` in ``folder`` within ``seconds`` (gradio ends a job just after
    it sends the last value)."""
    deadline = time.time() + seconds
    while list(folder.glob(pattern)) and time.time() < deadline:
        time.sleep(0.2)
    return not list(folder.glob(pattern))


def _toast(page, text: str) -> str:
    """The whole text of the error message that contains ``text``, once it is visible."""
    toast = page.locator(".toast-body", has_text=text).first
    toast.wait_for(timeout=60_000)
    return toast.inner_text()


def test_browser_shows_results_and_readable_errors(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt install chromium; .ci/run does this where apt works)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    photo = data_file("eval/kodak24/kodim05.png")
    fake, notes = tmp_path / "fake.png", tmp_path / "notes.mp4"
    fake.write_text("not an image")
    notes.write_text("not a video")
    shot = tmp_path / "demo.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        page.locator("#photo-input input[type=file]").set_input_files(str(fake))
        page.locator("#photo-button").click()
        message = _toast(page, "fake.png")
        assert "is not an image streamcolor can read" in message and "/tmp" not in message
        page.locator("#photo-input input[type=file]").set_input_files(str(photo))
        page.locator("#photo-input img").first.wait_for(timeout=30_000)
        page.locator("#photo-button").click()
        page.locator("#photo-output img").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shot), full_page=True)

        page.get_by_role("tab", name="Video").click()
        page.locator("#clip-input input[type=file]").set_input_files(str(notes))
        page.locator("#clip-button").click()
        message = _toast(page, "notes.mp4")
        assert "cannot read" in message and "/tmp" not in message
        page.reload()  # a fresh upload field (the video player's Clear button comes and goes with load)
        page.get_by_role("tab", name="Video").click()
        page.locator("#clip-input input[type=file]").set_input_files(str(_tiny_clip(tmp_path / "tiny.mp4")))
        page.locator("#clip-button").click()
        video = page.locator("#clip-output video").first
        video.wait_for(timeout=120_000)
        served = page.request.get(video.get_attribute("src"))
        assert served.ok and len(served.body()) > 1000  # gradio serves its copy ...
        browser.close()
    assert shot.stat().st_size > 10_000
    assert _gone(server.tmp, "streamcolor-demo-*")  # ... and the demo's folder goes once the job ends
    log = server.log.read_text()
    assert "user error: fake.png is not an image" in log and "user error: cannot read 'notes.mp4'" in log
    assert "Traceback" not in log
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


def test_a_hint_on_a_model_without_hints_shows_the_hint_model_at_its_own_size():
    """Before session 32 the hint model ran at the render size set for the chosen model, and the
    page still showed the chosen model."""
    from streamcolor.demo.app import hint_model

    models = DemoModels()
    size = default_settings(HINT_MODEL).inference_short_side
    assert size != default_settings(DEFAULT_MODEL).inference_short_side
    assert hint_model(models, DEFAULT_MODEL, default_settings(DEFAULT_MODEL).inference_short_side) == (HINT_MODEL, size)
    assert hint_model(models, HINT_MODEL, 200) == (HINT_MODEL, 200)


def test_a_taken_port_or_an_unknown_host_is_one_line():
    """Before session 30 each printed gradio's traceback ('Cannot find empty port'), whatever was wrong.
    (192.0.2.1 is TEST-NET-1, no machine's address.)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, message in ((["--port", str(port)], f"the demo cannot listen on 127.0.0.1:{port}: Address already in use"),
                              (["--host", "192.0.2.1"], "the demo cannot listen on 192.0.2.1:7860: Cannot assign requested"),
                              (["--host", "nosuchhost.invalid"], "--host 'nosuchhost.invalid' is no host name or address")):
            result = subprocess.run([sys.executable, "-m", "streamcolor", "demo", *args], capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 1 and result.stderr.strip().splitlines() == [
                result.stderr.strip()] and message in result.stderr, result.stderr


def test_cancelled_clip_stops_its_thread():
    """Closing the generator (gradio cancelling the job) left the colorizing thread running to
    the end of the film until session 31: a queue of one job at a time was no longer one."""
    import threading

    before = set(threading.enumerate())
    steps = colorize_clip(DemoModels(), Limits(), str(data_file("video/film/chaplin.mp4")), DEFAULT_MODEL, True,
                          _Progress())
    next(steps)
    steps.close()  # what gradio does on a cancel
    deadline = time.monotonic() + 30  # the thread ends at its next batch
    while [t for t in set(threading.enumerate()) - before if t.name != "tqdm_monitor"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [t.name for t in set(threading.enumerate()) - before if t.name != "tqdm_monitor"] == []


def test_clip_without_a_stated_duration_is_held_to_the_limit(tmp_path):
    """A WebM recorded by a browser states no duration: the limit was never checked (session 31)."""
    src = data_file("video/edge/no_duration.webm")
    from streamcolor.api import duration_seconds

    assert duration_seconds(src) is None
    with pytest.raises(gr.Error, match=r"The clip is longer than 0\.5 s; this demo takes up to 0\.5 s"):
        list(colorize_clip(DemoModels(), Limits(max_clip_seconds=0.5), str(src), DEFAULT_MODEL, True, _Progress()))


def test_sixteen_bit_grey_photo_keeps_its_levels(tmp_path):
    """Gradio's conversion clipped a 16-bit PNG to white (session 31)."""
    import cv2
    from gradio.data_classes import ImageData

    levels = np.linspace(0, 65535, 64 * 96).reshape(64, 96).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "scan.png"), levels)
    image = readable_upload(gr.Image(type="numpy")).preprocess(ImageData(path=str(tmp_path / "scan.png"),
                                                                         orig_name="scan.png"))
    assert image.dtype == np.uint8 and np.abs(image[..., 0].astype(int) - (levels >> 8)).max() == 0
    cv2.imwrite(str(tmp_path / "dark.png"), levels // 257)  # 16 bits, all under 256: black in 8 bits
    image = readable_upload(gr.Image(type="numpy")).preprocess(ImageData(path=str(tmp_path / "dark.png"),
                                                                         orig_name="dark.png"))
    assert image.max() == 0  # a first version of the fix took these for 8-bit levels (review 31f)


def test_photo_pixel_limit_and_bad_colours():
    with pytest.raises(gr.Error, match="The photo is 3000x2000; this demo takes up to 5 megapixels"):
        colorize_photo(DemoModels(), np.zeros((2000, 3000, 3), np.uint8), DEFAULT_MODEL, 128,
                       limits=Limits(max_megapixels=5))
    from streamcolor.demo.app import add_hint

    with pytest.raises(gr.Error, match="cannot read the colour 'rgb\\(a,b,c\\)'"):  # a ValueError until session 31
        add_hint([], (3, 4), "rgb(a,b,c)")
    assert add_hint([], (3, 4), "rgba(255, 0, 0, 1)") == [(4, 3, (255, 0, 0))]


def test_a_clip_that_starts_late_is_held_to_its_length(tmp_path):
    """MPEG-TS clips start at 1.4 s or so: a first version of session 31's limit compared each
    picture's time itself with the limit, and refused a 2 s clip under a 3 s limit."""
    src, clip = data_file("video/film/chaplin.mp4"), tmp_path / "clip.ts"
    with av.open(str(src)) as i, av.open(str(clip), "w") as o:
        out = o.add_stream_from_template(i.streams.video[0])
        for packet in i.demux(i.streams.video[0]):
            if packet.dts is not None and packet.dts * packet.time_base < 2:
                shift = round(1.5 / packet.time_base)  # starts at 1.5 s, as a recording often does
                packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, out
                o.mux(packet)
    steps = list(colorize_clip(DemoModels(), Limits(max_clip_seconds=3), str(clip), DEFAULT_MODEL, True, _Progress()))
    assert steps[-1][1] is not None  # the result


def test_a_turned_phone_clip_is_previewed_as_shown(tmp_path):
    """A phone clip stored on its side with a display rotation was previewed sideways until
    session 32 (the result, a video file, was always shown turned by the player)."""
    from conftest import make_clip, make_turned

    stored = make_clip(tmp_path / "v.mp4", 64, 48, frames=8)
    rotated = make_turned(stored, tmp_path / "rotated.mp4")
    preview = list(colorize_clip(DemoModels(), Limits(), str(rotated), DEFAULT_MODEL, True, _Progress()))[0][0]
    as_stored = list(colorize_clip(DemoModels(), Limits(), str(stored), DEFAULT_MODEL, True, _Progress()))[0][0]
    assert np.array_equal(preview, np.rot90(as_stored, 1))  # 90 degrees counter-clockwise, as ffmpeg shows it
