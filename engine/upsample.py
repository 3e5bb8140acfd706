"""Edge-aware chroma upsampling and the full-resolution render, in torch.

The fast guided filter (He & Sun 2015): a local linear model ab = A * L + B is fitted at
working resolution and evaluated with the full-resolution lightness, so chroma edges follow
the original's lightness edges instead of bleeding across them. The render folds that model
into the Lab -> RGB conversion and runs on row strips, so memory stays bounded for any size
and each strip's temporaries stay in cache.
"""

from __future__ import annotations

import numpy as np
import torch

from . import kernels
from .color import WHITE_D65, XYZ_TO_RGB
from .models.lab_torch import finv
from .models.normalize import lightness_unit

RADIUS = 2  # box radius at working resolution
EPS = 1e-3  # regularisation, with L scaled to [0, 1]

# sRGB encode of linear light quantised to 1/65535, straight to 8 bits.
_u = np.arange(65536, dtype=np.float64) / 65535.0
LINEAR_TO_SRGB8 = torch.from_numpy(
    np.round(255.0 * np.where(_u <= 0.0031308, _u * 12.92, 1.055 * _u ** (1 / 2.4) - 0.055)).astype(
        np.uint8
    )
)


def _box_axis(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Window sums of width 2 * RADIUS + 1 along `axis`, the window clipped at the borders,
    and how many samples each window held. Shifted adds of a zero-padded copy: a running
    sum (cumsum) is sequential and 10x slower at working size."""
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (RADIUS, RADIUS)
    padded = np.pad(x, pad)

    def shifted(k: int) -> np.ndarray:
        return padded[(slice(None),) * axis + (slice(k, k + n),)]

    sums = shifted(0).copy()
    for k in range(1, 2 * RADIUS + 1):
        sums += shifted(k)
    i = np.arange(n)
    counts = np.minimum(i + RADIUS, n - 1) - np.maximum(i - RADIUS, 0) + 1
    return sums, np.expand_dims(counts, [d for d in range(x.ndim) if d != axis])


def box_mean(x: np.ndarray) -> np.ndarray:
    """Mean over a (2 * RADIUS + 1)² window of (C, h, w), averaging what lies inside."""
    rows, n_rows = _box_axis(x, 1)
    both, n_cols = _box_axis(rows, 2)
    return both / (n_rows * n_cols)


def guided_coefficients(guide: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """guide (h, w) in [0, 1], src (C, h, w) -> mean A and mean B, each (C, h, w). The box
    means are taken together, one stack per pass (each pass costs as much as one plane)."""
    g = np.asarray(guide, np.float32)[None]
    p = np.asarray(src, np.float32)
    c = len(p)
    means = box_mean(np.concatenate([g, g * g, p, p * g]))
    mean_i, mean_ii, mean_p, mean_ip = means[:1], means[1:2], means[2 : 2 + c], means[2 + c :]
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + EPS)
    b = mean_p - a * mean_i
    smooth = box_mean(np.concatenate([a, b]))
    return smooth[:c], smooth[c:]


def taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre aligned bilinear taps (as align_corners=False): index and weight."""
    pos = np.clip((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), max(n_in - 2, 0))
    return i0, (pos - i0).astype(np.float32)


def guide_maps(L_work: np.ndarray, ab_work: np.ndarray, compiled: bool = False) -> np.ndarray:
    """The guided model folded into the Lab -> XYZ step, (4, h, w) float32 at working size:
    with ab = A * L/100 + B, fx = fy + a/500 = L * Px + Qx and fz = fy - b/200 = L * Pz + Qz,
    the maps are (Px, Qx, Pz, Qz). A side of 1 is repeated so bilinear taps have two.
    kernels.guide_maps computes the same, compiled; `compiled` uses it where there is one."""
    if compiled and kernels.guide_maps is not None:
        maps: np.ndarray = np.empty((4, *np.shape(L_work)), np.float32)
        kernels.guide_maps(
            np.ascontiguousarray(L_work, np.float32),
            np.ascontiguousarray(ab_work, np.float32),
            RADIUS,
            EPS,
            maps,
        )
    else:
        a_map, b_map = guided_coefficients(lightness_unit(L_work), ab_work)
        maps = np.stack(
            [
                1 / 116 + a_map[0] / 50000,
                16 / 116 + b_map[0] / 500,
                1 / 116 - a_map[1] / 20000,
                16 / 116 - b_map[1] / 200,
            ]
        ).astype(np.float32)
    h, w = maps.shape[1], maps.shape[2]
    if w == 1:
        maps = np.repeat(maps, 2, axis=2)
    if h == 1:
        maps = np.repeat(maps, 2, axis=1)
    return maps


class LayerRenderer:
    """Evaluates the guided model at full size and converts Lab to sRGB8, strip by strip:
    the torch reference of render.py's fused kernel."""

    def __init__(self, L_work: np.ndarray, ab_work: np.ndarray, out_w: int, out_h: int) -> None:
        maps = torch.from_numpy(guide_maps(L_work, ab_work))
        xi, xf = (torch.from_numpy(t) for t in taps(out_w, maps.shape[2]))
        rows = maps[:, :, xi] * (1 - xf) + maps[:, :, xi + 1] * xf  # (4, h, W)
        self.rows = rows.contiguous()
        self.step = (rows[:, 1:] - rows[:, :-1]).contiguous()
        self.yi, self.yf = (torch.from_numpy(t) for t in taps(out_h, maps.shape[1]))

    @torch.inference_mode()
    def strip(self, L: torch.Tensor, Y: torch.Tensor, y0: int) -> torch.Tensor:
        """L, Y (n, W) float32 for output rows y0.. -> (n, W, 3) uint8 sRGB."""
        n = L.shape[0]
        yi, yf = self.yi[y0 : y0 + n], self.yf[y0 : y0 + n, None]
        coef = torch.addcmul(self.rows[:, yi], self.step[:, yi], yf)  # (4, n, W)
        x = finv(torch.addcmul(coef[1], coef[0], L))
        z = finv(torch.addcmul(coef[3], coef[2], L))
        return xyz_to_srgb8(x, Y, z)


# (x, Y, z) -> linear RGB, with x = X/Xn and z = Z/Zn (the white folded in).
XYZN_TO_RGB = XYZ_TO_RGB * WHITE_D65[None, :]
_M = torch.from_numpy(XYZN_TO_RGB).float()


def xyz_to_srgb8(x: torch.Tensor, Y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """x = X/Xn, Y, z = Z/Zn -> (..., 3) uint8 sRGB, gamut-mapped at constant luminance."""
    rgb = torch.stack([_M[c, 0] * x + _M[c, 2] * z + _M[c, 1] * Y for c in range(3)])
    # Out of gamut: blend toward the neutral of the same luminance Y in linear light.
    # Y is linear in RGB, so the blend keeps Y (hence L) exact and only lowers chroma.
    r, g, b = rgb
    hi = torch.maximum(torch.maximum(r, g), b).sub_(Y).clamp_min_(1e-12)
    lo = torch.minimum(torch.minimum(r, g), b).neg_().add_(Y).clamp_min_(1e-12)
    # Where the colour is in gamut both ratios are >= 1, so t = 1 there.
    t = torch.minimum((1.0 - Y) / hi, Y / lo).clamp_(0.0, 1.0)
    rgb = torch.addcmul(Y, rgb.sub_(Y), t)
    idx = rgb.mul_(65535.0).add_(0.5).clamp_(0, 65535).long()
    return torch.take(LINEAR_TO_SRGB8, idx).movedim(0, -1)


def lab_to_srgb8(lab: np.ndarray) -> np.ndarray:
    """(..., 3) Lab -> (..., 3) uint8, with the same gamut mapping as the layers."""
    t = torch.from_numpy(np.asarray(lab, np.float32))
    fy = (t[..., 0] + 16.0) / 116.0
    x = finv(fy + t[..., 1] / 500.0)
    z = finv(fy - t[..., 2] / 200.0)
    return xyz_to_srgb8(x, finv(fy), z).numpy()
