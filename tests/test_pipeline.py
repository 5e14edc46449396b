"""The streaming pipeline on the shipped sample film, with the shipped default model."""

from __future__ import annotations

import dataclasses
import re

import av
import cv2
import numpy as np
import pytest
import torch

from streamcolor import Colorizer
from streamcolor.engine import EngineSettings
from streamcolor.errors import InputError


def _video_summary(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        summary = dict(time_base=v.time_base, rate=v.average_rate, width=v.codec_context.width,
                       height=v.codec_context.height, duration=c.duration)
        Y, chroma, pts = [], [], []
        for frame in c.decode(video=0):
            planes = frame.to_ndarray(format="yuv420p")
            h = frame.height
            Y.append(planes[:h].copy())
            chroma.append(planes[h:].astype(np.int16) - 128)
            pts.append(frame.pts)
    return summary, np.stack(Y), chroma, pts


def _audio_packets(path):
    with av.open(str(path)) as c:
        return [(bytes(p), p.pts, p.duration) for p in c.demux(audio=0) if p.size]


@pytest.fixture(scope="module")
def colorized(tmp_path_factory, request):
    from conftest import data_file

    src = data_file("video/film/chaplin.mp4")
    dst = tmp_path_factory.mktemp("out") / "chaplin_colour.mp4"
    report = Colorizer.from_pretrained(device="cpu").colorize_video(src, dst)
    return src, dst, report


def test_frames_timing_and_metadata_kept(colorized):
    src, dst, report = colorized
    s_info, s_Y, _, s_pts = _video_summary(src)
    d_info, d_Y, d_chroma, d_pts = _video_summary(dst)
    assert report.frames == len(s_pts) == len(d_pts) == 241
    assert d_pts == s_pts
    for key in ("time_base", "rate", "width", "height"):
        assert d_info[key] == s_info[key], key
    assert abs(d_info["duration"] - s_info["duration"]) <= 1e6 / float(s_info["rate"])  # within one frame (µs)


def test_audio_copied_packet_for_packet(colorized):
    src, dst, report = colorized
    src_packets = _audio_packets(src)
    assert report.carried_packets == len(src_packets) > 0
    assert [p[0] for p in _audio_packets(dst)] == [p[0] for p in src_packets]


def test_luma_kept_and_colour_added(colorized):
    src, dst, _ = colorized
    _, s_Y, _, _ = _video_summary(src)
    _, d_Y, d_chroma, _ = _video_summary(dst)
    mse = np.mean((s_Y.astype(np.float64) - d_Y) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 40
    chroma_spread = np.mean([np.abs(c).mean() for c in d_chroma])
    # a grey film would stay at 128 everywhere (0); the default leaves chaplin's pavement and
    # walls neutral and colours skin, coats, palms and lawns
    assert chroma_spread > 1.0


def test_nothing_left_beside_output(colorized):
    _, dst, _ = colorized
    assert sorted(p.name for p in dst.parent.iterdir()) == [dst.name]


def test_colorize_image_shapes_and_L(kodak):
    from streamcolor.color import rgb_to_lab
    from streamcolor.images import read_rgb

    colorizer = Colorizer.from_pretrained(device="cpu")
    rgb = read_rgb(kodak[0])
    grey = rgb.mean(-1).astype(np.uint8)
    for image in (grey, rgb):
        out = colorizer.colorize_image(image)
        assert out.shape == rgb.shape and out.dtype == np.uint8
    L_in = rgb_to_lab(rgb.astype(np.float32) / 255)[..., 0]
    L_out = rgb_to_lab(out.astype(np.float32) / 255)[..., 0]
    assert np.abs(L_in - L_out).mean() < 0.5
    assert np.hypot(*np.moveaxis(rgb_to_lab(out.astype(np.float32) / 255)[..., 1:], -1, 0)).mean() > 3


def test_colorize_frames_keeps_count_and_smooths():
    rng = np.random.default_rng(0)
    base = (rng.random((72, 96)) * 255).astype(np.uint8)
    frames = [np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
              for _ in range(5)]
    smooth = list(Colorizer.from_pretrained(device="cpu").colorize_frames(frames, batch_size=2))
    raw = list(Colorizer.from_pretrained(device="cpu", smoothing="off").colorize_frames(frames, batch_size=2))
    assert len(smooth) == len(raw) == 5 and smooth[0].shape == (72, 96, 3)
    assert np.array_equal(smooth[0], raw[0])  # the first frame starts a shot: nothing to blend with

    def change(seq):
        return np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(seq, seq[1:])])

    assert change(smooth) < change(raw)


def test_colorize_frames_refuses_a_size_change_and_a_bad_batch():
    """Before session 25: a numpy ValueError at the batch, and an AttributeError for batch 0."""
    colorizer = Colorizer.from_pretrained(device="cpu")
    for batch_size in (0, 65):  # refused at the call, before any frame is read
        with pytest.raises(InputError, match=re.escape("batch_size (--batch-size) must be")):
            colorizer.colorize_frames(iter(()), batch_size=batch_size)
    frames = [np.zeros((72, 96), np.uint8)] * 3 + [np.zeros((48, 64), np.uint8)]
    with pytest.raises(InputError, match=re.escape("frame 3 is 64x48, the frames before it 96x72")):
        list(colorizer.colorize_frames(frames, batch_size=2))


def test_strength_scales_colour(kodak):
    from streamcolor.color import rgb_to_lab
    from streamcolor.errors import InputError
    from streamcolor.metrics import colourfulness
    from streamcolor.images import read_rgb

    grey = read_rgb(kodak[0]).mean(-1).astype(np.uint8)
    colorizer = Colorizer.from_pretrained(device="cpu")
    default = colorizer.colorize_image(grey)
    assert np.array_equal(colorizer.with_settings(strength=1.0).colorize_image(grey), default)
    none = colorizer.with_settings(strength=0).colorize_image(grey)
    assert np.abs(none.astype(int) - none.mean(-1, keepdims=True)).max() <= 1  # R = G = B: grey
    vivid = colorizer.with_settings(strength=2).colorize_image(grey)
    assert colourfulness(vivid) > 1.5 * colourfulness(default)
    L = [rgb_to_lab(x.astype(np.float32) / 255)[..., 0] for x in (default, none, vivid)]
    assert max(np.abs(L[0] - x).mean() for x in L[1:]) < 0.5  # luma untouched, even where colour was clipped
    with pytest.raises(InputError, match="must be 0 to 4"):
        colorizer.with_settings(strength=-1)


def test_shrinking_via_the_training_scale_softens_only_larger_pictures(kodak):
    from streamcolor.color import rgb_to_lab
    from streamcolor.images import read_rgb
    from streamcolor.stages.infer import shrink

    L = rgb_to_lab(read_rgb(kodak[0]).astype(np.float32) / 255)[..., 0]  # 512 x 768
    one_step, via = shrink(L, (192, 128), None), shrink(L, (192, 128), 160)
    assert one_step.shape == via.shape == (128, 192)

    def detail(x):
        return np.abs(cv2.Laplacian(x, cv2.CV_32F)).mean()

    assert detail(via) < 0.9 * detail(one_step)
    assert abs(via.mean() - one_step.mean()) < 0.5
    small = L[:150, :225]
    assert np.array_equal(shrink(small, (192, 128), 160), shrink(small, (192, 128), None))
    assert np.array_equal(shrink(L, (384, 256), 160), shrink(L, (384, 256), None))  # render size above 160


def test_via_short_side_changes_the_colour_of_large_photos_only(kodak):
    from streamcolor.errors import InputError
    from streamcolor.images import list_images, read_rgb
    from conftest import data_file

    colorizer = Colorizer.from_pretrained(device="cpu")
    one_step = colorizer.with_settings(via_short_side=None)
    large = read_rgb(kodak[0])
    assert colorizer.settings.via_short_side == 160
    assert not np.array_equal(colorizer.colorize_image(large), one_step.colorize_image(large))
    small = read_rgb(list_images([str(data_file("train/coco_val"))])[0])
    assert min(small.shape[:2]) <= 160
    assert np.array_equal(colorizer.colorize_image(small), one_step.colorize_image(small))
    larger_render = colorizer.with_settings(inference_short_side=256)  # above 160: in one step
    assert np.array_equal(larger_render.colorize_image(large), one_step.with_settings(inference_short_side=256).colorize_image(large))
    letterboxed = np.zeros((large.shape[0] + 200, *large.shape[1:]), np.uint8)  # bars found: the crop path
    letterboxed[100:-100] = large
    from streamcolor.api import image_to_L
    from streamcolor.bars import find_active_area

    assert find_active_area(image_to_L(letterboxed)).top == 100
    assert not np.array_equal(colorizer.colorize_image(letterboxed), one_step.colorize_image(letterboxed))
    for bad in (8, float("nan"), 160.5, "160", True):
        with pytest.raises(InputError, match="via_short_side must be None or 16 pixels or more"):
            colorizer.with_settings(via_short_side=bad)
    with pytest.raises(InputError, match="must be 16 pixels or more"):
        colorizer.with_settings(inference_short_side=float("nan"))


def test_guided_upsample_puts_colour_edges_on_luma_edges():
    from streamcolor.stages.upsample import guided_upsample

    full = np.full((120, 160), 30.0, np.float32)
    full[:, 83:] = 70.0  # a luma edge between full-resolution columns 82 and 83
    small = cv2.resize(full, (40, 30), interpolation=cv2.INTER_AREA)
    ab = np.where(small[..., None] > 50, np.float32([40, -30]), np.float32([-20, 10])).astype(np.float32)
    up = guided_upsample(ab, small, full, 1e-3)
    assert up.shape == (120, 160, 2) and up.dtype == np.float32
    np.testing.assert_allclose(up[60, 78], (-20, 10), atol=3)  # each side keeps its colour up to the edge
    np.testing.assert_allclose(up[60, 87], (40, -30), atol=3)
    truth = np.where(full[..., None] > 50, np.float32([40, -30]), np.float32([-20, 10]))
    near = (slice(None), slice(76, 90))  # where bilinear upsampling blurs the colour across the edge
    bilinear = cv2.resize(ab, (160, 120), interpolation=cv2.INTER_LINEAR)
    assert np.abs(up - truth)[near].mean() < np.abs(bilinear - truth)[near].mean()
    assert (up[:, 82, 0] < -15).all() and (up[:, 83, 0] > 25).all()  # the colour switches at the luma edge


@pytest.mark.parametrize("full_range, colorspace, bits, pix_fmt", [(False, 5, 8, "yuv420p"), (True, 1, 10, "yuv420p10le")])
def test_chroma_maths_in_torch_match_opencv(kodak, full_range, colorspace, bits, pix_fmt):
    """The Lab -> Cb/Cr path a CUDA backend uses (torch, run here on the CPU) gives the
    OpenCV path's codes, out-of-gamut colour included."""
    import torch

    from streamcolor.color import rgb_to_lab
    from streamcolor.media import VideoInfo
    from streamcolor.pipeline import _ChromaWriter

    rgb = cv2.cvtColor(cv2.imread(str(kodak[22])), cv2.COLOR_BGR2RGB)
    lab = rgb_to_lab(rgb[::2, ::2].astype(np.float32) / 255)
    lab[..., 1:] *= 1.6  # pushes part of the picture out of the sRGB gamut
    info = VideoInfo(768, 512, 1, None, 0, None, 2 if full_range else 1, colorspace, colorspace, colorspace,
                     "yuv420p", bit_depth=bits)
    size = (info.width, info.height)
    opencv, torch_cpu = _ChromaWriter(info, pix_fmt, size), _ChromaWriter(info, pix_fmt, size, torch.device("cpu"))
    a, b = opencv.cbcr(lab), torch_cpu.cbcr(lab)
    assert a.dtype == b.dtype == (np.uint8 if bits == 8 else np.uint16) and a.shape == b.shape == (256, 384, 2)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001  # float rounding moves a code on a few pixels
    assert np.abs(a.astype(int) - 2 ** (bits - 1)).mean() > 2 ** (bits - 5)  # real colour, not grey


def test_maths_run_on_the_generators_cuda_device_only():
    import torch

    from streamcolor.backends import TorchBackend
    from streamcolor.models import create_model
    from streamcolor.backends.device import maths_device, to_device

    assert maths_device(TorchBackend(create_model("unet_small"), "cpu")) is None
    cuda = type("CudaBackend", (), {"device": torch.device("cuda", 1)})()
    assert maths_device(cuda) == torch.device("cuda", 1)
    L = np.arange(12, dtype=np.uint8).reshape(3, 4)
    x = to_device(L, torch.device("cpu"))
    assert x.dtype == torch.float32 and x.shape == (3, 4) and x[2, 3] == 11


def test_image_inputs_refused_or_taken_with_one_clear_reason(kodak, caplog):
    from streamcolor.errors import InputError

    colorizer = Colorizer.from_pretrained()
    with pytest.raises(InputError, match="empty: shape"):
        colorizer.colorize_image(np.zeros((0, 0), np.uint8))
    with pytest.raises(InputError, match="got ndarray of float64"):
        colorizer.colorize_image(np.zeros((8, 8)))
    rgb = cv2.cvtColor(cv2.imread(str(kodak[0])), cv2.COLOR_BGR2RGB)[:64, :96]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(colorizer.colorize_image(rgba), colorizer.colorize_image(rgb))
    assert "alpha channel is dropped" not in caplog.text  # opaque: nothing is lost (session 32)
    rgba[0, 0, 3] = 128
    frames = list(colorizer.colorize_frames([rgba] * 3))
    assert np.array_equal(frames[0], colorizer.colorize_image(rgb))
    assert caplog.text.count("alpha channel is dropped") == 1  # once for the sequence, not per frame


@pytest.mark.parametrize("changes, message", [
    ({"guide_eps": float("nan")}, "guide_eps must be a finite number of 1e-06 or more"),
    ({"guide_eps": -1}, "guide_eps must be a finite number of 1e-06 or more"),
    ({"guide_eps": 1e-30}, "guide_eps must be a finite number of 1e-06 or more"),
    ({"infer_every": 2.5}, "infer_every (--infer-every) must be a whole number"),
    ({"infer_every": float("inf")}, "infer_every (--infer-every) must be a whole number"),
    ({"strength": "1"}, "strength (--strength) must be 0 to 4"),
    ({"strength": None}, "strength (--strength) must be 0 to 4"),
    ({"smooth_strength": "0.5"}, "smooth_strength (--smooth-strength) is the weight of the past"),
    ({"bars": "no"}, "bars must be True or False"),
    ({"strenght": 2}, "unknown argument or setting 'strenght'; the settings of EngineSettings are"),
])
def test_settings_of_the_wrong_kind_are_one_input_error(changes, message):
    """Before session 30 a NaN guide_eps painted the picture black, a fractional infer_every
    failed mid-video, and the wrong types were TypeErrors."""
    with pytest.raises(InputError, match=re.escape(message)):
        Colorizer.from_pretrained(device="cpu", **changes)


def test_the_smallest_guide_eps_keeps_flat_and_textured_pictures():
    """guide_eps=1e-30 passed until session 32 and gave a black picture (float32's variances
    round below it); the smallest allowed keeps the picture's L and gives no noise."""
    from streamcolor.engine import MIN_GUIDE_EPS

    colorizer = Colorizer.from_pretrained(device="cpu", guide_eps=MIN_GUIDE_EPS)
    rng = np.random.default_rng(0)
    for grey in (np.full((64, 96), 128, np.uint8), rng.integers(0, 256, (64, 96), dtype=np.uint8)):
        out = colorizer.colorize_image(grey).astype(int)
        usual = colorizer.with_settings(guide_eps=1e-3).colorize_image(grey).astype(int)
        assert np.abs(out - usual).mean() < 3


def test_api_arguments_of_the_wrong_kind_are_one_input_error(kodak):
    """Each of these was found by session 32's review of the API: a TypeError or an
    AttributeError at the first frame, a bool taken as frame 1, or "auto" for device 0."""
    from streamcolor.api import Colorizer as C
    from streamcolor.models import from_pretrained

    colorizer = Colorizer.from_pretrained(device="cpu")
    with pytest.raises(InputError, match="settings must be an EngineSettings"):
        C(from_pretrained("lite0_unet_v6"), settings={"strength": 2})
    with pytest.raises(InputError, match="device must be"):
        Colorizer.from_pretrained(device=0)
    with pytest.raises(InputError, match="frames must be an iterable"):
        colorizer.colorize_frames(None)
    red = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError, match="reference frame index must be a whole number"):
        colorizer.colorize_frames([np.zeros((8, 8), np.uint8)], references={True: red})
    with pytest.raises(InputError, match="reference frame 5 is past the end of the frames given"):
        colorizer.colorize_frames([], references={5: red})
    grey = np.zeros((32, 32), np.uint8)
    assert np.array_equal(colorizer.colorize_image(grey, hints=iter([])), colorizer.colorize_image(grey))


def test_references_are_taken_at_the_call():
    """The frames are colorized lazily: a reference array changed by the caller after the call
    gave its new colour until session 32."""
    colorizer = Colorizer.from_pretrained(device="cpu")
    reference = np.zeros((128, 192, 3), np.uint8)
    reference[:] = (200, 30, 30)
    frames = colorizer.colorize_frames([np.full((128, 192), 100, np.uint8)] * 2, references={1: reference})
    reference[:] = (30, 30, 200)
    out = list(frames)[1].astype(int)
    assert out[..., 0].mean() > out[..., 2].mean()  # red, as given


def test_an_unknown_encode_setting_is_one_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown argument or setting 'crff'; the settings of EncodeSettings are codec"):
        Colorizer.from_pretrained(device="cpu").colorize_video(tmp_path / "a.mp4", tmp_path / "b.mp4", crff=20)


def test_numpy_scalars_are_kept_as_python_numbers():
    """Before session 30 an np.int64 infer_every failed mid-video (deque's maxlen) and an
    np.float32 strength could not be written into a resumable run's manifest."""
    import json

    settings = EngineSettings(infer_every=np.int64(2), strength=np.float32(0.5), bars=np.bool_(True),
                              inference_short_side=np.int32(128))
    assert [type(v) for v in (settings.infer_every, settings.strength, settings.bars, settings.inference_short_side)] \
        == [int, float, bool, int]
    json.dumps(dataclasses.asdict(settings))


def test_references_must_be_a_mapping_and_used(kodak):
    """Before session 30 a list of references was an AttributeError, and a reference past the
    last frame of colorize_frames was dropped without a word."""
    from streamcolor.images import read_rgb

    colorizer = Colorizer.from_pretrained(device="cpu")
    frame = read_rgb(kodak[0])[:120, :200]
    with pytest.raises(InputError, match="references must map frame indices to images, got a list"):
        colorizer.colorize_frames([frame], references=[frame])
    past = {1: frame, 5: frame, 9: frame}
    message = re.escape("reference frame 9 is past the end of the frames given (frames 0 to 1)")
    with pytest.raises(InputError, match=message):  # a list has a length: refused at the call
        colorizer.colorize_frames([frame, frame], references=past)
    frames = colorizer.colorize_frames(iter([frame, frame]), references=past)
    assert next(frames).shape == frame.shape and next(frames).shape == frame.shape
    with pytest.raises(InputError, match=message):  # an iterator's length is known at its end
        next(frames)


def test_a_saved_colorizer_loads_back_to_the_same_pictures(kodak, tmp_path):
    """Until session 32 only streamcolor.models.save_pretrained existed: it dropped the render
    sizes, the name and the int8 calibration, and the reloaded model painted other colours."""
    from streamcolor.api import default_settings

    colorizer = Colorizer.from_pretrained(device="cpu")
    rgb = cv2.cvtColor(cv2.imread(str(kodak[0])), cv2.COLOR_BGR2RGB)[:256, :384]
    saved = colorizer.save_pretrained(tmp_path / "m")
    again = Colorizer.from_pretrained(saved, device="cpu")
    assert again.name == colorizer.name and again.settings == colorizer.settings
    assert np.array_equal(again.colorize_image(rgb), colorizer.colorize_image(rgb))
    assert again.model.calibration is not None and torch.equal(again.model.calibration, colorizer.model.calibration)
    colorizer.with_settings(inference_short_side=96).save_pretrained(tmp_path / "small")
    assert default_settings(tmp_path / "small").inference_short_side == 96
