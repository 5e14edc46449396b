"""What the front ends (the CLI, the demo) take from the API: folder batches, reference images,
a model's default settings, the grey "before" picture; and the demo imports only the public API."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import REPO, data_file, make_clip
from streamcolor import Colorizer, InputError
from streamcolor.api import DEFAULT_MODEL, default_settings, image_to_L, load_references, to_grey
from streamcolor.color import rgb_to_lab
from streamcolor.images import read_rgb
from streamcolor.models import from_pretrained
from streamcolor.models.io import read_config


def _frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_folder_batch_reports_each_file_as_it_ends(tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    make_clip(inbox / "a.mp4", 64, 48, frames=4)
    make_clip(inbox / "b.mkv", 64, 48, frames=6)
    (inbox / "notes.txt").write_text("not a film")
    colorizer = Colorizer.from_pretrained(device="cpu")
    seen = []

    def on_file(result):  # called at once: b is not begun when a's result comes
        seen.append((result, sorted(p.name for p in outbox.iterdir() if not p.name.startswith("."))))

    results = colorizer.colorize_folder(inbox, outbox, on_file=on_file, preset="ultrafast")
    assert [(r.status, r.name) for r in results] == [("ignored", "notes.txt"), ("ok", "a.mp4"), ("ok", "b.mkv")]
    assert results[0].detail == "not a video file suffix" and results[1].detail.startswith("4 frames, ")
    assert [r for r, _ in seen] == results
    assert [outputs for _, outputs in seen] == [[], ["a.mp4"], ["a.mp4", "b.mkv"]]
    assert [_frames(outbox / n) for n in ("a.mp4", "b.mkv")] == [4, 6]

    again = colorizer.colorize_folder(inbox, outbox)
    assert [(r.status, r.name) for r in again[1:]] == [("skipped (done)", "a.mp4"), ("skipped (done)", "b.mkv")]


@pytest.mark.parametrize("case, message", [
    ("into_itself", "is the input folder"), ("output_is_a_file", "must be a folder"), ("no_videos", "no video files"),
])
def test_folder_batch_refusals(case, message, tmp_path):
    colorizer = Colorizer.__new__(Colorizer)  # refused before any film is opened: no model needed
    (tmp_path / "notes.txt").write_text("not a film")
    if case != "no_videos":
        make_clip(tmp_path / "a.mp4", 64, 48)
    dst = {"into_itself": tmp_path, "output_is_a_file": tmp_path / "notes.txt", "no_videos": tmp_path / "out"}[case]
    with pytest.raises(InputError, match=message):
        colorizer.colorize_folder(tmp_path, dst)


def test_load_references_reads_images_and_a_numbered_folder(tmp_path, caplog):
    photo = data_file("eval/kodak24/kodim05.png")
    folder = tmp_path / "refs"
    folder.mkdir()
    shutil.copy(photo, folder / "000064.png")
    (folder / "notes.txt").write_text("not numbered: passed over")
    references = load_references({3: photo}, folder)
    assert sorted(references) == [3, 64]
    assert "1 file(s)" in caplog.text and "notes.txt" in caplog.text
    for image in references.values():
        assert image.dtype == np.uint8 and image.shape == (512, 768, 3)
        assert np.array_equal(image, read_rgb(photo))


def test_load_references_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match="does not exist"):
        load_references({2: tmp_path / "missing.png"})
    with pytest.raises(InputError, match="is not an image OpenCV can read"):
        load_references({2: tmp_path / "notes.png"})
    with pytest.raises(InputError, match="is not a folder"):
        load_references(folder=tmp_path / "missing")
    with pytest.raises(InputError, match="no reference images named by frame number"):
        load_references(folder=tmp_path)


def test_grey_keeps_L_and_drops_colour():
    rgb = read_rgb(data_file("eval/kodak24/kodim05.png"))
    grey = to_grey(rgb)
    assert grey.dtype == np.uint8 and grey.shape == rgb.shape
    lab = rgb_to_lab(grey.astype(np.float32) / 255)
    assert np.abs(lab[..., 1:]).max() < 1 and np.abs(lab[..., 0] - image_to_L(rgb)).mean() < 0.5


def test_default_settings_are_the_models_render_size():
    settings, config = default_settings(), read_config(DEFAULT_MODEL)
    assert settings.inference_short_side == config["inference_short_side"]
    assert settings.via_short_side == config.get("via_short_side")
    assert default_settings("unet_small_hints_v3").via_short_side is None
    assert Colorizer(from_pretrained(DEFAULT_MODEL)).settings == settings  # built directly, the same


def test_demo_imports_only_the_public_api():
    allowed = {"streamcolor", "streamcolor.api", "streamcolor.errors", "streamcolor.argtypes"}
    for path in (REPO / "demo").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "streamcolor" and not name.startswith("streamcolor.demo"):
                    assert name in allowed, f"{path.name} imports {name}: use streamcolor.api"


def test_films_written_under_one_name_all_fail(tmp_path):
    """x.mpg is written as x.mkv. Before session 30 its film replaced x.mkv's (with overwrite), or
    it was counted as done because x.mkv's output existed; and where x.mkv came after x.mpg's
    output was written, x.mkv was counted as done."""
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    make_clip(inbox / "x.mpg", 64, 48, frames=6, codec="mpeg2video")
    colorizer = Colorizer.from_pretrained(device="cpu")
    [alone] = colorizer.colorize_folder(inbox, outbox, preset="ultrafast")
    assert alone.status == "ok" and _frames(outbox / "x.mkv") == 6
    make_clip(inbox / "X.MKV", 64, 48, frames=4)
    for overwrite in (False, True):
        results = colorizer.colorize_folder(inbox, outbox, overwrite=overwrite, preset="ultrafast")
        assert [(r.status, r.detail) for r in results] == [
            ("FAILED", "X.MKV and x.mpg would both be written as 'X.MKV': rename one"),
            ("FAILED", "X.MKV and x.mpg would both be written as 'x.mkv': rename one")]
        assert sorted(p.name for p in outbox.iterdir()) == ["x.mkv"] and _frames(outbox / "x.mkv") == 6


def test_folder_batch_input_must_be_a_folder(tmp_path):
    colorizer = Colorizer.__new__(Colorizer)
    with pytest.raises(InputError, match="input folder .* does not exist"):
        colorizer.colorize_folder(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "file.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="input folder .* is not a folder"):
        colorizer.colorize_folder(tmp_path / "file.mp4", tmp_path / "out")


def test_a_model_name_that_is_no_name_is_an_unknown_model():
    from streamcolor.errors import UnknownModelError

    with pytest.raises(UnknownModelError, match="a model is a shipped name or a folder path, got 5"):
        Colorizer.from_pretrained(5)


@pytest.mark.parametrize("damage, message", [
    ("truncated", "model.safetensors' is damaged: Error while deserializing header"),
    ("config", "config.json' is damaged: Expecting property name"),
    ("other_weights", "does not hold the weights of lite0_unet_bins: 346 of its tensors missing"),
])
def test_a_damaged_saved_model_is_one_error(damage, message, tmp_path):
    """Before session 30 each was a traceback (SafetensorError, JSONDecodeError, RuntimeError)."""
    shipped = REPO / "streamcolor" / "weights"
    folder = shutil.copytree(shipped / DEFAULT_MODEL, tmp_path / "model")
    if damage == "truncated":
        (folder / "model.safetensors").write_bytes((shipped / DEFAULT_MODEL / "model.safetensors").read_bytes()[:1000])
    elif damage == "config":
        (folder / "config.json").write_text("{bad")
    else:
        shutil.copy(shipped / "unet_small_hints_v3" / "model.safetensors", folder)
    with pytest.raises(InputError, match=re.escape(message)):
        Colorizer.from_pretrained(folder)
