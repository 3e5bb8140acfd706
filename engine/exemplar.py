"""Colour from a reference picture, after He et al. 2018 (Deep Exemplar-based Colorization).

`regions` mode, the correspondence: the photo model's own encoder (EfficientNet-Lite0 taps
at strides 8 and 16) describes every stride-8 cell of the target and of the reference, plus
its mean lightness so a sky matches a sky; cosine similarity matches them both ways. Each
target cell takes the reference chroma under a sharp soft attention, and a confidence: its
best similarity where the match is mutual (the cell's best reference cell points back to
it, within one cell), else 0. Confident cells become dense, weighted hints that the photo
model's propagation spreads edge-aware and its prior fills in elsewhere (no second
mechanism). The mean confidence says how well the reference fits: where it fits as a whole
every good mutual match counts; where it does not, only matches a small learned model trusts
(the model's own view of the colour among its cues), so an unrelated reference falls back to
automatic colorization.

`palette` mode: the reference's colour histogram as Zhang et al.'s global hint, no matching.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from chromahint_client.protocol import (
    REFERENCE_FIT_FULL,
    ErrorCode,
    GlobalHints,
    ProtocolError,
    ReferenceMode,
)

from .color import lab_to_rgb, rgb_to_lab
from .imaging import Raster, channel_unit, resize_plane, working_shape
from .models.base import Colorizer, DenseHints
from .references import lightness_histogram, overlap

# Soft attention over reference cells: low enough that a cell takes its best matches' colour.
MATCH_TEMPERATURE = 0.02
# Where the reference fits as a whole (mean mutual similarity from REFERENCE_FIT_FULL), each
# mutual match above MIN_MATCH hints by its similarity. Elsewhere a cell's match hints only
# if trusted: logistic in CUES (cells() computes them), fitted on (training photo, its top-1
# / a random / its own jittered copy) pairs by `python -m chromahint.train.fit_exemplar`.
MIN_MATCH = 0.6
CUES = (
    "best", "margin", "mutual", "fit", "light_gap",
    "plausible", "prior_gap", "chroma", "spread", "best_fit", "fit2", "bias",
)  # fmt: skip
TRUST_COEF = np.array(
    [-1.2515, 0.3462, 0.0884, 11.1015, -2.4310, 0.2814, -0.2622, 1.3214, 9.4811, 5.3116,
     -9.3394, -4.5172]
)  # fmt: skip
MIN_TRUST = 0.8  # chosen on the fit's check targets (docs: weights/README.md)
MARGIN_RANK = 5  # margin: best similarity minus the 5th best
PLAUSIBLE_RADIUS = 12.0  # ab units: the model's probability within this of the matched colour
# Mean lightness (L / 100) as one more feature, weighted like one feature block.
LIGHTNESS_WEIGHT = 1.0
TAPS = (2, 3)  # encoder taps at strides 8 and 16
PALETTE_COLOURS = 8
PALETTE_LEVELS = 8  # per channel, for the reference's colour histogram
MIN_CHROMA = 3.0  # a reference whose chroma stays below this everywhere has no colours


@dataclass(frozen=True)
class Guidance:
    dense: DenseHints | None
    global_hints: GlobalHints | None
    confidence: float


def reference_lab(reference: Raster, working_size: int) -> np.ndarray:
    """The reference at working size as CIELAB (h, w, 3)."""
    ww, wh = working_shape(reference.width, reference.height, working_size)
    rgb = np.stack([resize_plane(channel_unit(reference, c), ww, wh) for c in range(3)], -1)
    lab = rgb_to_lab(np.clip(rgb, 0.0, 1.0))
    if float(np.hypot(lab[..., 1], lab[..., 2]).max()) < MIN_CHROMA:
        raise ProtocolError(
            ErrorCode.BAD_IMAGE, "the reference is gray: it has no colours to follow"
        )
    return lab


def _cell_features(taps: list[torch.Tensor], L: np.ndarray) -> torch.Tensor:
    """(cells, C) unit vectors: encoder taps on the stride-8 grid plus mean lightness."""
    size = taps[TAPS[0]].shape[-2:]
    parts = [
        F.normalize(F.interpolate(taps[t].float(), size=size, mode="bilinear"), dim=1) for t in TAPS
    ]
    light = F.adaptive_avg_pool2d(
        torch.tensor(L, dtype=torch.float32)[None, None], (int(size[0]), int(size[1]))
    )
    parts.append(LIGHTNESS_WEIGHT * light / 100.0)
    feats = torch.cat(parts, 1)[0]
    return F.normalize(feats.reshape(feats.shape[0], -1).T, dim=1)


def _unpadded(taps: list[torch.Tensor], h: int, w: int) -> list[torch.Tensor]:
    """Taps of a padded input (tap i at stride 2^(i+1)), cropped to the cells that cover
    the (h, w) picture."""
    return [t[..., : -(-h // 2 ** (i + 1)), : -(-w // 2 ** (i + 1))] for i, t in enumerate(taps)]


@dataclass(frozen=True)
class Cells:
    """The correspondence on the target's stride-8 grid (gh, gw); `cues` and `prior_ab` only
    after `with_cues` (a reference that fits as a whole does not need them)."""

    warped: torch.Tensor  # (2, gh, gw) the reference chroma each cell matched
    mutual: torch.Tensor  # (gh, gw) best similarity where the match is mutual, else 0
    is_mutual: torch.Tensor  # (cells,) bool: the best match points back (within one cell)
    best: torch.Tensor  # (cells,) best similarity
    margin: torch.Tensor  # (cells,) best similarity minus the MARGIN_RANK-th
    light_gap: torch.Tensor  # (cells,) |L of the cell - L of its best match| / 100
    cues: np.ndarray | None = None  # (cells, len(CUES)) what the trust is read from
    prior_ab: torch.Tensor | None = None  # (2, gh, gw) the model's automatic answer


def pool(plane: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    return F.adaptive_avg_pool2d(torch.from_numpy(np.ascontiguousarray(plane))[None], size)[0]


def cells(model: Colorizer, L: np.ndarray, encoded: object, ref_lab: np.ndarray) -> Cells:
    h, w = L.shape
    ref_L = np.ascontiguousarray(ref_lab[..., 0])
    ref_taps = model.encode(ref_L)
    if not isinstance(encoded, list) or not isinstance(ref_taps, list):
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, "colorizing from a reference needs the learned photo model"
        )
    taps = _unpadded(encoded, h, w)
    rh, rw = ref_L.shape
    ref_taps = _unpadded(ref_taps, rh, rw)
    gh, gw = (int(v) for v in taps[TAPS[0]].shape[-2:])
    rgh, rgw = (int(v) for v in ref_taps[TAPS[0]].shape[-2:])
    sim = _cell_features(taps, L) @ _cell_features(ref_taps, ref_L).T  # (cells, ref cells)
    cell_ab = pool(ref_lab[..., 1:].transpose(2, 0, 1), (rgh, rgw)).reshape(2, -1)
    warped = (torch.softmax(sim / MATCH_TEMPERATURE, 1) @ cell_ab.T).T.reshape(2, gh, gw)
    top = sim.topk(min(MARGIN_RANK, sim.shape[1]), dim=1).values
    best, back = sim.max(1), sim.argmax(0)
    home = back[best.indices]
    ty, tx = torch.arange(gh * gw) // gw, torch.arange(gh * gw) % gw
    mutual = ((home // gw - ty).abs() <= 1) & ((home % gw - tx).abs() <= 1)
    conf = best.values.clamp(0, 1) * mutual
    light = pool(L[None], (gh, gw)).reshape(-1)
    ref_light = pool(ref_L[None], (rgh, rgw)).reshape(-1)[best.indices]
    return Cells(
        warped,
        conf.reshape(gh, gw),
        mutual,
        best.values,
        top[:, 0] - top[:, -1],
        (light - ref_light).abs() / 100.0,
    )


def with_cues(
    c: Cells, model: Colorizer, L: np.ndarray, encoded: object, global_hints: GlobalHints | None
) -> Cells:
    """`c` with its trust cues: the model's own answer and how plausible it finds the
    matched colour (a hint is only worth following where the model is unsure or agrees)."""
    gh, gw = (int(v) for v in c.mutual.shape)
    prior = model.predict(L, [], global_hints, with_probs=True, encoded=encoded)
    assert prior.probs is not None and prior.bins is not None
    probs = pool(prior.probs, (gh, gw)).reshape(len(prior.bins), -1)
    bins = torch.from_numpy(prior.bins)
    prior_ab = pool(prior.ab, (gh, gw))
    flat_w, flat_p = c.warped.reshape(2, -1).T, prior_ab.reshape(2, -1).T
    near = (torch.cdist(flat_w, bins) <= PLAUSIBLE_RADIUS).float()
    plausible = torch.log((near * probs.T).sum(1) + 1e-3)
    spread = ((torch.cdist(flat_p, bins) ** 2) * probs.T).sum(1).sqrt()
    fit = c.mutual.mean().expand(gh * gw)
    cues = torch.stack(
        [
            c.best,
            c.margin,
            c.is_mutual.float(),
            fit,
            c.light_gap,
            plausible,
            (flat_w - flat_p).norm(dim=1) / 100.0,
            flat_w.norm(dim=1) / 100.0,
            spread / 100.0,
            c.best * fit,
            fit**2,
            torch.ones(gh * gw),
        ],
        1,
    )
    return replace(c, cues=cues.numpy().astype(np.float64), prior_ab=prior_ab)


def trust(cues: np.ndarray, coef: np.ndarray = TRUST_COEF) -> np.ndarray:
    """P(the matched colour is closer to the truth than the model's own answer) per cell."""
    return 1.0 / (1.0 + np.exp(-(cues @ coef)))


def fitting_weight(c: Cells) -> np.ndarray:
    """Each mutual match above MIN_MATCH, by its similarity: for a reference that fits."""
    conf = c.mutual.reshape(-1).numpy().astype(np.float64)
    return conf * (conf > MIN_MATCH)


def trusted_weight(
    cues: np.ndarray, coef: np.ndarray = TRUST_COEF, min_trust: float = MIN_TRUST
) -> np.ndarray:
    p = trust(cues, coef)
    return np.where(p > min_trust, p, 0.0)


def match(
    model: Colorizer,
    L: np.ndarray,
    encoded: object,
    ref_lab: np.ndarray,
    global_hints: GlobalHints | None = None,
) -> tuple[DenseHints, float]:
    """Dense hints on the target's working grid and the mean match confidence in [0, 1]."""
    c = cells(model, L, encoded, ref_lab)
    fit = float(c.mutual.mean())
    if fit >= REFERENCE_FIT_FULL:
        return dense_hints(c, fitting_weight(c), L.shape), fit
    cues = with_cues(c, model, L, encoded, global_hints).cues
    assert cues is not None
    return dense_hints(c, trusted_weight(cues), L.shape), fit


def dense_hints(c: Cells, weight: np.ndarray, shape: tuple[int, int]) -> DenseHints:
    """The matched colours with a weight per cell, on the working grid."""
    wt = torch.from_numpy(weight.astype(np.float32).reshape(c.mutual.shape))
    ab = F.interpolate(c.warped[None], size=shape, mode="bilinear", align_corners=False)[0]
    wt = F.interpolate(wt[None, None], size=shape, mode="bilinear", align_corners=False)[0]
    return DenseHints(ab.numpy().astype(np.float32), wt.numpy().astype(np.float32))


def palette(ref_lab: np.ndarray) -> GlobalHints:
    """The reference's most frequent colours (a coarse sRGB histogram) with their shares."""
    n = PALETTE_LEVELS
    rgb = np.clip(lab_to_rgb(ref_lab), 0.0, 1.0).reshape(-1, 3)
    q = np.minimum((rgb * n).astype(np.int64), n - 1)
    code = (q[:, 0] * n + q[:, 1]) * n + q[:, 2]
    counts = np.bincount(code, minlength=n**3)
    sums = np.stack([np.bincount(code, rgb[:, c], n**3) for c in range(3)], 1)
    top = np.argsort(-counts, kind="stable")[:PALETTE_COLOURS]
    top = top[counts[top] > 0]
    means = sums[top] / counts[top, None] * 255.0
    shares = counts[top] / len(code)
    return GlobalHints(
        tuple(
            (float(m[0]), float(m[1]), float(m[2]), float(p))
            for m, p in zip(means, shares, strict=True)
        )
    )


def guidance(
    model: Colorizer,
    L: np.ndarray,
    encoded: object,
    reference: Raster,
    mode: ReferenceMode,
    global_hints: GlobalHints | None,
) -> Guidance:
    """What a reference adds to a request: dense hints, or a palette, and its confidence."""
    ref_lab = reference_lab(reference, model.working_size)
    if mode is ReferenceMode.PALETTE:
        # Confidence: the overlap of the two lightness histograms. A palette the user sent
        # is theirs: it wins over the reference's.
        fit = float(overlap(lightness_histogram(L), lightness_histogram(ref_lab[..., 0])))
        if global_hints is not None and global_hints.palette:
            return Guidance(None, global_hints, fit)
        saturation = global_hints.saturation if global_hints is not None else None
        return Guidance(None, GlobalHints(palette(ref_lab).palette, saturation), fit)
    dense, fit = match(model, L, encoded, ref_lab, global_hints)
    return Guidance(dense, global_hints, fit)
