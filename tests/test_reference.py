"""Reference frames: the frame takes the reference's colour, which follows motion and stops at a cut."""

from __future__ import annotations

import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from conftest import data_file, moving_pattern
from streamcolor import Colorizer
from streamcolor.api import HINT_MODEL, image_to_L
from streamcolor.color import rgb_to_lab
from streamcolor.errors import InputError
from streamcolor.media import read_rgb_frames
from streamcolor.temporal.reference import ReferencePropagator, reference_ab


def test_reference_frame_takes_the_reference_colour(kodak):
    frames = [f for _, f in zip(range(10), read_rgb_frames(data_file("video/film/chaplin.mp4"), 150))]
    reference = cv2.cvtColor(cv2.imread(str(kodak[3])), cv2.COLOR_BGR2RGB)  # another size and picture
    out = list(Colorizer.from_pretrained(device="cpu").colorize_frames(frames, references={6: reference}))
    lab = rgb_to_lab(out[6].astype(np.float32) / 255)
    expected = reference_ab(reference, frames[6].shape[:2])
    # where the film's L lets sRGB hold the reference's colour, it is the reference's (up to uint8 rounding)
    representable = (lab[..., 0] > 15) & (lab[..., 0] < 90)
    assert np.abs(lab[..., 1:] - expected)[representable].mean() < 2.0
    assert np.abs(lab[..., 0] - image_to_L(frames[6])).mean() < 0.5  # the luma is the film's


def test_propagation_follows_motion_and_stops_at_a_cut():
    Ls, truth = moving_pattern(n=8, shift=2)
    propagator = ReferencePropagator()
    zeros = np.zeros_like(truth[0])
    assert np.array_equal(propagator.push(zeros, Ls[0], True, truth[0]), truth[0])
    for L, true_ab in zip(Ls[1:], truth[1:]):
        out = propagator.push(zeros, L, False, None)
    followed, stayed = np.abs(out - truth[-1]).mean(), np.abs(out - truth[0]).mean()
    assert followed < 0.5 * stayed  # the patch moved with the picture (14 px by the last frame)
    assert np.abs(out - truth[-1])[40:50, 40:60].mean() < 5  # and kept most of its colour inside
    assert np.array_equal(propagator.push(zeros, Ls[0], True, None), zeros)  # a cut: the model's colour


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "streamcolor", *map(str, args)], capture_output=True, text=True)


def _clip(path, frames=6):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 40 * i, np.uint8), format="gray")
            frame.pts = i
            c.mux(s.encode(frame.reformat(format="yuv420p")))
        c.mux(s.encode(None))


def test_bad_references_one_line_error_nothing_written(tmp_path):
    src = tmp_path / "clip.mp4"
    _clip(src)
    (tmp_path / "notes.png").write_text("not an image")
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((10, 10, 3), 200, np.uint8))
    for args, message in [(["--reference", f"2={tmp_path / 'missing.png'}"], "does not exist"),
                          (["--reference", f"2={tmp_path / 'notes.png'}"], "is not an image"),
                          (["--reference", f"6={good}"], "reference frame 6 is past the end of the video"),
                          (["--reference", f"x={good}"], "N=IMAGE"),
                          (["--reference", f"²0={good}"], "N=IMAGE"),  # a ValueError traceback until session 31
                          (["--reference", f"2={good}", "--reference", f"2={good}"], "--reference 2 is given twice")]:
        result = _cli("colorize", src, tmp_path / "out.mp4", "--quiet", *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and message in lines[0], result.stderr
        assert not (tmp_path / "out.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "good.png", "notes.png"]


def test_reference_also_colours_the_frames_before_it_within_its_shot():
    Ls, truth = moving_pattern(n=8, shift=2)
    zeros = [np.zeros_like(t) for t in truth]
    propagator = ReferencePropagator()
    back = propagator.carry_back(truth[-1], Ls[-1], list(zip(Ls[:-1], zeros[:-1])), [False] * 8)
    assert np.abs(back[0] - truth[0]).mean() < 0.5 * np.abs(back[0] - truth[-1]).mean()  # moved back with the picture
    cut = propagator.carry_back(truth[-1], Ls[-1], list(zip(Ls[:-1], zeros[:-1])), [False] * 4 + [True] + [False] * 3)
    assert all(np.array_equal(a, z) for a, z in zip(cut[:4], zeros[:4]))  # frames before the cut: untouched
    assert np.abs(cut[5]).mean() > 1  # frames after it, in the reference's shot: coloured


def test_engine_holds_frames_for_a_reference_ahead():
    frames = [f for _, f in zip(range(12), read_rgb_frames(data_file("video/film/chaplin.mp4"), 150))]
    grey = [f.mean(-1).astype(np.uint8) for f in frames]
    colorizer = Colorizer.from_pretrained(device="cpu")
    reference = np.zeros_like(frames[0])
    reference[...] = (40, 90, 200)  # blue everywhere: easy to see where it went
    plain = list(colorizer.colorize_frames(grey, batch_size=4))
    guided = list(colorizer.colorize_frames(grey, batch_size=4, references={9: reference}))
    assert len(guided) == len(plain) == 12

    def blue(rgb):
        return float(rgb[..., 2].astype(int).mean() - rgb[..., 0].astype(int).mean())

    assert blue(guided[8]) > blue(plain[8]) + 10 and blue(guided[10]) > blue(plain[10]) + 10  # both sides


def test_hints_change_the_colour_near_the_hint_and_little_far_away(kodak):
    from streamcolor.images import read_rgb

    grey = read_rgb(kodak[2]).mean(-1).astype(np.uint8)  # 512 x 768
    colorizer = Colorizer.from_pretrained(HINT_MODEL, device="cpu")
    assert colorizer.takes_hints
    plain = colorizer.colorize_image(grey)
    hinted = colorizer.colorize_image(grey, hints=[(250, 380, (30, 60, 220))])  # a strong blue
    change = np.abs(rgb_to_lab(hinted.astype(np.float32) / 255)[..., 1:] - rgb_to_lab(plain.astype(np.float32) / 255)[..., 1:]).sum(-1)
    near, far = change[240:261, 370:391].mean(), change[:100, :150].mean()
    assert near > 10 and far < 0.2 * near, (near, far)
    assert np.array_equal(colorizer.colorize_image(grey, hints=[]), plain)


@pytest.mark.parametrize("hints, message", [
    ([(5, 5)], "each hint must be"),
    (["red"], "each hint must be"),
    ([(50, 5, (1, 2, 3))], "outside the 60x50 image"),
    ([(5, 5, (300, 0, 0))], "three 0-255 values"),
    ([(5, 5, "red")], "three 0-255 values"),  # a numpy ValueError before session 25
    ([(5, 5, ("1", "2", "3"))], "three 0-255 values"),
    ([("5", 5, (1, 2, 3))], "coordinates must be numbers"),  # a TypeError before session 25
    (5, "hints must be a list"),  # a TypeError before session 25
])
def test_a_malformed_hint_is_one_clear_input_error(hints, message):
    colorizer = Colorizer.from_pretrained(HINT_MODEL, device="cpu")
    with pytest.raises(InputError, match=message):
        colorizer.colorize_image(np.zeros((50, 60), np.uint8), hints=hints)


def test_reference_folder_refusals_and_warnings(tmp_path, caplog):
    """Session 31: two files of one frame (12.png, 012.png) took one without a word; a name of
    non-ASCII digits (²0.png) was a traceback; an RGBA reference lost its alpha silently."""
    from streamcolor.api import load_references

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = rgba[..., 3] = 255
    cv2.imwrite(str(tmp_path / "opaque.png"), rgba)
    assert list(load_references({3: tmp_path / "opaque.png"})) == [3] and "alpha" not in caplog.text  # nothing lost
    rgba[0, 0, 3] = 0
    cv2.imwrite(str(tmp_path / "12.png"), rgba)
    cv2.imwrite(str(tmp_path / "²0.png"), rgba[..., :3])
    (tmp_path / "opaque.png").unlink()
    assert list(load_references(folder=tmp_path)) == [12]
    assert "passed over (e.g. '²0.png')" in caplog.text and "its alpha channel is dropped" in caplog.text
    with pytest.raises(InputError, match="references: frame 12 is given as .* and as '12.png' in"):
        load_references({12: tmp_path / "12.png"}, folder=tmp_path)  # the folder's won without a word
    cv2.imwrite(str(tmp_path / "012.png"), rgba)
    with pytest.raises(InputError, match="references: 012.png and 12.png are both frame 12; keep one"):
        load_references(folder=tmp_path)


def test_strength_scales_a_reference_as_the_frames_it_colours_and_a_stretch_is_said(kodak, caplog):
    """A first version of session 31 left a reference frame at full colour under ``--strength
    0.5`` while the frames its colour is carried to were halved: the reference frame flashed. A
    reference of another shape was stretched without a word until session 31."""
    frames = [f for _, f in zip(range(5), read_rgb_frames(data_file("video/film/chaplin.mp4"), 150))]
    reference = cv2.cvtColor(cv2.imread(str(kodak[3])), cv2.COLOR_BGR2RGB)  # portrait; the film 16:9
    half = list(Colorizer.from_pretrained(device="cpu", strength=0.5).colorize_frames(frames, references={2: reference}))
    chroma = [_chroma_of(frame) for frame in half]
    assert chroma[2] < 1.3 * min(chroma[1], chroma[3])  # no flash at the reference
    assert "the reference for frame 2 is 0.67 times as wide as high" in caplog.text and "stretched" in caplog.text


def _chroma_of(rgb):
    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def test_a_still_of_a_turned_phone_clip_is_turned_back(tmp_path):
    """A phone clip is stored on its side with a display rotation; a still taken from a player
    is upright. Until session 31 it was squashed onto the stored frame (green sky, pink trees)."""
    from streamcolor.temporal.reference import as_stored

    shown = np.zeros((320, 180, 3), np.uint8)
    shown[:40] = (0, 0, 255)  # a blue sky at the top of the picture as shown
    stored = as_stored(shown, 90, (180, 320))
    assert stored.shape == (180, 320, 3) and (stored[:, -40:] == (0, 0, 255)).all()  # at the right as stored
    assert as_stored(stored, 90, (180, 320)) is stored  # a still of the stored frame: as it is
    assert as_stored(shown, 0, (320, 180)) is shown


def test_no_hints_is_no_hints_on_any_model():
    """``hints=[]`` on a model without hints was refused as hints (session 31)."""
    picture = np.zeros((64, 64), np.uint8)
    colorizer = Colorizer.from_pretrained(device="cpu")
    plain = colorizer.colorize_image(picture)
    assert np.array_equal(colorizer.colorize_image(picture, hints=[]), plain)
    assert np.array_equal(colorizer.colorize_image(picture, hints=np.zeros((0, 3))), plain)
