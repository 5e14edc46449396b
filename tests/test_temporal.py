"""Scene cuts, smoothing and flicker metrics on real clips and synthetic motion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import data_file, moving_pattern
from streamcolor.api import image_to_L
from streamcolor.images import resize_short_side
from streamcolor.media import read_rgb_frames
from streamcolor.metrics import flicker
from streamcolor.temporal import CutDetector, EMASmoother, MotionSmoother


def test_cut_detector_finds_the_five_cuts_of_six_shots():
    detector = CutDetector()
    frames = read_rgb_frames(data_file("video/color/six_shots.mp4"), 150)
    cuts = [i for i, f in enumerate(frames) if detector.push(image_to_L(f))]
    assert cuts == [0, 48, 96, 144, 192, 240]


def test_cut_detector_ignores_the_title_fade_of_big_buck_bunny():
    detector = CutDetector()
    frames = read_rgb_frames(data_file("video/color/big_buck_bunny_480p_30s.mp4"), 150)
    cuts = [i for i, f in enumerate(frames) if detector.push(image_to_L(f))]
    assert cuts == [0, 283, 376, 551]  # frames 0-30 fade in from black: no cut there


def _warp_error_of(Ls, abs_):
    """flicker() on RGB built from (L, ab)."""
    from streamcolor.color import lab_to_rgb

    rgb = [(lab_to_rgb(np.concatenate([L[..., None], ab], -1)) * 255 + 0.5).astype(np.uint8) for L, ab in zip(Ls, abs_)]
    return flicker(rgb)["warp_error"]


@pytest.mark.parametrize("smoother", [MotionSmoother(), EMASmoother(0.6)])
def test_smoothing_lowers_flicker_of_noisy_predictions(smoother):
    Ls, truth = moving_pattern()
    rng = np.random.default_rng(1)
    noisy = [ab + rng.normal(0, 1, (1, 1, 2)).astype(np.float32) * 6 for ab in truth]  # per-frame colour jumps
    smoothed = [smoother.push(ab, L, i == 0) for i, (L, ab) in enumerate(zip(Ls, noisy))]
    assert _warp_error_of(Ls, smoothed) < 0.7 * _warp_error_of(Ls, noisy)


def test_motion_smoother_follows_motion_better_than_ema():
    Ls, truth = moving_pattern(shift=3)
    motion, ema = MotionSmoother(0.8), EMASmoother(0.8)
    m = [motion.push(ab, L, i == 0) for i, (L, ab) in enumerate(zip(Ls, truth))]
    e = [ema.push(ab, L, i == 0) for i, (L, ab) in enumerate(zip(Ls, truth))]
    error = lambda seq: np.mean([np.abs(a - b).mean() for a, b in zip(seq[1:], truth[1:])])  # noqa: E731
    assert error(m) < 0.5 * error(e)  # the moving average leaves a trail behind the patch


@pytest.mark.parametrize("smoother", [MotionSmoother(), EMASmoother()])
def test_static_scene_unchanged_and_cut_resets(smoother):
    Ls, truth = moving_pattern(shift=0)
    out = [smoother.push(ab, L, i == 0) for i, (L, ab) in enumerate(zip(Ls, truth))]
    for o, ab in zip(out, truth):
        np.testing.assert_allclose(o, ab, atol=0.05)
    other = np.full_like(truth[0], 7.0)
    np.testing.assert_array_equal(smoother.push(other, Ls[0], True), other)


def test_metrics_zero_on_identical_frames():
    frame = next(read_rgb_frames(data_file("video/film/chaplin.mp4"), 120))
    colour = frame.copy()
    colour[..., 0] = np.clip(colour[..., 0].astype(int) + 40, 0, 255)
    scores = flicker([colour] * 5, [colour] * 5)
    assert scores["cdc"] == 0 and scores["warp_error"] == 0 and scores["ssim"] == 1.0


def test_metrics_see_flicker():
    frame = resize_short_side(next(read_rgb_frames(data_file("video/color/six_shots.mp4"))), 120)
    tinted = frame.copy()
    tinted[..., 2] = np.clip(tinted[..., 2].astype(int) + 60, 0, 255)
    steady = flicker([frame, frame, frame, frame])
    flickering = flicker([frame, tinted, frame, tinted])
    assert flickering["cdc"] > steady["cdc"] + 0.01 and flickering["warp_error"] > steady["warp_error"] + 5


def test_metrics_cli_writes_plot(tmp_path):
    import subprocess
    import sys

    clip = data_file("video/edge/transparent.webm")
    plot = tmp_path / "flicker.png"
    result = subprocess.run([sys.executable, "-m", "streamcolor", "metrics", str(clip), "--reference", str(clip),
                             "--plot", str(plot)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "warp_error" in result.stdout and "psnr" in result.stdout and plot.stat().st_size > 1000


class _Counting:
    """The real default backend, counting the frames it is asked to colorize."""

    def __init__(self, backend):
        self.backend, self.frames, self.multiple = backend, 0, backend.multiple

    def predict_ab(self, L, hints=None):
        self.frames += len(L)
        return self.backend.predict_ab(L, hints)


def test_infer_every_runs_the_generator_on_every_kth_frame_of_a_shot_and_on_each_cut():
    from streamcolor import Colorizer
    from streamcolor.engine import Engine, EngineSettings
    from streamcolor.frame import Frame

    frames = itertools.islice(read_rgb_frames(data_file("video/color/six_shots.mp4")), 36, 60)
    Ls = [image_to_L(f) for f in frames]  # a cut at frame 48: index 12
    colorizer = Colorizer.from_pretrained(device="cpu")
    outputs = {}
    for every in (1, 3):
        backend = _Counting(colorizer.backend)
        engine = Engine(backend, EngineSettings(infer_every=every))
        outputs[every] = [f.lab() for done in engine.run(Frame(index=i, L=L) for i, L in enumerate(Ls)) for f in done]
        assert backend.frames == {1: 24, 3: 8}[every]  # frames 0, 3, 6, 9, then the cut 12, 15, 18, 21
    for index in (0, 12):  # a shot's first frame is the generator's own colour
        np.testing.assert_allclose(outputs[3][index], outputs[1][index], atol=0.05)
    between = np.mean([np.abs(a[..., 1:] - b[..., 1:]).mean() for a, b in zip(outputs[1], outputs[3])])
    assert 0 < between < 2.0  # carried along the flow, close to running the generator on every frame


def test_without_smoothing_every_frame_is_inferred():
    from streamcolor import Colorizer
    from streamcolor.engine import Engine, EngineSettings
    from streamcolor.frame import Frame

    Ls, _ = moving_pattern()
    for settings in (EngineSettings(smoothing="off"), EngineSettings(smooth_strength=0.0), EngineSettings(smoothing="ema")):
        backend = _Counting(Colorizer.from_pretrained(device="cpu").backend)
        done = [f for batch in Engine(backend, settings).run(Frame(index=i, L=L) for i, L in enumerate(Ls)) for f in batch]
        assert len(done) == len(Ls) and backend.frames == len(Ls)


def test_motion_smoother_without_a_prediction_follows_the_motion():
    Ls, truth = moving_pattern(shift=3)
    smoother = MotionSmoother()
    with pytest.raises(ValueError):
        smoother.push(None, Ls[0], True)
    out = [smoother.push(truth[0], Ls[0], True)] + [smoother.push(None, L, False) for L in Ls[1:4]]
    for o, ab in zip(out[1:], truth[1:4]):
        assert np.abs(o - ab).mean() < 0.25 * np.abs(truth[0] - ab).mean()
