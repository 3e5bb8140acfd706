"""Quantized ab colours: the in-gamut 10-unit grid (Zhang et al. 2016) and soft assignment."""

from __future__ import annotations

import functools

import numpy as np
import torch

from chromahint.models.lab_torch import lab_to_linear_rgb
from chromahint.models.normalize import AB_SCALE as GRID_RANGE

GRID_STEP = 10.0
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0


@functools.lru_cache(maxsize=1)
def gamut_bins() -> np.ndarray:
    """(Q, 2) centres of the 10x10 ab cells that hold an sRGB colour at some lightness.

    A cell counts when any of a 5x5 sample of its ab points, at any L in 1..99, maps into
    sRGB; this gives about the same set as Zhang et al.'s 313 ImageNet bins.
    """
    centres = np.arange(-GRID_RANGE, GRID_RANGE + 1, GRID_STEP)
    offsets = np.linspace(-4.5, 4.5, 5)
    a = (centres[:, None] + offsets[None, :]).reshape(-1)
    ab = np.stack(np.meshgrid(a, a, indexing="ij"), axis=0)  # (2, A, A)
    L = np.arange(1.0, 100.0, 1.0)
    lab = np.concatenate(
        [
            np.broadcast_to(L[:, None, None, None], (len(L), 1) + ab.shape[1:]),
            np.broadcast_to(ab[None], (len(L),) + ab.shape),
        ],
        axis=1,
    )
    rgb = lab_to_linear_rgb(torch.from_numpy(np.ascontiguousarray(lab, dtype=np.float64)))
    inside = ((rgb >= 0.0) & (rgb <= 1.0)).all(dim=1).any(dim=0).numpy()  # (A, A)
    n = len(centres)
    cell = inside.reshape(n, len(offsets), n, len(offsets)).any(axis=(1, 3))
    ia, ib = np.nonzero(cell)
    return np.stack([centres[ia], centres[ib]], axis=1).astype(np.float32)


def soft_encode(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """ab (N, 2) -> (N, Q) weights on the nearest bins (Gaussian, sigma 5), rows sum to 1."""
    d2 = torch.cdist(ab, bins).square()
    near_d2, near_idx = d2.topk(SOFT_NEIGHBOURS, dim=1, largest=False)
    w = torch.softmax(-near_d2 / (2 * SOFT_SIGMA**2), dim=1)
    return torch.zeros_like(d2).scatter_(1, near_idx, w)


def histogram(ab: torch.Tensor, weights: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Weighted soft histogram over the bins of ab points (N, 2); sums to 1 (0 if empty)."""
    hist = (soft_encode(ab, bins) * weights[:, None]).sum(dim=0)
    return hist / hist.sum().clamp_min(1e-8)
