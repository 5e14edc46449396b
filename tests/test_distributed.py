"""Ray: an archive of films (a bad one reported, a killed worker retried) and one film in parallel spans."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from conftest import data_file
from streamcolor import Colorizer
from streamcolor.color import rgb_to_lab
from streamcolor.engine import EngineSettings

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'streamcolor[ray]')")
psutil = pytest.importorskip("psutil", reason="psutil (in the test extra) is not installed")


def _archive(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in ("film/chaplin.mp4", "edge/transparent.webm", "edge/no_duration.webm"):
        shutil.copy(data_file(f"video/{name}"), inbox)
    (inbox / "broken.mp4").write_text("not a film")
    return inbox, tmp_path / "out"


def _frames(path):
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_archive_reports_the_bad_film_and_finishes_the_rest(tmp_path):
    inbox, outbox = _archive(tmp_path)
    result = subprocess.run([sys.executable, "-m", "streamcolor", "colorize", inbox, outbox, "--ray", "--workers", "2",
                             "--quiet", "--preset", "ultrafast"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "3 of 4 done, 1 failed" in result.stdout and "broken.mp4" in result.stdout
    assert sorted(p.name for p in outbox.iterdir()) == ["chaplin.mp4", "no_duration.webm", "transparent.webm"]
    assert [_frames(outbox / n) for n in ("chaplin.mp4", "no_duration.webm", "transparent.webm")] == [241, 74, 150]
    assert "Token authentication" not in result.stderr  # Ray's notice about its own default is not shown


def test_killed_worker_is_retried_without_partial_output(tmp_path):
    inbox, outbox = _archive(tmp_path)
    (inbox / "broken.mp4").unlink()
    command = [sys.executable, "-m", "streamcolor", "colorize", inbox, outbox, "--ray", "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.monotonic() + 180
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        if any(p.name.endswith(".streamcolor-part.mp4") for p in outbox.glob(".*")):  # mid-way through chaplin
            for proc in psutil.process_iter(["cmdline"]):
                if "ray::_film_task" in " ".join(proc.info["cmdline"] or []):
                    proc.send_signal(signal.SIGKILL)
                    killed = proc.pid
        time.sleep(0.05)
    out, err = process.communicate(timeout=600)
    assert killed is not None, "no task was caught mid-way"
    assert process.returncode == 0, err
    assert "3 of 3 done, 0 failed" in out
    assert sorted(p.name for p in outbox.iterdir()) == ["chaplin.mp4", "no_duration.webm", "transparent.webm"]
    assert _frames(outbox / "chaplin.mp4") == 241


def _ab(path):
    with av.open(str(path)) as c:
        return np.stack([rgb_to_lab(f.to_ndarray(format="rgb24")[::4, ::4].astype(np.float32) / 255)[..., 1:]
                         for f in c.decode(video=0)])


def _timing_and_audio(path):
    with av.open(str(path)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        return pts, [(p.pts, bytes(p)) for p in c.demux(audio=0) if p.size]


def test_split_film_equals_a_single_process_run(tmp_path):
    from streamcolor.media import keyframes
    from streamcolor.media import EncodeSettings
    from streamcolor.pipeline import RunSettings
    from streamcolor.distributed import RaySettings, colorize_split
    from streamcolor.segments import plan_spans

    src = data_file("video/color/big_buck_bunny_480p_30s.mp4")
    colorizer = Colorizer.from_pretrained(device="cpu")
    colorizer.colorize_video(src, tmp_path / "single.mp4", preset="ultrafast")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        frames, _ = colorize_split(colorizer, src, tmp_path / "split.mp4", RaySettings(workers=2),
                                   RunSettings(EncodeSettings(preset="ultrafast")), progress=False)
    finally:
        ray.shutdown()
    spans = plan_spans(*keyframes(src), 720 // 4)
    assert len(spans) >= 3 and frames == 720
    assert _timing_and_audio(tmp_path / "split.mp4") == _timing_and_audio(tmp_path / "single.mp4")
    single, split = _ab(tmp_path / "single.mp4"), _ab(tmp_path / "split.mp4")
    # each span starts a shot of its own, so the frames the generator sees (every k-th from the start)
    # shift by up to k - 1 and the frames between carry another inferred frame's colour: a difference
    # of the order of the film's own change over k frames (1.19 against 0.99 ab units with v6, k = 4),
    # however colourful the model; colour taken from another span would differ by the change over a
    # span (12.5 ab units over 180 frames)
    k = EngineSettings().infer_every
    difference, stride_change = np.abs(single - split).mean(), np.abs(single[k:] - single[:-k]).mean()
    assert difference <= 2 * stride_change, (difference, stride_change)
    change = np.abs(np.diff(split, axis=0)).mean((1, 2, 3))  # change[i]: frame i -> i + 1
    film = np.abs(np.diff(single, axis=0)).mean((1, 2, 3))
    borders = [first - 1 for first, _ in spans[1:]]
    inside = np.median(np.delete(change, borders))
    # borders sit on the source's keyframes, where the film's own colour already jumps (0.48 ab units
    # at both bunny borders in the single run, 3x the median): no seam means no jump beyond that one
    assert all(change[b] <= film[b] + 2 * inside for b in borders), (change[borders], film[borders], inside)
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob(".*"))
