"""The full-resolution render as one fused pass per strip: guided chroma upsampling,
Lab -> sRGB, gamut mapping at constant luminance and alpha, compiled with numba.

The model is upsample.py's (the guided filter's coefficient rows, evaluated with the
full-resolution lightness; the same gamut mapping and 16-bit sRGB table), so lightness stays
exact and chroma does not bleed across edges; the torch path there is the reference and
the fallback where numba is missing. The kernel itself is kernels.render_rows.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from chromahint_client import protocol as P

from . import kernels
from .framing import layer_buffer
from .imaging import FORMATS, STRIP_PIXELS, Raster, alpha8, codes16, decode, luminance
from .jobs import Job
from .shrink import working_lightness
from .upsample import (
    LINEAR_TO_SRGB8,
    XYZN_TO_RGB,
    LayerRenderer,
    guide_maps,
    taps,
)

log = logging.getLogger("chromahint.engine")

_LUT = LINEAR_TO_SRGB8.numpy()
_M32 = XYZN_TO_RGB.astype(np.float32)


def warm_up() -> None:
    """Compile (or load the cached compile of) the kernels now, not on the first request:
    each pixel code type and channel count is its own compile."""
    if not kernels.available():
        log.warning("numba is not installed: rendering with the slower torch path")
        return
    L = np.full((4, 4), 50.0, np.float32)
    ab = np.zeros((2, 4, 4), np.float32)
    for fmt in ("gray8", "gray16", "rgb8", "rgba8", "rgba16"):
        channels, dtype, _ = FORMATS[fmt]
        data = np.zeros((4, 4, channels), dtype).tobytes()
        raster = decode(P.Image(4, 4, fmt, data))
        working_lightness(raster, 2, 2)
        render_rgba8(L, ab, raster)


def render_rgba8(
    L_work: np.ndarray,
    ab_work: np.ndarray,
    raster: Raster,
    job: Job | None = None,
    span: tuple[float, float] = (0.0, 1.0),
    fused: bool = True,
) -> memoryview:
    """The rgba8 layer (H, W, 4) as bytes, lightness and alpha from `raster`. Strips run on
    kernels.THREADS threads (the kernel releases the GIL); between strips, in order,
    `job.checkpoint` reports progress from span[0] to span[1] and is where a cancel stops
    the work."""
    height, width = raster.height, raster.width
    out = layer_buffer(height, width)  # the reply frame is sent from this memory
    # Strips of about a million pixels, and at least two per render thread.
    rows = max(1, min(16 * STRIP_PIXELS // max(width, 1), -(-height // (2 * kernels.THREADS))))
    starts = range(0, height, rows)
    if fused and kernels.render_rows is not None:
        kernel = kernels.render_rows
        maps = guide_maps(L_work, ab_work, compiled=True)
        xs, ys = taps(width, maps.shape[2]), taps(height, maps.shape[1])
        floats = raster.pixels.dtype.kind == "f"
        to_linear, to_lightness, alpha_div = kernels.code_tables(
            np.dtype(np.uint16 if floats else raster.pixels.dtype), raster.channels
        )

        def strip(y0: int) -> None:
            y1 = min(height, y0 + rows)
            # Float samples become 16-bit codes a strip at a time (finer than the 8-bit
            # layer can show); integer codes are read where they lie, in the request.
            src, src_y0 = (codes16(raster.pixels[y0:y1]), y0) if floats else (raster.pixels, 0)
            kernel(
                maps,
                *xs,
                *ys,
                src,
                src_y0,
                to_linear,
                to_lightness,
                kernels.LUMA32,
                alpha_div,
                _M32,
                _LUT,
                out,
                y0,
                y1,
            )

    else:
        model = LayerRenderer(L_work, ab_work, width, height)
        out_t = torch.from_numpy(out)

        def strip(y0: int) -> None:
            y1 = min(height, y0 + rows)
            part = Raster(width, y1 - y0, raster.format, raster.pixels[y0:y1])
            L, Y = (torch.from_numpy(np.array(a, np.float32)) for a in luminance(part))
            out_t[y0:y1, :, :3] = model.strip(L, Y, y0)
            alpha = alpha8(part)
            out[y0:y1, :, 3] = 255 if alpha is None else alpha

    pending = [kernels.POOL.submit(strip, y0) for y0 in starts]
    try:
        for n, future in enumerate(pending, 1):
            future.result()
            if job is not None:
                # The last strip reports span[1] itself (0.3 + 0.7 is not 1.0 in floats).
                last = n == len(pending)
                job.checkpoint(
                    span[1] if last else span[0] + (span[1] - span[0]) * n / len(pending), "render"
                )
    finally:
        for future in pending:
            future.cancel()  # after a cancel (or an error): the strips not begun never run
    return out.data.cast("B")
