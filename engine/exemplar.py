"""Colour from a reference picture, after He et al. 2018 (Deep Exemplar-based Colorization).

`regions` mode, the correspondence: the photo model's own encoder (EfficientNet-Lite0 taps
at strides 8 and 16) describes every stride-8 cell of the target and of the reference, plus
its mean lightness so a sky matches a sky; cosine similarity matches them both ways. Each
target cell takes the reference chroma under a sharp soft attention, and a confidence: its
best similarity where the match is mutual (the cell's best reference cell points back to
it, within one cell), else 0. Confident cells become dense, weighted hints that the photo
model's propagation spreads edge-aware and its prior fills in elsewhere (no second
mechanism). The mean confidence says how well the reference fits; below FIT_RANGE the
hints fade out entirely, so an unrelated reference falls back to automatic colorization.

`palette` mode: the reference's colour histogram as Zhang et al.'s global hint, no matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chromahint_client.protocol import (
    REFERENCE_FIT_FULL,
    REFERENCE_FIT_LOW,
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
# A cell's best similarity below this gives no hint (the model's prior colours it).
MIN_MATCH = 0.6
# Mean confidence -> how much the hints count (linear in between): 0 at the low end.
FIT_RANGE = (REFERENCE_FIT_LOW, REFERENCE_FIT_FULL)
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


def match(
    model: Colorizer, L: np.ndarray, encoded: object, ref_lab: np.ndarray
) -> tuple[DenseHints, float]:
    """Dense hints on the target's working grid and the mean match confidence in [0, 1]."""
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
    gh, gw = taps[TAPS[0]].shape[-2:]
    rgh, rgw = ref_taps[TAPS[0]].shape[-2:]
    target = _cell_features(taps, L)
    ref = _cell_features(ref_taps, ref_L)
    sim = target @ ref.T  # (target cells, reference cells)
    ref_ab = torch.from_numpy(np.ascontiguousarray(ref_lab[..., 1:].transpose(2, 0, 1)))
    cell_ab = F.adaptive_avg_pool2d(ref_ab[None], (rgh, rgw))[0].reshape(2, -1)
    warped = (torch.softmax(sim / MATCH_TEMPERATURE, 1) @ cell_ab.T).T.reshape(2, gh, gw)
    best, back = sim.max(1), sim.argmax(0)
    home = back[best.indices]
    ty, tx = torch.arange(gh * gw) // gw, torch.arange(gh * gw) % gw
    mutual = ((home // gw - ty).abs() <= 1) & ((home % gw - tx).abs() <= 1)
    conf = (best.values.clamp(0, 1) * mutual).reshape(gh, gw)
    fit = float(conf.mean())
    gate = float(np.clip((fit - FIT_RANGE[0]) / (FIT_RANGE[1] - FIT_RANGE[0]), 0.0, 1.0))
    weight = conf * (conf > MIN_MATCH) * gate
    ab = F.interpolate(warped[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    wt = F.interpolate(weight[None, None], size=(h, w), mode="bilinear", align_corners=False)
    return DenseHints(ab.numpy().astype(np.float32), wt[0].numpy().astype(np.float32)), fit


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
    dense, fit = match(model, L, encoded, ref_lab)
    return Guidance(dense, global_hints, fit)
