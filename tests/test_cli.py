"""The CLI as a user runs it: a subprocess, one error line, exit status, nothing left behind."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import av
import numpy as np
import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "streamcolor", *map(str, args)], capture_output=True, text=True)


def _audio_only(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 44100
        for i in range(10):
            frame.pts = i * 1024
            c.mux(s.encode(frame))
        c.mux(s.encode(None))


def _bad_input(kind, tmp_path):
    if kind == "missing":
        return tmp_path / "missing.mp4"
    if kind == "directory":
        return tmp_path
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 100)
    elif kind == "audio_only":
        path = tmp_path / "audio_only.m4a"
        _audio_only(path)
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "does not exist"), ("directory", "is a directory"), ("empty", "empty"),
    ("text", "cannot read"), ("audio_only", "no video stream"),
])
def test_bad_input_one_line_error(kind, message, tmp_path):
    src = _bad_input(kind, tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run("colorize", src, out_dir / "x.mp4")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamcolor: error:") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert list(out_dir.iterdir()) == []


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("dst_kind, message", [
    ("same", "is the input"), ("no_folder", "does not exist"), ("unwritable", "not writable"), ("exists", "--overwrite"),
])
def test_bad_output(dst_kind, message, chaplin, tmp_path):
    before = _digest(chaplin)
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    dst = {"same": chaplin, "no_folder": tmp_path / "nope" / "x.mp4", "unwritable": "/proc/streamcolor-test.mp4",
           "exists": existing}[dst_kind]
    result = run("colorize", chaplin, dst)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _digest(chaplin) == before
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.mp4"]


def test_unknown_model(chaplin, tmp_path):
    result = run("colorize", chaplin, tmp_path / "x.mp4", "--model", "no_such_model")
    assert result.returncode == 1 and "no model at 'no_such_model'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_models_lists_registry_and_weights():
    result = run("models")
    assert result.returncode == 0
    assert "unet_small" in result.stdout and "(default)" in result.stdout


@pytest.mark.parametrize("option, flag", [
    (["--smooth-strength", "1.5"], "--smooth-strength"), (["--strength", "inf"], "--strength"),
    (["--strength", "-1"], "--strength"), (["--render-size", "8"], "--render-size"),
    (["--device", "tpu"], "--device"),
])
def test_bad_colour_option_names_its_flag(option, flag, chaplin, tmp_path):
    result = run("colorize", chaplin, tmp_path / "x.mp4", *option)
    assert result.returncode == 1 and flag in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
