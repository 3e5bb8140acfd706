"""Line art: priority regions (GuidingPainter) and colorization under the lines.

Line art has no lightness to keep: the model predicts flat colours at working size, they
are upsampled, and the full-resolution sketch is multiplied on top so lines stay as drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from chromahint_client.protocol import Point

from .imaging import Raster, alpha8, luminance, strip_rows
from .models.base import LineartModel
from .models.normalize import lightness_unit
from .pipeline import Timer, resize_plane, working_shape

LINE_THRESHOLD = 0.5  # sketch intensity below this is a line pixel (region 0)


def sketch_planes(raster: Raster, working_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-size and working-size sketch intensity in [0, 1] (1 = paper, 0 = ink)."""
    L_full, _ = luminance(raster)
    sketch = lightness_unit(L_full)
    ww, wh = working_shape(raster.width, raster.height, working_size)
    return sketch, resize_plane(sketch, ww, wh)


def _nearest(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = labels.shape
    ys = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return labels[ys[:, None], xs[None, :]]


def regions(
    model: LineartModel, raster: Raster, max_regions: int, timer: Timer
) -> tuple[np.ndarray, list[int]]:
    """Region id per full-size pixel (uint16, 0 = line or none) and ids by priority."""
    sketch, sketch_w = sketch_planes(raster, model.working_size)
    timer.lap("decode")
    labels_w, order = model.regions(sketch_w, max_regions)
    timer.lap("forward")
    labels = _nearest(labels_w.astype(np.uint16), raster.width, raster.height)
    labels[sketch < LINE_THRESHOLD] = 0
    present = set(np.unique(labels).tolist())
    timer.lap("upsample")
    return labels, [r for r in order if r in present]


def colorize(
    model: LineartModel,
    raster: Raster,
    points: Sequence[Point],
    region_rgb: dict[int, tuple[float, float, float]],
    labels: np.ndarray | None,
    timer: Timer,
) -> bytes:
    sketch, sketch_w = sketch_planes(raster, model.working_size)
    wh, ww = sketch_w.shape
    sx, sy = ww / raster.width, wh / raster.height
    labels_w = _nearest(labels, ww, wh).astype(np.int32) if labels is not None else None
    pts = [(p.x * sx, p.y * sy, p.rgb, max(1.0, p.size * sx)) for p in points]
    timer.lap("decode")
    rgb_w = model.colorize(sketch_w, labels_w, region_rgb, pts)
    timer.lap("forward")
    out = np.empty((raster.height, raster.width, 4), np.uint8)
    color = torch.from_numpy(np.ascontiguousarray(rgb_w, np.float32))[None]
    # Bilinear (align_corners=False): horizontally once, then vertically per strip.
    horiz = F.interpolate(color, size=(wh, raster.width), mode="bilinear", align_corners=False)[0]
    pos = (torch.arange(raster.height, dtype=torch.float64) + 0.5) * wh / raster.height - 0.5
    pos = pos.clamp(0, wh - 1)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=wh - 1)
    frac = (pos - i0).float()
    rows = strip_rows(raster.width) * 4
    for y0 in range(0, raster.height, rows):
        y1 = min(raster.height, y0 + rows)
        f = frac[y0:y1, None]
        band = horiz[:, i0[y0:y1]] * (1 - f) + horiz[:, i1[y0:y1]] * f
        ink = torch.from_numpy(sketch[y0:y1])[None]
        rgb8 = band.mul_(ink).mul_(255.0).add_(0.5).clamp_(0, 255).byte()
        out[y0:y1, :, :3] = rgb8.permute(1, 2, 0).numpy()
    alpha = alpha8(raster)
    out[..., 3] = 255 if alpha is None else alpha
    timer.lap("upsample")
    return out.tobytes()
