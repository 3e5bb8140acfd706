"""Line art: regions that follow the drawing, ranked by value, and flat colours under the lines.

Regions are the drawing's closed areas (models/closed_areas.py: trapped-ball gap closing,
hatching merged), found at up to SEG_MAX_SIDE and carried to full size so their edges follow
the lines. They are ranked larger first, the page around the drawing last, and numbered in
that order, so region 1 is the first to colour. (Ranking by the segmentation net's learned
priority channel, GuidingPainter's order, measured lower on held-out line art:
weights/LINEART.md.)

Colours: the model predicts flat colours at working size, they are upsampled, every hinted
region is then painted exactly its hint colour at full size (an artist who fills a region
expects that colour, edge to edge), and the full-size sketch is multiplied on top so lines
stay as drawn.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from chromahint_client.protocol import Point

from .imaging import Raster, alpha8, lightness, resize_plane, strip_rows, working_shape
from .jobs import Derive, uncached
from .models.base import RGB, LineartModel, LinePoint, hint_square
from .models.closed_areas import closed_areas
from .models.lineart_net import LINE_THRESHOLD
from .models.normalize import lightness_unit
from .pipeline import Timer
from .upsample import taps

# Closed areas are found on a grid of at most this many pixels a side (ink kept where any
# pixel of a cell is ink), which keeps `regions` fast on big canvases; labels are then
# carried back to every full-size pixel.
SEG_MAX_SIDE = 512
# A point hint inside a region below this fraction of the image fills that region, like a
# bucket fill (and the Colorize Mask's key strokes); larger ones (the page) stay squares.
POINT_FILL_FRAC = 0.5
CLEAR_PAPER = 0.95  # working-size sketch at least this light: away from the lines
FLAT_SPREAD = 0.1  # RGB (0-1) standard deviation of a guess that still counts as one colour
EDGE_PX = 2  # line pixels this close to a region take its colour (their anti-aliased rims)


def sketch_planes(raster: Raster, working_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-size and working-size sketch intensity in [0, 1] (1 = paper, 0 = ink)."""
    L_full = lightness(raster)
    sketch = lightness_unit(L_full)
    ww, wh = working_shape(raster.width, raster.height, working_size)
    return sketch, resize_plane(sketch, ww, wh)


def _nearest(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = labels.shape
    ys = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return labels[ys[:, None], xs[None, :]]


def _cells_with_ink(ink: np.ndarray, s: int) -> np.ndarray:
    """(H, W) bool -> (ceil(H/s), ceil(W/s)) bool: any ink in each s x s cell."""
    if s == 1:
        return ink
    h, w = ink.shape
    padded = np.zeros((-(-h // s) * s, -(-w // s) * s), bool)
    padded[:h, :w] = ink
    cells = padded.reshape(padded.shape[0] // s, s, padded.shape[1] // s, s)
    return np.asarray(cells.any(axis=(1, 3)), bool)


def _rank(areas: np.ndarray) -> np.ndarray:
    """Area ids 1..n in priority order: areas touching the image border (the page around a
    drawing, which is most often left as paper) last, larger areas first."""
    n = int(areas.max())
    sizes = np.bincount(areas.ravel(), minlength=n + 1)
    page = np.zeros(n + 1, bool)
    page[np.concatenate([areas[0], areas[-1], areas[:, 0], areas[:, -1]])] = True
    ids = np.arange(1, n + 1)
    return ids[np.lexsort((ids, -sizes[1:], page[1:]))]


def _to_full_size(cells: np.ndarray, ink: np.ndarray, s: int) -> np.ndarray:
    """Cell labels -> full-size labels. Paper pixels in cells that held ink take the label of
    a 4-neighbour, step by step, so a region ends exactly at its line; a pixel walled in by
    ink takes its cell's nearest area."""
    h, w = ink.shape
    ys, xs = np.arange(h) // s, np.arange(w) // s
    full = cells[ys[:, None], xs[None, :]].ravel()
    todo = np.flatnonzero((full == 0) & ~ink.ravel())
    col = todo % w
    for _ in range(2 * s):
        if todo.size == 0:
            break
        got = np.zeros(todo.size, np.int32)
        for step, ok in ((-1, col > 0), (1, col < w - 1), (-w, todo >= w), (w, todo < h * w - w)):
            take = ok & (got == 0)
            got[take] = full[todo[take] + step]
        done = got > 0
        full[todo[done]] = got[done]
        todo, col = todo[~done], col[~done]
    if todo.size:
        _, (iy, ix) = ndimage.distance_transform_edt(cells == 0, return_indices=True)  # pyright: ignore[reportGeneralTypeIssues]
        ty, tx = todo // w // s, todo % w // s
        full[todo] = cells[iy[ty, tx], ix[ty, tx]]
    return full.reshape(h, w)


def region_labels(sketch: np.ndarray) -> np.ndarray:
    """(H, W) sketch -> (H, W) int32 region ids: 0 on lines, 1..n elsewhere in priority order."""
    h, w = sketch.shape
    ink = sketch < LINE_THRESHOLD
    s = max(1, math.ceil(max(h, w) / SEG_MAX_SIDE))
    ink_s = _cells_with_ink(ink, s)
    areas = closed_areas(ink_s)
    if areas.max() == 0:
        return areas if s == 1 else np.zeros((h, w), np.int32)
    lut = np.zeros(int(areas.max()) + 1, np.int32)
    lut[_rank(areas)] = np.arange(1, len(lut), dtype=np.int32)
    areas = lut[areas]
    if s > 1:
        areas = _to_full_size(areas, ink, s)
    areas[ink] = 0
    return areas


def _sketches(model: LineartModel, raster: Raster, derive: Derive) -> tuple[np.ndarray, ...]:
    size = model.working_size
    return derive(("sketch", size), lambda: sketch_planes(raster, size))


def cached_planes(model: LineartModel, raster: Raster, derive: Derive) -> tuple[np.ndarray, ...]:
    """(sketch, working-size sketch, region labels as uint16), kept with a cached image."""
    sketch, sketch_w = _sketches(model, raster, derive)
    labels = derive(
        "regions",
        lambda: region_labels(sketch).astype(np.uint16),
    )
    return sketch, sketch_w, labels


def regions(
    model: LineartModel, raster: Raster, max_regions: int, timer: Timer, derive: Derive = uncached
) -> tuple[np.ndarray, list[int]]:
    """Region id per full-size pixel (0 = line) and the first `max_regions` ids by priority."""
    _, _, labels = cached_planes(model, raster, derive)
    timer.lap("regions")
    return labels, list(range(1, min(int(labels.max()), max_regions) + 1))


def hint_fills(
    labels: np.ndarray, region_rgb: dict[int, RGB], points: Sequence[LinePoint]
) -> tuple[dict[int, RGB], list[LinePoint]]:
    """Region hints plus the regions points bucket-fill (later wins), and the points left as
    squares (those on lines only, or in a region as big as the page)."""
    h, w = labels.shape
    sizes = np.bincount(labels.ravel())
    fills = {r: rgb for r, rgb in region_rgb.items() if 0 < r < len(sizes)}
    squares = []
    for x, y, rgb, size in points:
        ys, xs = hint_square(x, y, size, h, w)
        ids = np.unique(labels[ys, xs])
        ids = ids[(ids > 0) & (sizes[ids] < POINT_FILL_FRAC * labels.size)]
        if len(ids):
            fills.update({int(r): rgb for r in ids})
        else:
            squares.append((x, y, rgb, size))
    return fills, squares


def _region_colours(
    rgb_w: np.ndarray, labels_w: np.ndarray, sketch_w: np.ndarray, n: int
) -> tuple[np.ndarray, ...]:
    """Each region's mean predicted colour (0-255) and whether it has one: a region is
    one flat colour, so an unhinted one shows the model's guess averaged over it (closer to
    a flat truth than the guess's blotches, whatever the guess)."""
    # Only clear paper counts: what the model puts under and beside a line is never seen.
    flat = np.where(sketch_w.ravel() >= CLEAR_PAPER, labels_w.ravel(), 0).astype(np.int64)
    count = np.bincount(flat, minlength=n)[:n]
    sums = np.stack([np.bincount(flat, rgb_w[c].ravel(), n)[:n] for c in range(3)], 1)
    squares = np.stack([np.bincount(flat, rgb_w[c].ravel() ** 2, n)[:n] for c in range(3)], 1)
    has = count > 0
    has[0] = False  # lines keep the smooth colour under them
    mean = np.zeros((n, 3), np.float64)
    mean[has] = sums[has] / count[has, None]
    spread = np.zeros(n)
    spread[has] = np.sqrt(np.maximum(squares[has] / count[has, None] - mean[has] ** 2, 0).sum(1))
    # A guess that changes colour inside a region is the model seeing a boundary no line
    # draws: kept as it is.
    has &= spread < FLAT_SPREAD
    return (mean * 255.0).astype(np.float32), has


def edge_labels(labels: np.ndarray, steps: int = EDGE_PX) -> np.ndarray:
    """`labels` with the line pixels within `steps` px of a region labelled as that region:
    a line's soft rim is the fill darkened (the output is colour times the sketch), so it
    takes the fill's colour; the line itself is dark whatever colour it gets."""
    near = labels
    for _ in range(steps):
        near = np.where(near == 0, ndimage.maximum_filter(near, size=3), near)
    return near


def colorize_into(
    out: np.ndarray,
    model: LineartModel,
    sketch: np.ndarray,
    sketch_w: np.ndarray,
    labels: np.ndarray,
    region_rgb: dict[int, RGB],
    points: Sequence[LinePoint],
    near: np.ndarray | None = None,
) -> None:
    """Write the colourized drawing (H, W, 3) uint8 into `out`; points in full-size pixels.
    `near`: edge_labels(labels), when the caller keeps it."""
    height, width = sketch.shape
    wh, ww = sketch_w.shape
    fills, squares = hint_fills(labels, region_rgb, points)
    sx = ww / width
    pts = [(x * sx, y * sx, rgb, max(1.0, size * sx)) for x, y, rgb, size in squares]
    labels_w = _nearest(labels, ww, wh)
    rgb_w = model.colorize(sketch_w, labels_w, fills, pts)
    color = torch.from_numpy(np.ascontiguousarray(rgb_w, np.float32))[None]
    lut, has = _region_colours(rgb_w, labels_w, sketch_w, int(labels.max()) + 1)
    for rid, rgb in fills.items():
        lut[rid], has[rid] = rgb, True
    # Bilinear (align_corners=False): horizontally once, then vertically per strip.
    horiz = F.interpolate(color, size=(wh, width), mode="bilinear", align_corners=False)[0]
    i0, frac = (torch.from_numpy(t) for t in taps(height, wh))
    i1 = (i0 + 1).clamp(max=wh - 1)
    rows = strip_rows(width) * 4
    near = edge_labels(labels) if near is None else near
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        f = frac[y0:y1, None]
        band = (horiz[:, i0[y0:y1]] * (1 - f) + horiz[:, i1[y0:y1]] * f).mul_(255.0)
        strip = band.permute(1, 2, 0).numpy()
        lab = near[y0:y1]
        sel = has[lab]
        strip[sel] = lut[lab[sel]]
        strip *= sketch[y0:y1, :, None]
        out[y0:y1] = np.clip(strip + 0.5, 0, 255).astype(np.uint8)


def colorize(
    model: LineartModel,
    raster: Raster,
    points: Sequence[Point],
    region_rgb: dict[int, RGB],
    labels: np.ndarray | None,
    timer: Timer,
    derive: Derive = uncached,
) -> bytes:
    """The line-art layer (RGBA8 bytes); `labels` from the client, else the engine's own."""
    if labels is None:
        sketch, sketch_w, labels = cached_planes(model, raster, derive)
        key = None
    else:
        sketch, sketch_w = _sketches(model, raster, derive)
        key = hashlib.sha1(np.ascontiguousarray(labels).data).hexdigest()  # the client's labels
    # Kept with the image: a hint change in live mode leaves the labels as they were.
    near = derive(("edge_labels", key), lambda: edge_labels(labels))
    timer.lap("regions")
    out = np.empty((raster.height, raster.width, 4), np.uint8)
    pts = [(p.x, p.y, p.rgb, p.size) for p in points]
    colorize_into(out[..., :3], model, sketch, sketch_w, labels, region_rgb, pts, near)
    alpha = alpha8(raster)
    out[..., 3] = 255 if alpha is None else alpha
    timer.lap("forward")
    return out.tobytes()
