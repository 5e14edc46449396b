"""The CLI as a user runs it: a subprocess, one error line, exit status, nothing left behind."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import data_file, make_clip


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


def test_render_size_above_the_models_training_scale_runs(chaplin, tmp_path):
    """lite0_unet_v6 shrinks through 160 px: a render size above that must still be taken (the
    first version of that setting refused it); tests/test_pipeline.py checks it runs in one step."""
    result = run("colorize", chaplin, tmp_path / "big.mp4", "--render-size", "256", "--quiet")
    assert result.returncode == 0 and (tmp_path / "big.mp4").stat().st_size > 0, result.stderr


def test_folder_into_itself_is_refused(tmp_path):
    """Issue 28 item 1: OUTDIR = DIR reported every film 'done' and colorized nothing."""
    make_clip(tmp_path / "a.mp4", 64, 48)
    (tmp_path / "notes.txt").write_text("not a film")
    before = {p.name: _digest(p) for p in tmp_path.iterdir()}
    result = run("colorize", tmp_path, tmp_path, "--quiet")
    assert result.returncode == 1 and "is the input folder" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "done" not in result.stdout
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == before


def test_batch_goes_on_past_a_bad_file(tmp_path):
    """Issue 28 item 2: one bad file is a FAILED line; the others are colorized, non-video files ignored."""
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a_broken.mp4").write_text("not a video")
    make_clip(inbox / "b.mp4", 64, 48)
    (inbox / "notes.txt").write_text("not a film")
    result = run("colorize", inbox, outbox, "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAILED a_broken.mp4: cannot read") for line in lines), result.stdout
    assert "ignored notes.txt: not a video file suffix" in lines
    assert lines[-1] == "1 of 2 done, 1 failed, 1 other file ignored"
    assert sorted(p.name for p in outbox.iterdir()) == ["b.mp4"]


def test_batch_reports_an_unexpected_error_and_goes_on(tmp_path, capsys):
    """An error that is not ours (a library's, a bug) fails only its film too; --debug
    (``reraise``) raises it."""
    import cv2

    from streamcolor.api import Colorizer
    from streamcolor.cli import _print_row, _print_summary
    from streamcolor.pipeline import Report

    class Failing(Colorizer):
        def __init__(self) -> None:  # no model: colorize_video below stands in for it
            pass

        def colorize_video(self, src, dst, **options):
            if src.name == "a.mp4":
                raise cv2.error("OpenCV(5.1.0) resize.cpp:3590: error: (-215:Assertion failed)\nsecond line")
            dst.write_bytes(b"colour")
            return Report(frames=4, carried_packets=0, seconds=1.0)

    make_clip(tmp_path / "a.mp4", 64, 48)
    make_clip(tmp_path / "b.mp4", 64, 48)
    failed = _print_summary(Failing().colorize_folder(tmp_path, tmp_path / "out", on_file=_print_row))
    lines = capsys.readouterr().out.splitlines()
    assert failed == 1 and lines[0].startswith("FAILED a.mp4: unexpected error: OpenCV(5.1.0) resize.cpp")
    assert lines[1:] == ["ok b.mp4: 4 frames, 4.0 fps", "1 of 2 done, 1 failed"]
    with pytest.raises(cv2.error):
        Failing().colorize_folder(tmp_path, tmp_path / "out", reraise=True)


@pytest.mark.parametrize("option, message", [
    (["--crf", "99"], "--crf) must be 0 to 51"), (["--crf", "-5"], "--crf) must be 0 to 51"),
    (["--preset", "warp9"], "--preset) must be one of ultrafast"),
    (["--strength", "100"], "--strength) must be 0 to 4"),
    (["--workers", "4"], "--workers needs --ray"), (["--reference", "-1=img.png"], "N a frame number (0 or more)"),
    (["--codec", "xvid"], "--codec: invalid choice"), (["--crf", "2.5"], "--crf: invalid int"),
    (["--model"], "--model: expected one argument"), (["--backend", "tpu"], "--backend: invalid choice"),
    (["--batch-size", "0"], "(--batch-size) must be 1 or more"), (["--batch-size", "x"], "--batch-size: invalid int"),
    (["--batch-size", "100000000"], "(--batch-size) must be at most 64"),
    (["--smoothing", "wobble"], "--smoothing: invalid choice"), (["--infer-every", "0"], "(--infer-every) must be"),
    (["--resume", "--segment-frames", "0"], "(--segment-frames) must be 1 or more"),
    # each did nothing without a word until session 31
    (["--segment-frames", "10"], "--segment-frames needs --resume"),
    (["--no-smooth", "--smooth-strength", "0.5"], "--smooth-strength needs smoothing: it is off here"),
    (["--smoothing", "ema", "--infer-every", "2"], "--infer-every needs --smoothing motion: with ema every frame"),
    (["--device", "cpu", "--backend", "onnxruntime"], "--device sets the torch backend's device and --backend picks"),
    (["--no-smooth", "--smoothing", "ema"], "--no-smooth is --smoothing off: not with --smoothing ema"),
    (["--references", "no_such_folder"], "references folder 'no_such_folder' is not a folder"),
    (["--split"], "--split needs --ray"), (["--cpus-per-worker", "2"], "--cpus-per-worker needs --ray"),
    (["--gpus-per-worker", "1"], "--gpus-per-worker needs --ray"),
    (["--ray", "--workers", "0"], "workers (--workers) must be a whole number, 1 or more"),
    (["--ray", "--cpus-per-worker", "-1"], "cpus_per_worker (--cpus-per-worker) must be a finite number above 0"),
    (["--ray", "--cpus-per-worker", "inf"], "cpus_per_worker (--cpus-per-worker) must be a finite number above 0"),
    (["--ray", "--gpus-per-worker", "nan"], "gpus_per_worker (--gpus-per-worker) must be a finite number 0 or more"),
])
def test_every_colorize_option_checked_where_defined(option, message, tmp_path):
    """Issues 28 item 5 and 27: each bad value of a colorize option (argparse's own checks
    included) is one line naming its flag, exit 1, before any work."""
    src = make_clip(tmp_path / "a.mp4", 64, 48)
    out = tmp_path / "out"
    out.mkdir()
    result = run("colorize", src, out / "x.mp4", *option)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(out.iterdir()) == []


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"streamcolor {version('streamcolor')}", result


def test_crf_help_names_every_codec():
    from streamcolor.cli import _parser

    colorize = _parser()._subparsers._group_actions[0].choices["colorize"]
    crf = next(a for a in colorize._actions if "--crf" in a.option_strings)
    assert "0-51" in crf.help and "VP9" in crf.help and not crf.help.startswith("x264")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(signum, tmp_path):
    """Issue 28 item 6: the part file is removed, one line, exit 128 + the signal's number."""
    src = make_clip(tmp_path / "long.mp4", 256, 144, frames=400, options={"preset": "ultrafast"})
    out = tmp_path / "out"
    out.mkdir()
    part = out / ".x.streamcolor-part.mp4"
    process = subprocess.Popen([sys.executable, "-m", "streamcolor", "colorize", src, out / "x.mp4", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not part.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert part.exists(), "the run ended before it started writing"
    time.sleep(0.5)  # well into the frames
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert stderr.strip() == f"streamcolor: stopped by {signal.Signals(signum).name}"
    assert list(out.iterdir()) == []


def test_ctrl_c_while_starting_is_one_line(tmp_path):
    """A Ctrl-C while the parser imports torch (the first second) ends as one later: one line, 130.
    The signal is sent once torch's library is mapped, i.e. inside that import: earlier, Python
    itself is still starting, where no program can catch it."""
    src = make_clip(tmp_path / "long.mp4", 256, 144, frames=400, options={"preset": "ultrafast"})
    # a suite started in the background (`cmd &` without job control) runs with SIGINT ignored, which
    # a child inherits and Python then leaves ignored: the Ctrl-C of a terminal is what is simulated here
    process = subprocess.Popen([sys.executable, "-m", "streamcolor", "colorize", src, tmp_path / "x.mp4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline and "libtorch" not in maps.read_text():
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr.strip() == "streamcolor: interrupted", stderr
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("option, message", [
    (["--size", "-4"], "--size: must be a whole number of pixels, 16 or more; got '-4'"),
    (["--plot", "/nonexistent-folder/x.png"], "--plot '/nonexistent-folder/x.png': output folder '/nonexistent-folder' does not"),
    (["--plot", "flicker.txt"], "--plot: must be a .png file; got 'flicker.txt'"),  # a matplotlib traceback before
    (["--plot", "flicker"], "--plot: must be a .png file; got 'flicker'"),  # wrote flicker.png, said "plot: flicker"
    (["--reference", "/nonexistent.mp4"], "reference '/nonexistent.mp4' does not exist"),  # not "input"
])
def test_metrics_options_checked_before_any_work(option, message, tmp_path):
    src = make_clip(tmp_path / "a.mp4", 64, 48)
    result = run("metrics", src, *option)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


@pytest.mark.parametrize("reference", [dict(frames=6), dict(width=384, height=216)])
def test_metrics_reference_must_match_both_ways(reference, tmp_path):
    """A reference longer than the video, or of another size that --size scales to the same, is refused."""
    video = make_clip(tmp_path / "a.mp4", 192, 108, frames=4)
    other = make_clip(tmp_path / "b.mp4", reference.get("width", 192), reference.get("height", 108),
                      frames=reference.get("frames", 4))
    result = run("metrics", video, "--reference", other, "--size", "108")
    assert result.returncode == 1 and "does not match" in result.stderr, result.stderr
    assert run("metrics", video, "--reference", video, "--size", "108").returncode == 0


@pytest.mark.parametrize("option, message", [
    (["{tmp}", "--output", "{tmp}/missing/t.md"], "/missing/t.md': output folder '{tmp}/missing' does not exist"),
    (["{tmp}", "--output", "/proc/t.md"], "--output '/proc/t.md': output folder '/proc' is not writable"),  # a traceback
    (["{tmp}", "--save-dir", "/proc/strips"], "--save-dir '/proc/strips': output folder '/proc' is not writable"),  # before 25
    (["{tmp}", "--save-dir", "{tmp}/file"], "/file': it is a file, not a folder"),  # a traceback before session 25
    (["--film", "{kodak}"], "is a folder, not a film stock: give the photo folders before --film"),  # "invalid choice"
    (["--tint-from", "{kodak}"], "no IMAGE_DIR: give the photo folders before --film and --tint-from"),  # "required"
    (["{kodak}", "{tmp}/missing"], "/missing' does not exist"),  # after scoring the folders before it, before session 25
])
def test_eval_arguments_checked_before_any_work(option, message, tmp_path):
    (tmp_path / "file").write_text("")
    kodak = str(data_file("eval/kodak24"))
    result = run("eval", *[o.replace("{tmp}", str(tmp_path)).replace("{kodak}", kodak) for o in option])
    assert result.returncode == 1 and message.replace("{tmp}", str(tmp_path)) in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "missing").exists()


def test_folder_batch_does_not_create_missing_parents(tmp_path):
    make_clip(tmp_path / "a.mp4", 64, 48)
    result = run("colorize", tmp_path, tmp_path / "no" / "such" / "out")
    assert result.returncode == 1 and "its parent folder does not exist" in result.stderr, result.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("folder, message", [("missing", "does not exist"), ("file.png", "is not a folder")])
def test_eval_names_a_missing_folder(folder, message, tmp_path):
    (tmp_path / "file.png").write_bytes(b"")
    result = run("eval", tmp_path / folder)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("option, message", [
    (["--port", "70000"], "--port: must be a whole number, 1 to 65535"),
    (["--max-upload-mb", "-5"], "--max-upload-mb: must be a whole number of megabytes"),
    (["--max-clip-seconds", "nan"], "--max-clip-seconds: must be a number of seconds above 0"),
])
def test_demo_options_checked_where_defined(option, message):
    result = run("demo", *option)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("extra, message", [
    (["--stats"], "--stats times the stages of one video: give a video file, not a folder"),
])
def test_folder_options_for_one_video_are_refused(extra, message, tmp_path):
    make_clip(tmp_path / "a.mp4", 64, 48)
    result = run("colorize", tmp_path, tmp_path / "out", *extra)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_folder_batch_into_a_folder_that_cannot_be_made(tmp_path):
    """A traceback (FileNotFoundError from mkdir) until session 31."""
    make_clip(tmp_path / "a.mp4", 64, 48)
    result = run("colorize", tmp_path, "/proc/streamcolor-out")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == "streamcolor: error: output folder '/proc/streamcolor-out' cannot be made " \
                                    "(No such file or directory)"


@pytest.mark.parametrize("value", ["5=", "5= "])
def test_reference_without_an_image_is_refused(value, tmp_path):
    make_clip(tmp_path / "a.mp4", 64, 48)
    result = run("colorize", tmp_path / "a.mp4", tmp_path / "b.mp4", "--reference", value)
    assert result.returncode == 1 and "--reference takes N=IMAGE" in result.stderr, result.stderr


def test_help_names_every_output_container():
    from streamcolor.media import OUTPUT_SUFFIXES

    result = run("colorize", "--help")
    assert " ".join(OUTPUT_SUFFIXES) in " ".join(result.stdout.split()), result.stdout


def test_eval_keeps_folders_of_one_name_apart(tmp_path):
    """Before session 30 the second photos/ folder's rows replaced the first's."""
    import shutil

    folders = [tmp_path / "a" / "b" / "photos", tmp_path / "a_b" / "photos"]  # alike as file names too
    for folder in folders:
        folder.mkdir(parents=True)
        shutil.copy(data_file("eval/kodak24/kodim03.png"), folder)
    result = run("eval", *folders, "--save-dir", tmp_path / "strips")
    assert result.returncode == 0, result.stderr
    sets = [row.split("|")[1].strip() for row in result.stdout.splitlines() if row.split("|")[2:3] == [" model "]]
    assert sets == [str(folder) for folder in folders], result.stdout
    assert len(list((tmp_path / "strips").iterdir())) == 2


def test_metrics_reference_of_odd_size_is_compared_without_the_added_pixel(tmp_path):
    """An H.264 output adds a column and a row to an odd-sized film. Before session 30 metrics
    refused that pair at full size, and at a --size scaled the two by different factors, so the
    pixels compared were not the same ones (PSNR 25 dB where 46 was right)."""
    reference = make_clip(tmp_path / "odd.mkv", 193, 109, frames=6, codec="ffv1")
    out = tmp_path / "grey.mp4"
    assert run("colorize", reference, out, "--strength", "0", "--crf", "0", "--quiet").returncode == 0
    for size in ([], ["--size", "64"]):
        result = run("metrics", out, "--reference", reference, *size)
        assert result.returncode == 0, result.stderr
        scores = dict(line.split() for line in result.stdout.splitlines()[1:])
        assert float(scores["psnr"]) > 40 and float(scores["ssim"]) > 0.98, result.stdout


def test_metrics_of_one_frame_reports_no_change(tmp_path):
    """Before session 30 a single frame reported cdc 0 and warp error 0: perfectly steady."""
    result = run("metrics", make_clip(tmp_path / "one.mp4", 64, 48, frames=1))
    assert result.returncode == 0 and "one: no change between frames to measure" in result.stdout, result.stderr
    assert "cdc" not in result.stdout and "warp_error" not in result.stdout and "colourfulness" in result.stdout
