"""sRGB <-> CIELAB (D65) in torch, channels first, mirroring chromahint.color (numpy)."""

from __future__ import annotations

import torch

from chromahint.color import LAB_EPSILON, LAB_KAPPA, RGB_TO_XYZ, WHITE_D65, XYZ_TO_RGB


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(
        t > LAB_EPSILON, t.clamp_min(1e-12).pow(1.0 / 3.0), LAB_KAPPA * t + 16.0 / 116.0
    )


_DELTA = 6.0 / 29.0  # f() switches from cube to linear below this


def finv(t: torch.Tensor) -> torch.Tensor:
    """CIELAB f^-1 without branches: the cube above delta, its tangent line below.

    Identical to the piecewise definition (the line is the cube's tangent at delta), and
    cheap enough for the engine's per-pixel render.
    """
    return t.clamp_min(_DELTA).pow_(3).add_((t - _DELTA).clamp_max_(0.0), alpha=3 * _DELTA**2)


def _mix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix to the channel axis (dim -3) of (..., 3, H, W)."""
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """rgb in [0, 1], (..., 3, H, W) -> Lab with L in [0, 100]."""
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    white = torch.as_tensor(WHITE_D65).to(rgb).view(3, 1, 1)
    f = _f(_mix(lin, torch.as_tensor(RGB_TO_XYZ)) / white)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (..., 3, H, W) -> linear sRGB, unclipped (values outside [0, 1] are out of gamut)."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16.0) / 116.0
    xyz = torch.stack([finv(fy + a / 500.0), finv(fy), finv(fy - b / 200.0)], dim=-3)
    white = torch.as_tensor(WHITE_D65).to(lab).view(3, 1, 1)
    return _mix(xyz * white, torch.as_tensor(XYZ_TO_RGB))


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (..., 3, H, W) -> sRGB in [0, 1], clipped to the gamut."""
    c = lab_to_linear_rgb(lab).clamp_min(0.0)
    srgb = torch.where(c <= 0.0031308, c * 12.92, 1.055 * c.clamp_min(1e-12) ** (1 / 2.4) - 0.055)
    return srgb.clamp(0.0, 1.0)
