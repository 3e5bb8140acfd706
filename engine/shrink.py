"""The working-size lightness straight from the pixel codes: each image row's lightness
is made, filtered and dropped inside one compiled pass (kernels.shrink_rows), so no
full-size plane exists (an 8000x6000 image's would be 183 MiB) and the strips run on
every core. The filter is Pillow's BILINEAR resize (a triangle as wide as the scale), so
the result is imaging.resize_plane(imaging.lightness(raster)), the reference and the path
without numba, to float rounding.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .imaging import Raster, codes16, lightness, resize_plane


def bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pillow's BILINEAR coefficients (precompute_coeffs in Resample.c) for n_in -> n_out
    samples: per output sample the first input, how many, and their weights (float64,
    summing to 1)."""
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support = filter_scale  # the triangle's support is 1, widened when shrinking
    size = int(np.ceil(support)) * 2 + 1
    centre = (np.arange(n_out) + 0.5) * scale
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    last = np.minimum((centre + support + 0.5).astype(np.int64), n_in)
    count = last - first
    offsets = np.arange(size)
    x = (first[:, None] + offsets[None, :] - centre[:, None] + 0.5) / filter_scale
    weights = np.where(offsets[None, :] < count[:, None], np.maximum(1.0 - np.abs(x), 0.0), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)
    return first.astype(np.int32), count.astype(np.int32), weights


def working_lightness(raster: Raster, width: int, height: int) -> np.ndarray:
    """CIELAB lightness (height, width) float32 of `raster` resized to the working size."""
    kernel = kernels.shrink_rows
    if kernel is None:
        return resize_plane(lightness(raster), width, height)
    xs = bilinear_taps(raster.width, width)
    ys = bilinear_taps(raster.height, height)
    out = np.empty((height, width), np.float32)
    floats = raster.pixels.dtype.kind == "f"
    to_linear, to_lightness, _ = kernels.code_tables(
        np.dtype(np.uint16 if floats else raster.pixels.dtype), raster.channels
    )
    rows = -(-height // (2 * kernels.THREADS))  # two strips per thread

    def strip(y0: int) -> None:
        y1 = min(height, y0 + rows)
        src, src_y0 = raster.pixels, 0
        if floats:  # 16-bit codes of the rows this strip reads (finer than 8 bits can show)
            src_y0 = int(ys[0][y0])
            src = codes16(raster.pixels[src_y0 : int(ys[0][y1 - 1] + ys[1][y1 - 1])])
        kernel(src, src_y0, to_linear, to_lightness, kernels.LUMA32, *xs, *ys, out, y0, y1)

    for future in [kernels.POOL.submit(strip, y0) for y0 in range(0, height, rows)]:
        future.result()
    return out
