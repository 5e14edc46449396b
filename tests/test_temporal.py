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
from streamcolor.frame import Frame
from streamcolor.stages.fill import FillSkipped
from streamcolor.temporal import CutDetector, EMASmoother, Flow, MotionSmoother
from streamcolor.temporal.fill import fill_gap
from streamcolor.temporal.flow import motion


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


def _motions(Ls):
    """Each frame's motion from the one before it."""
    return [motion(Flow(), L, previous) for previous, L in zip(Ls, Ls[1:])]


def test_skipped_frames_take_the_predictions_on_either_side_along_the_motion():
    Ls, truth = moving_pattern(shift=3)
    filled = fill_gap(truth[0], truth[4], _motions(Ls[:5]))
    forward = fill_gap(truth[0], None, _motions(Ls[:4]))
    assert len(filled) == 3 and len(forward) == 3
    for ab_both, ab_forward, ab in zip(filled, forward, truth[1:4]):
        assert np.abs(ab_both - ab).mean() < 0.25 * np.abs(truth[0] - ab).mean()
        assert np.abs(ab_forward - ab).mean() < 0.25 * np.abs(truth[0] - ab).mean()


def test_fill_skipped_needs_a_prediction_at_each_shot_start_and_releases_every_frame():
    Ls, truth = moving_pattern(shift=3)
    frames = [Frame(index=i, L_small=L, ab=ab if i % 4 == 0 else None, is_cut=i == 0)
              for i, (L, ab) in enumerate(zip(Ls, truth))]
    stage = FillSkipped(4)
    done = [f for frame in frames for f in stage.push(frame)] + stage.flush()
    assert [f.index for f in done] == list(range(len(Ls))) and all(f.ab is not None for f in done)
    with pytest.raises(ValueError, match="needs a prediction"):
        FillSkipped(4).push(Frame(L_small=Ls[0], is_cut=True))


def test_what_a_running_figure_uncovers_takes_the_later_prediction_not_the_figure_colour():
    """chaplin.mp4's first frames: Chaplin runs across a dark lawn. Carried forward alone, the
    colour of his suit stayed on the lawn he uncovered (a brown smear); the generator's own
    colour there, and the colour filled from both sides, is the lawn's."""
    from streamcolor import Colorizer
    from streamcolor.stages.cuts import DetectCuts
    from streamcolor.stages.infer import Infer

    colorizer = Colorizer.from_pretrained(device="cpu")
    settings, backend = colorizer.settings, colorizer.backend
    cuts = DetectCuts(settings.inference_short_side, backend.multiple, settings.bars)
    infer = Infer(backend, settings.inference_short_side, 1, 13, settings.via_short_side)  # every frame
    frames = [f for i, rgb in enumerate(itertools.islice(read_rgb_frames(data_file("video/film/chaplin.mp4")), 13))
              for f in cuts.push(Frame(index=i, L=image_to_L(rgb)))]
    frames = [done for f in frames for done in infer.push(f)] + infer.flush()
    Ls, own = [f.L_small for f in frames], [f.ab for f in frames]
    both, forward = [], []
    for start in (0, 4, 8):
        both += fill_gap(own[start], own[start + 4], _motions(Ls[start:start + 5]))
        forward += fill_gap(own[start], None, _motions(Ls[start:start + 4]))
    skipped = [i for i in range(12) if i % 4]
    error = lambda abs_: np.stack([np.abs(ab - own[i]).sum(-1) for ab, i in zip(abs_, skipped)])  # noqa: E731
    smeared = error(forward) > 10  # where carrying forward strays by 10 ab units or more
    assert smeared.mean() > 0.005
    assert error(both)[smeared].mean() < 0.5 * error(forward)[smeared].mean()
    assert error(both).mean() < error(forward).mean()


def _filled(frames, flush_after=None):
    """ab of each frame through FillSkipped(4), optionally flushed mid-way (a run's warm-up)."""
    stage, done = FillSkipped(4), []
    for frame in frames:
        done += stage.push(frame)
        if frame.index == flush_after:
            done += stage.flush()
    return {f.index: f.ab for f in done + stage.flush()}


def test_a_flush_mid_shot_fills_the_frames_after_it_as_one_pass_does():
    """A resumed segment or a Ray span flushes its warm-up frames, then goes on with the same
    engine: the skipped frames after the flush take the same colour as in one pass."""
    Ls, truth = moving_pattern(n=12, shift=3)
    make = lambda: [Frame(index=i, L_small=L, ab=ab.copy() if i % 4 == 0 else None, is_cut=i == 0)  # noqa: E731
                    for i, (L, ab) in enumerate(zip(Ls, truth))]
    one_pass, flushed = _filled(make()), _filled(make(), flush_after=5)
    assert sorted(flushed) == list(range(12))
    for i in (6, 7, 9, 10, 11):
        np.testing.assert_allclose(flushed[i], one_pass[i], atol=1e-5)


def test_a_cut_while_frames_wait_fills_them_from_their_own_shot_only():
    Ls, truth = moving_pattern(n=8, shift=3)
    other = np.full_like(truth[0], 50.0)  # a new shot's colour, far from this one's
    frames = [Frame(index=i, L_small=L, ab=truth[0].copy() if i == 0 else None) for i, L in enumerate(Ls[:3])]
    frames[0].is_cut = True
    frames.append(Frame(index=3, L_small=Ls[0], ab=other, is_cut=True))
    filled = _filled(frames)
    assert sorted(filled) == [0, 1, 2, 3]
    for i in (1, 2):
        assert np.abs(filled[i] - truth[i]).mean() < 0.25 * np.abs(truth[0] - truth[i]).mean()
        assert np.abs(filled[i]).max() < 45  # nothing of the next shot's 50
