"""Colour-quality measures: hue accuracy per hue sector, the simulated film response, and the
eval command's baselines."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, data_file
from streamcolor.color import rgb_to_lab
from streamcolor.errors import InputError
from streamcolor.evaluate import SEPIA_AB, evaluate_images, replace_ab
from streamcolor.film import STOCKS, film_L
from streamcolor.images import read_rgb
from streamcolor.metrics import HUE_SECTORS, hue_accuracy, hue_counts


def test_hue_accuracy_of_the_truth_is_one_and_of_grey_zero(kodak):
    truth_counts, grey_counts = 0, 0
    for path in kodak[:6]:
        rgb = read_rgb(path)
        truth_counts = truth_counts + hue_counts(rgb, rgb)
        grey_counts = grey_counts + hue_counts(replace_ab(rgb, np.zeros(2)), rgb)
    truth, grey = hue_accuracy(truth_counts), hue_accuracy(grey_counts)
    assert truth["mean"] > 0.99 and grey["mean"] == 0
    assert truth_counts[:, 1].sum() > 10_000  # the photos have clearly coloured pixels to count


def test_hue_sectors_name_the_colours():
    swatches = {"red": (200, 30, 30), "orange_yellow": (230, 180, 20), "green": (40, 150, 40),
                "cyan": (0, 170, 190), "blue": (40, 70, 200), "purple": (150, 40, 170)}
    for sector, colour in swatches.items():
        patch = np.full((4, 4, 3), colour, np.uint8)
        counts = hue_counts(patch, patch)
        assert counts[list(HUE_SECTORS).index(sector), 1] == 16, sector


def test_sepia_is_right_only_on_warm_hues(kodak):
    counts = sum(hue_counts(replace_ab(read_rgb(p), SEPIA_AB), read_rgb(p)) for p in kodak[:8])
    scores = hue_accuracy(counts)
    assert scores["orange_yellow"] > 0.5 and scores["green"] == 0


@pytest.mark.parametrize("stock", sorted(STOCKS))
def test_film_response_keeps_size_and_range(kodak, stock):
    rgb = read_rgb(kodak[2])[:101, :77]
    L = film_L(rgb, np.random.default_rng(0), stock)
    assert L.shape == rgb.shape[:2] and L.dtype == np.float32
    assert 0 <= L.min() and L.max() <= 100 and L.std() > 5


def test_orthochromatic_film_renders_red_darker_than_panchromatic():
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 220
    rng = np.random.default_rng
    ortho = np.mean([film_L(red, rng(s), "orthochromatic").mean() for s in range(5)])
    pan = np.mean([film_L(red, rng(s), "panchromatic").mean() for s in range(5)])
    assert ortho < pan - 15


def test_eval_scores_film_renderings_on_the_photos_own_L():
    files = sorted(data_file("eval/mcmaster18").glob("*.png"))[:3]
    perfect = {f.name: read_rgb(f) for f in files}
    order = iter(files)

    def oracle(grey):  # returns the truth whatever grey it is given: only ab is scored with film
        return perfect[next(order).name]

    scores = evaluate_images(oracle, files, film=True)
    assert scores["model"].hue["mean"] > 0.99 and scores["model"].psnr > 40
    assert scores["grey"].hue["mean"] == 0 and scores["sepia"].colourfulness > 5


def test_eval_gives_the_photos_lab_L_and_scores_only_colour():
    files = sorted(data_file("eval/kodak24").glob("*.png"))[:2]
    seen = []

    def no_colour(grey):
        seen.append(grey)
        return np.repeat(grey[..., None], 3, 2)

    scores = evaluate_images(no_colour, files)
    for grey, f in zip(seen, files):
        L = rgb_to_lab(read_rgb(f).astype(np.float32) / 255)[..., 0]
        assert np.abs(rgb_to_lab(np.repeat(grey[..., None], 3, 2).astype(np.float32) / 255)[..., 0] - L).max() < 0.5
    assert scores["model"].psnr == pytest.approx(scores["grey"].psnr, abs=0.01)
    assert scores["model"].ciede2000 == pytest.approx(scores["grey"].ciede2000, abs=0.01)


def test_eval_command_scores_each_named_film_stock(tmp_path):
    import subprocess
    import sys

    photos = tmp_path / "photos"
    photos.mkdir()
    for f in sorted(data_file("eval/mcmaster18").glob("*.png"))[:3]:
        (photos / f.name).symlink_to(f)
    cmd = [sys.executable, "-m", "streamcolor", "eval", str(photos), "--film", "orthochromatic", "panchromatic"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = {line.split(" | ")[0].lstrip("| ") for line in done.stdout.splitlines() if line.startswith("| photos")}
    assert rows == {"photos", "photos+film:orthochromatic", "photos+film:panchromatic"}
    model_rows = [line for line in done.stdout.splitlines() if line.startswith("| photos+film:") and "| model |" in line]
    assert len(model_rows) == 2 and model_rows[0] != model_rows[1].replace("panchromatic", "orthochromatic")
    bad = subprocess.run([*cmd[:5], "--film", "kodachrome"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "kodachrome" in bad.stderr


def test_eval_skips_grey_and_tiny_photos(tmp_path, caplog):
    """A grey photo made the grey baseline's mean PSNR infinite (cv2 gives 361 dB), and one under
    7 pixels a side raised SSIM's traceback: each is skipped with a warning."""
    import cv2

    photos = sorted(data_file("eval/kodak24").iterdir())[:2]
    grey = cv2.imread(str(photos[0]), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.merge([grey] * 3))
    cv2.imwrite(str(tmp_path / "tiny.png"), np.random.default_rng(0).integers(0, 255, (5, 7, 3), np.uint8))
    as_grey = lambda g: np.repeat(g[..., None], 3, 2)  # noqa: E731
    alone = evaluate_images(as_grey, photos)
    mixed = evaluate_images(as_grey, [tmp_path / "grey.png", photos[0], tmp_path / "tiny.png", photos[1]])
    assert repr(mixed) == repr(alone) and 15 < mixed["grey"].psnr < 40  # repr: hue sectors absent are NaN
    assert "grey.png: skipped, it is grey" in caplog.text and "tiny.png: skipped, 7x5 is under SSIM's" in caplog.text
    with pytest.raises(InputError, match="no photo of the 2 given can be scored"):
        evaluate_images(as_grey, [tmp_path / "grey.png", tmp_path / "tiny.png"])


@pytest.mark.parametrize("args, message", [
    (["quality.py", "--models", "nope"], "quality.py: error: no model at 'nope'"),
    (["quality.py", "--models", "lite0_unet_v6", "--table", "/nodir/t.md"],  # after minutes of scoring until session 30
     "quality.py: error: --table '/nodir/t.md': output folder '/nodir' does not exist"),
    (["throughput.py", "/no/such.mp4"], "throughput.py: error: input '/no/such.mp4' does not exist"),
    (["temporal.py", "--clips", "/no/such.mp4"], "temporal.py: error: input '/no/such.mp4' does not exist"),
    # argparse's own refusals were the usage and the error, exit 2, until session 31
    (["hints.py", "--hints", "-1"], "hints.py: error: argument --hints: must be a whole number, 1 or more; got '-1'"),
    (["throughput.py", "x.mp4", "--crf", "60"], "throughput.py: error: argument --crf: must be a whole number, 0 to 51"),
])
def test_benchmarks_say_bad_input_in_one_line(args, message):
    """Until session 30 each was a traceback."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / args[0]), *args[1:]], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_benchmark_help_gives_the_defaults():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--help"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and "frames per generator call (default: 8)" in result.stdout, result.stdout
