"""Non-learned baseline: Levin, Lischinski & Weiss 2004, "Colorization using Optimization".

Neighbouring pixels with similar lightness get similar chroma: minimise
sum_r (u_r - sum_s w_rs u_s)^2 with the hinted pixels fixed, solved as one sparse system.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix, diags, identity
from scipy.sparse.linalg import splu

from .base import DenseHints, GlobalHints, Hint, Prediction, rasterize_hints
from .normalize import lightness_unit

_MIN_VARIANCE = 2e-6  # keeps weights finite in flat windows (L scaled to [0, 1])


def _affinity_matrix(lum: np.ndarray) -> csr_matrix:
    """Row-normalised 3x3-window affinities W (the diagonal is zero)."""
    h, w = lum.shape
    pad = np.pad(lum, 1, mode="edge")
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    neigh = np.stack([pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in shifts])
    window = np.concatenate([neigh, lum[None]], axis=0)
    var = np.maximum(window.var(axis=0) * 0.6, _MIN_VARIANCE)
    wts = np.exp(-((neigh - lum[None]) ** 2) / (2.0 * var[None]))
    ys, xs = np.mgrid[0:h, 0:w]
    rows, cols, vals = [], [], []
    for k, (dy, dx) in enumerate(shifts):
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        rows.append((ys * w + xs)[ok])
        cols.append((ny * w + nx)[ok])
        vals.append(wts[k][ok])
    rows_a, cols_a, vals_a = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    sums = np.bincount(rows_a, weights=vals_a, minlength=h * w)
    vals_a = vals_a / np.maximum(sums[rows_a], 1e-12)
    return csr_matrix((vals_a, (rows_a, cols_a)), shape=(h * w, h * w))


class LevinColorizer:
    name = "levin2004-baseline"
    description = "Levin et al. 2004 optimization colorization (non-learned baseline)"
    learned = False
    working_size = 256

    def encode(self, L: np.ndarray) -> None:
        return None

    def predict(
        self,
        L: np.ndarray,
        hints: Sequence[Hint],
        global_hints: GlobalHints | None = None,
        *,
        with_probs: bool = True,
        encoded: object | None = None,
        dense: DenseHints | None = None,
    ) -> Prediction:
        t0 = time.perf_counter()
        h, w = L.shape
        ab_hint, mask3 = rasterize_hints(hints, h, w, dense)
        mask = mask3[0]
        if not mask.any():
            return Prediction(ab=np.zeros((2, h, w), np.float32))
        fixed = mask.ravel() > 0
        # Hinted pixels get identity rows (u_r = hint_r). Keeping the full grid system, rather
        # than eliminating them, keeps the factorisation fast however the hints are scattered.
        free_rows = diags((~fixed).astype(np.float64))
        system = (
            identity(h * w, format="csr") - free_rows @ _affinity_matrix(lightness_unit(L))
        ).tocsc()
        lu = splu(system, permc_spec="MMD_AT_PLUS_A")
        out = np.empty((2, h, w), np.float32)
        for c in range(2):
            out[c] = lu.solve(np.where(fixed, ab_hint[c].ravel(), 0.0)).reshape(h, w)
        return Prediction(ab=out, timing_ms={"forward": (time.perf_counter() - t0) * 1e3})


def load() -> LevinColorizer:
    return LevinColorizer()
