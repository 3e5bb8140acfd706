"""Closed areas of a drawing: what an artist would bucket-fill, with small gaps closed.

Trapped-ball segmentation (Zhang et al. 2009, the classical tool behind "fill with gap
closing" in paint programs): a ball too big to pass through a gap in a line rolls around
each area and claims what it can reach; what it cannot reach (narrow strips, corners, cells
smaller than the ball) becomes a region of its own when large enough, or joins the nearest
area. Clusters of tiny cells (hatching, cross-hatching) merge into one region so shading
does not shatter an area. Everything is deterministic: labels depend only on the pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# The ball's radius follows the stroke width: a gap narrower than about 2 x radius closes.
MIN_BALL, MAX_BALL = 2, 6
# A leftover piece (not reached by the ball) smaller than this share of the image joins the
# nearest area instead of being a region of its own.
MIN_AREA_FRAC = 0.0004
MIN_AREA_PX = 8
# Cells below this share of the image are hatching candidates; HATCH_CLUSTER or more of them
# within one stroke width of each other become a single region.
HATCH_CELL_FRAC = 0.002
HATCH_CLUSTER = 4


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels: a stroke of width w and length l has area w*l and
    about 2*l edge pixels."""
    area = int(ink.sum())
    if area == 0:
        return 0.0
    inner = ink.copy()
    inner[1:] &= ink[:-1]
    inner[:-1] &= ink[1:]
    inner[:, 1:] &= ink[:, :-1]
    inner[:, :-1] &= ink[:, 1:]
    edge = area - int(inner.sum())
    return 2.0 * area / max(edge, 1)


def ball_radius(width: float) -> int:
    return int(np.clip(round(width / 2) + 1, MIN_BALL, MAX_BALL))


def _nearest_fill(labels: np.ndarray, todo: np.ndarray) -> None:
    """Give every `todo` pixel the label of its nearest labelled pixel, in place."""
    if not todo.any() or not (labels > 0).any():
        return
    _, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)  # pyright: ignore[reportGeneralTypeIssues]
    labels[todo] = labels[iy[todo], ix[todo]]


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids 1..n in order of first appearance (row-major), 0 kept."""
    ids, first = np.unique(labels.ravel(), return_index=True)
    keep = ids > 0
    ids, first = ids[keep], first[keep]
    order = ids[np.argsort(first)]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[labels], len(order)


def _merge_hatching(labels: np.ndarray, n: int, gap: float) -> np.ndarray:
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small_ids = np.nonzero(sizes < HATCH_CELL_FRAC * labels.size)[0]
    small_ids = small_ids[small_ids > 0]
    if len(small_ids) < HATCH_CLUSTER:
        return labels
    small = np.isin(labels, small_ids)
    near = np.asarray(ndimage.distance_transform_edt(~small)) <= gap
    groups, count = ndimage.label(near)  # pyright: ignore[reportGeneralTypeIssues]
    out = labels.copy()
    cell_group = np.zeros(n + 1, np.int64)
    cell_group[labels[small]] = groups[small]
    for g in range(1, count + 1):
        cells = small_ids[cell_group[small_ids] == g]
        if len(cells) >= HATCH_CLUSTER:
            out[np.isin(labels, cells)] = cells[0]
    return out


def _touching(rest: np.ndarray, labels: np.ndarray, m: int) -> np.ndarray:
    """For each leftover piece 1..m, the area it shares the longest free border with (0: none).

    A piece the ball could not enter but that opens into an area (a corner, the strips
    between hatching strokes, a narrow end) is part of that area; only pieces walled in by
    ink stand alone.
    """
    a_parts, b_parts = [], []
    for a, b in (
        (rest[:, :-1], labels[:, 1:]),
        (rest[:, 1:], labels[:, :-1]),
        (rest[:-1], labels[1:]),
        (rest[1:], labels[:-1]),
    ):
        sel = (a > 0) & (b > 0)
        a_parts.append(a[sel])
        b_parts.append(b[sel])
    pa, pb = np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)
    out = np.zeros(m + 1, np.int32)
    if len(pa) == 0:
        return out
    pairs, counts = np.unique(pa * (int(labels.max()) + 1) + pb, return_counts=True)
    piece, area = np.divmod(pairs, int(labels.max()) + 1)
    # Longest contact wins: sort by count so the last write per piece is the largest.
    order = np.lexsort((counts, piece))
    out[piece[order]] = area[order]
    return out


def closed_areas(ink: np.ndarray) -> np.ndarray:
    """(H, W) bool ink mask -> (H, W) int32 area ids, 0 on ink, 1..n elsewhere."""
    free = ~ink
    labels = np.zeros(ink.shape, np.int32)
    if not free.any():
        return labels
    if not ink.any():
        return free.astype(np.int32)
    width = stroke_width(ink)
    r = ball_radius(width)
    depth = np.asarray(ndimage.distance_transform_edt(free))
    seeds, n = ndimage.label(depth > r)  # pyright: ignore[reportGeneralTypeIssues]
    if n:
        dist, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)  # pyright: ignore[reportGeneralTypeIssues]
        dist, iy, ix = np.asarray(dist), np.asarray(iy), np.asarray(ix)
        reach = free & (dist <= r)
        labels[reach] = seeds[iy[reach], ix[reach]]
    rest, m = ndimage.label(free & (labels == 0))  # pyright: ignore[reportGeneralTypeIssues]
    rest, m = np.asarray(rest, np.int64), int(m)
    if m:
        joined = _touching(rest, labels, m)
        sizes = np.bincount(rest.ravel(), minlength=m + 1)
        own = (joined == 0) & (sizes >= max(MIN_AREA_PX, MIN_AREA_FRAC * ink.size))
        own[0] = False
        joined[own] = np.arange(1, m + 1)[own[1:]] + n
        labels = np.where(rest > 0, joined[rest], labels).astype(np.int32)
        _nearest_fill(labels, free & (labels == 0))
    labels, n = _relabel(labels)
    labels = _merge_hatching(labels, n, width + 2)
    return _relabel(labels)[0]
