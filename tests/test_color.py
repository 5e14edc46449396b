import cv2
import numpy as np
import pytest
import torch

from streamcolor.color import (
    AB_SCALE, L_SCALE, denormalize_ab, denormalize_L, lab_to_linear_rgb, lab_to_rgb, luma_code_to_L, normalize_ab,
    normalize_L, rgb_to_cbcr, rgb_to_lab,
)
from streamcolor.images import read_rgb


class TestRgbToLab:
    def test_matches_opencv_on_kodak(self, kodak):
        for path in kodak[:6]:
            rgb = read_rgb(path).astype(np.float32) / 255
            ours = rgb_to_lab(rgb)
            ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
            delta_e = np.linalg.norm(ours - ref, axis=-1)
            assert delta_e.max() < 0.5, (path.name, delta_e.max())

    def test_matches_skimage_reference_values(self):
        from skimage.color import rgb2lab

        rgb = np.random.default_rng(0).random((64, 64, 3))
        np.testing.assert_allclose(rgb_to_lab(rgb), rgb2lab(rgb), atol=1e-2)  # white points differ in the 4th digit

    def test_known_values(self):
        lab = rgb_to_lab(np.array([[1.0, 1, 1], [0, 0, 0], [1, 0, 0]]))
        np.testing.assert_allclose(lab[0], [100, 0, 0], atol=1e-3)
        np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-6)
        np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)

    def test_torch_equals_numpy(self):
        rgb = np.random.default_rng(1).random((2, 8, 8, 3)).astype(np.float32)
        out = rgb_to_lab(torch.from_numpy(rgb))
        assert isinstance(out, torch.Tensor) and out.shape == (2, 8, 8, 3)
        np.testing.assert_allclose(out.numpy(), rgb_to_lab(rgb), atol=1e-3)

    def test_bad_shape_raises(self):
        with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
            rgb_to_lab(np.zeros((4, 4, 2)))
        with pytest.raises(TypeError):
            rgb_to_lab([[0.0, 0.0, 0.0]])

    def test_gradient_flows(self):
        rgb = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
        rgb_to_lab(rgb).sum().backward()
        assert torch.isfinite(rgb.grad).all()


class TestLabToRgb:
    def test_round_trip(self, kodak):
        rgb = read_rgb(kodak[0]).astype(np.float32) / 255
        np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)

    def test_out_of_gamut_keeps_L_and_hue(self):
        rng = np.random.default_rng(2)
        lab = np.stack([rng.uniform(5, 95, 5000), rng.uniform(-150, 150, 5000), rng.uniform(-150, 150, 5000)], -1)
        rgb = lab_to_rgb(lab)
        assert rgb.min() >= 0 and rgb.max() <= 1
        back = rgb_to_lab(rgb)
        np.testing.assert_allclose(back[:, 0], lab[:, 0], atol=0.05)
        chroma = np.hypot(back[:, 1], back[:, 2])
        hue_error = np.angle(np.exp(1j * (np.arctan2(back[:, 2], back[:, 1]) - np.arctan2(lab[:, 2], lab[:, 1]))))
        assert np.median(np.abs(hue_error[chroma > 10])) < 0.15  # radians

    def test_image_path_equals_exact_formulas_on_mixed_gamut(self):
        # float32 images take OpenCV plus the exact formulas on clipped pixels only; the
        # result must equal the exact formulas everywhere, black and white included
        rng = np.random.default_rng(3)
        lab = np.dstack([rng.uniform(0, 100, (60, 80)), rng.normal(0, 40, (60, 80)), rng.normal(0, 40, (60, 80))])
        lab[:3, :, 0], lab[3:6, :, 0] = 0, 100
        fast = lab_to_rgb(lab.astype(np.float32))
        exact = lab_to_rgb(lab.reshape(-1, 3)).reshape(lab.shape)  # float64, the formulas alone
        linear = lab_to_linear_rgb(lab)
        assert 0.2 < ((linear < 0) | (linear > 1)).any(-1).mean() < 0.9  # a real mix of in and out of gamut
        np.testing.assert_allclose(fast, exact, atol=2e-4)  # float32 vs float64

    def test_torch_input(self):
        lab = torch.tensor([[50.0, 20.0, -30.0]])
        np.testing.assert_allclose(lab_to_rgb(lab).numpy(), lab_to_rgb(lab.numpy()), atol=1e-5)


def test_scaling_round_trip():
    L = np.array([0.0, 50.0, 100.0])
    np.testing.assert_allclose(normalize_L(L), [-1, 0, 1])
    np.testing.assert_allclose(denormalize_L(normalize_L(L)), L)
    ab = np.array([-110.0, 0.0, 110.0])
    np.testing.assert_allclose(normalize_ab(ab), [-1, 0, 1])
    np.testing.assert_allclose(denormalize_ab(normalize_ab(ab)), ab)
    assert (L_SCALE, AB_SCALE) == (50.0, 110.0)


def test_luma_lut_matches_grey_lab():
    lut = luma_code_to_L(full_range=True)
    grey = np.repeat(np.arange(256, dtype=np.float32)[:, None] / 255, 3, 1)
    np.testing.assert_allclose(lut, rgb_to_lab(grey)[:, 0], atol=1e-3)
    limited = luma_code_to_L(full_range=False)
    assert limited[16] == 0 and abs(limited[235] - 100) < 1e-3


def test_cbcr_grey_is_neutral_and_red_matches_bt601():
    cbcr = rgb_to_cbcr(np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]), "bt601", full_range=True)
    assert tuple(cbcr[0]) == (128, 128)
    ref = cv2.cvtColor(np.array([[[255, 0, 0]]], np.uint8), cv2.COLOR_RGB2YCrCb)[0, 0]  # Y, Cr, Cb
    assert abs(int(cbcr[1, 0]) - int(ref[2])) <= 1 and abs(int(cbcr[1, 1]) - int(ref[1])) <= 1


def test_ten_bit_codes_match_eight_bit_scaled():
    lut10, lut8 = luma_code_to_L(False, bits=10), luma_code_to_L(False)
    assert lut10.shape == (1024,) and lut10[64] == 0 and abs(lut10[940] - 100) < 1e-3
    np.testing.assert_allclose(lut10[::4][16:236], lut8[16:236], atol=1e-4)
    rgb = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.1, 0.7, 0.3]])
    c10, c8 = rgb_to_cbcr(rgb, "bt709", bits=10), rgb_to_cbcr(rgb, "bt709")
    assert c10.dtype == np.uint16 and tuple(c10[0]) == (512, 512)
    assert np.abs(c10.astype(int) - 4 * c8.astype(int)).max() <= 3
