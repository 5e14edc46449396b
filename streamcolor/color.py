"""sRGB (D65) <-> CIE Lab, and the reports' scaling of L and ab into [-1, 1].

One implementation serves NumPy arrays and torch tensors: every function takes
either and returns the same type, channels on the last axis ``(..., 3)``.
Formulas: IEC 61966-2-1 sRGB transfer, D65 white (0.950456, 1, 1.088754), CIE 1976
L*a*b*; the constants match OpenCV's float ``COLOR_RGB2Lab``.
"""

from __future__ import annotations

import functools
from typing import TypeVar

import cv2
import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

#: L in [0, 100] maps to [-1, 1] by ``L / L_SCALE - 1`` (pix2pix colorization convention).
L_SCALE = 50.0
#: ab in about [-110, 110] maps to [-1, 1] by ``ab / AB_SCALE``.
AB_SCALE = 110.0

_WHITE_D65 = (0.950456, 1.0, 1.088754)
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_EPSILON = 216.0 / 24389.0  # (6/29)^3, CIE's linear-segment threshold
_KAPPA = 24389.0 / 27.0


def _check(x: Array, name: str) -> None:
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if x.shape[-1:] != (3,):
        raise ValueError(f"{name}: expected shape (..., 3), got {tuple(x.shape)}")


def _where(cond: Array, a: Array, b: Array) -> Array:
    return torch.where(cond, a, b) if isinstance(cond, torch.Tensor) else np.where(cond, a, b)


def _stack(parts: list[Array]) -> Array:
    return torch.stack(parts, -1) if isinstance(parts[0], torch.Tensor) else np.stack(parts, -1)


def _matmul(x: Array, matrix: np.ndarray) -> Array:
    if isinstance(x, torch.Tensor):
        return x @ torch.as_tensor(matrix.T, dtype=x.dtype, device=x.device)
    return x @ matrix.T.astype(x.dtype)


def _min_last(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return x.amin(-1)
    return functools.reduce(np.minimum, np.moveaxis(x, -1, 0))  # x.min(-1) is 20x slower on a last axis of 3


def _floating(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def srgb_to_linear(rgb: Array) -> Array:
    """sRGB transfer function inverse: gamma-encoded [0, 1] -> linear [0, 1]."""
    return _where(rgb <= 0.04045, rgb / 12.92, ((rgb.clip(0.04045, None) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: Array) -> Array:
    """sRGB transfer function: linear [0, 1] -> gamma-encoded [0, 1]."""
    return _where(
        linear <= 0.0031308, linear * 12.92, 1.055 * linear.clip(0.0031308, None) ** (1 / 2.4) - 0.055
    )


def _f(t: Array) -> Array:
    return _where(t > _EPSILON, t.clip(_EPSILON, None) ** (1 / 3), (_KAPPA * t + 16) / 116)


def _f_inv(t: Array) -> Array:
    return _where(t > 6 / 29, t**3, (116 * t - 16) / _KAPPA)


def rgb_to_lab(rgb: Array) -> Array:
    """Convert sRGB to CIE Lab (D65).

    Args:
        rgb: float array or tensor, shape ``(..., 3)``, gamma-encoded sRGB in [0, 1].

    Returns:
        Same type and shape: L in [0, 100], a and b in about [-110, 110].

    Raises:
        TypeError: ``rgb`` is neither a numpy array nor a torch tensor.
        ValueError: the last axis is not 3.
    """
    _check(rgb, "rgb_to_lab")
    xyz = _matmul(srgb_to_linear(_floating(rgb).clip(0, 1)), _RGB_TO_XYZ)
    fx, fy, fz = (_f(xyz[..., i] / _WHITE_D65[i]) for i in range(3))
    return _stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def luminance_to_L(y: Array) -> Array:
    """CIE relative luminance Y in [0, 1] -> L in [0, 100]."""
    return 116 * _f(y) - 16


def lab_to_linear_rgb(lab: Array) -> Array:
    """CIE Lab (D65) -> linear RGB, unclipped (may fall outside [0, 1] when out of gamut)."""
    _check(lab, "lab_to_linear_rgb")
    lab = _floating(lab)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    xyz = _stack([_f_inv(fx) * _WHITE_D65[0], _f_inv(fy), _f_inv(fz) * _WHITE_D65[2]])
    return _matmul(xyz, _XYZ_TO_RGB)


def desaturate_into_gamut(linear: Array, luminance: Array) -> Array:
    """Pull out-of-gamut linear RGB toward the grey of equal luminance until it fits [0, 1].

    Mixing with grey in linear light keeps CIE Y (hence L) exactly and keeps the hue
    close, so over-saturated predictions lose chroma rather than turning into a
    different colour or brightness.

    Args:
        linear: linear RGB, shape ``(..., 3)``, any range.
        luminance: CIE Y in [0, 1], shape ``(...)``.

    Returns:
        Linear RGB in [0, 1], same shape and type as ``linear``.
    """
    if not ((linear < 0) | (linear > 1)).any():  # the common case: nothing to desaturate
        return linear.clip(0, 1)
    grey = luminance.clip(0, 1)[..., None]
    diff = linear - grey
    # per channel, the largest mix t that keeps grey + t * diff inside [0, 1]; in-gamut
    # pixels get t >= 1, clipped to 1, so they keep their colour (no boolean indexing:
    # on the few pixels the fast image path sends here it cost more than the arithmetic)
    t = (grey + (diff > 0) * (1 - 2 * grey)) / abs(diff).clip(1e-12, None)  # 1 - grey up, grey down
    return (grey + _min_last(t).clip(0, 1)[..., None] * diff).clip(0, 1)


def lab_to_rgb(lab: Array) -> Array:
    """Convert CIE Lab (D65) to sRGB, keeping L and desaturating out-of-gamut colour.

    Args:
        lab: float array or tensor, shape ``(..., 3)``: L in [0, 100], ab in Lab units.

    Returns:
        Same type and shape, gamma-encoded sRGB in [0, 1]. Out-of-gamut colours are
        mixed toward grey of the same luminance (see :func:`desaturate_into_gamut`).

    Raises:
        TypeError, ValueError: as :func:`rgb_to_lab`.
    """
    if isinstance(lab, np.ndarray) and lab.dtype == np.float32 and lab.ndim == 3 and lab.size:
        return _lab_image_to_rgb(lab)
    return _lab_to_rgb_exact(lab)


def _lab_to_rgb_exact(lab: Array) -> Array:
    linear = lab_to_linear_rgb(lab)
    luminance = _f_inv((_floating(lab)[..., 0].clip(0, 100) + 16) / 116)
    return linear_to_srgb(desaturate_into_gamut(linear, luminance))


def _lab_image_to_rgb(lab: np.ndarray) -> np.ndarray:
    # OpenCV converts a float32 Lab image with the same constants about 15x faster than the
    # NumPy formulas, but clips out-of-gamut channels separately (a hue and L shift): a
    # channel lands on 0 or 1 there, and those pixels alone take the exact path.
    lab = np.ascontiguousarray(lab)
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    edge = np.flatnonzero(cv2.inRange(rgb, (1e-6,) * 3, (1 - 1e-6,) * 3) == 0)
    if edge.size:  # flat indices: boolean-mask indexing of (H, W, 3) costs 4x as much
        rgb.reshape(-1, 3)[edge] = _lab_to_rgb_exact(lab.reshape(-1, 3)[edge])
    return rgb


def normalize_L(L: Array) -> Array:
    """L in [0, 100] -> [-1, 1] (``L / 50 - 1``)."""
    return L / L_SCALE - 1


def denormalize_L(L: Array) -> Array:
    """[-1, 1] -> L in [0, 100]."""
    return (L + 1) * L_SCALE


def normalize_ab(ab: Array) -> Array:
    """ab in Lab units -> about [-1, 1] (``ab / 110``)."""
    return ab / AB_SCALE


def denormalize_ab(ab: Array) -> Array:
    """[-1, 1] -> ab in Lab units (``ab * 110``)."""
    return ab * AB_SCALE


#: (Kr, Kb) luma weights of the Y'CbCr matrices (ITU-R BT.601 and BT.709).
YCBCR_WEIGHTS = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def luma_code_to_L(full_range: bool, bits: int = 8) -> np.ndarray:
    """Lookup table: Y' code value -> L in [0, 100], float32 ``(2**bits,)``.

    A black-and-white picture has R' = G' = B' = Y', so its L is that of the grey sRGB
    value Y' (limited range: codes 16..235, scaled by ``2**(bits - 8)``, span black..white).
    """
    codes = np.arange(2**bits, dtype=np.float64)
    scale = 2 ** (bits - 8)
    grey = codes / (2**bits - 1) if full_range else (codes - 16 * scale) / (219 * scale)
    return luminance_to_L(srgb_to_linear(grey.clip(0, 1))).astype(np.float32)


def rgb_to_cbcr(rgb: Array, matrix: str = "bt601", full_range: bool = False, bits: int = 8) -> Array:
    """Gamma-encoded RGB in [0, 1], shape ``(..., 3)`` -> Cb, Cr codes ``(..., 2)``.

    Args:
        rgb: float numpy array or torch tensor (any device).
        matrix: ``"bt601"`` or ``"bt709"`` (see :data:`YCBCR_WEIGHTS`).
        full_range: JPEG/full range (0..255 around 128 at 8 bits) instead of limited (16..240).
        bits: bit depth of the codes (8 or 10).

    Returns:
        Codes of the input's type: a numpy array (a strided view) of uint8 for 8 bits,
        uint16 for more; a tensor on the input's device of uint8 for 8 bits, int32 for
        more (CUDA tensors have no uint16 arithmetic).

    Raises:
        KeyError: unknown ``matrix``.
    """
    kr, kb = YCBCR_WEIGHTS[matrix]
    kg = 1 - kr - kb
    top = 2**bits - 1
    span = float(top) if full_range else 224.0 * 2 ** (bits - 8)
    # Cb = (B - Y') / (2 (1 - kb)), Cr = (R - Y') / (2 (1 - kr)), scaled to codes around the
    # mid code (+ 0.5 so that truncation rounds), as one affine map per pixel
    cb = np.array([-kr, -kg, 1 - kb]) / (2 * (1 - kb))
    cr = np.array([1 - kr, -kg, -kb]) / (2 * (1 - kr))
    affine = np.hstack([np.stack([cb, cr]) * span, np.full((2, 1), 2 ** (bits - 1) + 0.5)])
    if isinstance(rgb, torch.Tensor):
        codes = _matmul(_floating(rgb), affine[:, :3]) + torch.as_tensor(affine[:, 3], dtype=torch.float32,
                                                                          device=rgb.device)
        return codes.clamp(0, top).to(torch.uint8 if bits == 8 else torch.int32)
    flat = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 1, 3)
    # OpenCV vectorises the 3 -> 3 channel transform (0.15 ms on a 427x240 picture against
    # 0.94 for 3 -> 2), so a zero third row is computed, and dropped last as a view: a
    # strided copy costs more than the transform
    codes = cv2.transform(flat, np.vstack([affine, np.zeros((1, 4))]))
    codes = np.clip(codes, 0, top, out=codes).astype(np.uint8 if bits == 8 else np.uint16)
    return codes.reshape(*rgb.shape[:-1], 3)[..., :2]


def lab_to_cbcr(lab: Array, matrix: str = "bt601", full_range: bool = False, bits: int = 8) -> Array:
    """CIE Lab -> Cb, Cr codes: :func:`lab_to_rgb` (out-of-gamut colour desaturated at
    constant L), then :func:`rgb_to_cbcr`. Takes and returns what those do: a numpy array
    (OpenCV's fast path) or a torch tensor on any device, shape ``(..., 3)`` -> ``(..., 2)``.

    Raises:
        TypeError, ValueError: as :func:`rgb_to_lab`; KeyError: unknown ``matrix``.
    """
    return rgb_to_cbcr(lab_to_rgb(lab), matrix, full_range, bits)
