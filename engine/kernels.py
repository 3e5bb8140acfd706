"""The engine's compiled pixel loops (numba), and the threads that run them strip by strip.

numba because it installs from wheels on every platform we ship (llvmlite bundles LLVM: no
compiler on the user's machine, unlike torch.compile's C++ backend or a C extension), and
its `nogil` kernels run side by side on the pool's threads. Each kernel has a numpy or
torch reference elsewhere (named in its docstring) that tests compare it with and that runs
where numba is missing. The pixel kernels read integer codes where they lie, in the
request: code -> linear light and code -> lightness come from tables, so no full-size float
plane is ever made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .color import luminance_to_lightness
from .imaging import LIGHTNESS_8, LIGHTNESS_16, LINEAR_8, LINEAR_16, LUMA
from .models.lab_torch import _DELTA

try:
    import numba
except ImportError:  # the references run instead, slower
    numba = None

# Strips of one image run side by side; requests running at once share these threads.
THREADS = max(1, os.cpu_count() or 1)
POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="kernel")
# Lightness of relative luminance at LIGHTNESS_STEPS + 1 points, interpolated linearly:
# within 0.0005 L of the cube root (the curve is linear below its knee, so the error peaks
# just above it), faster per pixel than the cube root and, at 16 KiB, read from L1.
LIGHTNESS_STEPS = 4096
_LIGHTNESS_OF_Y = luminance_to_lightness(
    np.arange(LIGHTNESS_STEPS + 1, dtype=np.float64) / LIGHTNESS_STEPS
).astype(np.float32)
LUMA32 = LUMA.astype(np.float32)


def code_tables(dtype: np.dtype, channels: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(code -> linear light, the lightness table, alpha divisor) for integer codes: the
    lightness table is indexed by the gray code, or for colour by the 16-bit luminance."""
    to_linear, gray_lightness, alpha_div = (
        (LINEAR_8, LIGHTNESS_8, 1) if dtype == np.uint8 else (LINEAR_16, LIGHTNESS_16, 257)
    )
    return to_linear, gray_lightness if channels == 1 else _LIGHTNESS_OF_Y, alpha_div


def _pixel_luminance(src, row, x, to_linear, luma):  # pragma: no cover
    """Relative luminance in [0, 1] of colour pixel (row, x) of src (integer codes)."""
    v = (
        luma[0] * to_linear[src[row, x, 0]]
        + luma[1] * to_linear[src[row, x, 1]]
        + luma[2] * to_linear[src[row, x, 2]]
    )
    return min(max(v, np.float32(0.0)), np.float32(1.0))


def _luminance_lightness(v, table):  # pragma: no cover
    """Lightness of luminance v in [0, 1] from _LIGHTNESS_OF_Y, interpolated."""
    pos = v * np.float32(LIGHTNESS_STEPS)
    k = min(np.int32(pos), LIGHTNESS_STEPS - 1)
    return table[k] + (table[k + 1] - table[k]) * (pos - np.float32(k))


def _rgb_codes(out, y, x, lut, codes):  # pragma: no cover
    """out[y, x, :3] = the sRGB8 of pixel x's linear-light codes."""
    out[y, x, 0] = lut[codes[0, x]]
    out[y, x, 1] = lut[codes[1, x]]
    out[y, x, 2] = lut[codes[2, x]]


def _expand_row(maps, i, xi, xf, row):  # pragma: no cover
    """row (4, W) = working row i of the guide maps, bilinear along x to the output width."""
    one = np.float32(1.0)
    for c in range(4):
        for x in range(row.shape[1]):
            j = xi[x]
            g = xf[x]
            row[c, x] = maps[c, i, j] * (one - g) + maps[c, i, j + 1] * g


_luminance = numba.njit(inline="always")(_pixel_luminance) if numba is not None else None
_expand = numba.njit(inline="always")(_expand_row) if numba is not None else None
_put_rgb = numba.njit(inline="always")(_rgb_codes) if numba is not None else None
_lightness = numba.njit(inline="always")(_luminance_lightness) if numba is not None else None


def _render_rows(
    maps, xi, xf, yi, yf, src, src_y0, to_linear, to_lightness, luma, alpha_div, m, lut, out, y0, y1
):  # pragma: no cover
    """Rows y0..y1 of out (H, W, 4) uint8; the maths of upsample.LayerRenderer.strip, with
    the bilinear taps of the (4, h, w) guide maps expanded once per working row.

    Lightness and luminance come from the pixel codes themselves (src: integer (n, W, C),
    its row 0 is image row src_y0) through tables: code -> linear light, and to lightness
    from the gray code or, for colour, from luminance (_LIGHTNESS_OF_Y, interpolated); so
    no full-size float plane is ever made. Alpha codes divide by alpha_div (1 or 257).
    float32 throughout, and each row in separate simple loops (coefficients, lightness,
    colour, codes, store, alpha) that LLVM vectorises: twice as fast as one loop doing it
    all."""
    width = out.shape[1]
    channels = src.shape[2]
    one, zero = np.float32(1.0), np.float32(0.0)
    d = np.float32(_DELTA)
    slope = np.float32(3.0 * _DELTA * _DELTA)
    tiny = np.float32(1e-12)
    scale, rounding = np.float32(65535.0), np.float32(0.5)
    m = m.astype(np.float32)
    luma = luma.astype(np.float32)
    lo_row = np.empty((4, width), np.float32)
    hi_row = np.empty((4, width), np.float32)
    coef = np.empty((4, width), np.float32)
    lin_row = np.empty(width, np.float32)
    lum_row = np.empty(width, np.float32)
    rgb = np.empty((3, width), np.float32)
    codes = np.empty((3, width), np.int32)
    current = -2  # no working row yet (nor the one before it)
    for y in range(y0, y1):
        i = yi[y]
        f = yf[y]
        if i != current:
            if i == current + 1:  # the last working row's lower taps are this one's upper
                lo_row, hi_row = hi_row, lo_row
            else:
                _expand(maps, i, xi, xf, lo_row)  # pyright: ignore[reportOptionalCall]
            _expand(maps, i + 1, xi, xf, hi_row)  # pyright: ignore[reportOptionalCall]
            current = i
        for c in range(4):
            for x in range(width):
                coef[c, x] = lo_row[c, x] + (hi_row[c, x] - lo_row[c, x]) * f
        row = y - src_y0
        if channels == 1:
            for x in range(width):
                lin_row[x] = to_linear[src[row, x, 0]]
                lum_row[x] = to_lightness[src[row, x, 0]]
        else:
            for x in range(width):
                v = _luminance(src, row, x, to_linear, luma)  # pyright: ignore[reportOptionalCall]
                lin_row[x] = v
                lum_row[x] = _lightness(v, to_lightness)  # pyright: ignore[reportOptionalCall]
        for x in range(width):
            lum = lum_row[x]
            lin = lin_row[x]
            tx = coef[1, x] + coef[0, x] * lum
            tz = coef[3, x] + coef[2, x] * lum
            cx = max(tx, d)
            cz = max(tz, d)
            fx = cx * cx * cx + slope * min(tx - d, zero)
            fz = cz * cz * cz + slope * min(tz - d, zero)
            r = m[0, 0] * fx + m[0, 2] * fz + m[0, 1] * lin
            g2 = m[1, 0] * fx + m[1, 2] * fz + m[1, 1] * lin
            b = m[2, 0] * fx + m[2, 2] * fz + m[2, 1] * lin
            # Out of gamut: toward the neutral of the same luminance (keeps L exact); in
            # gamut both ratios are >= 1, so t = 1 and the colour stays (no branch).
            hi = max(max(max(r, g2), b) - lin, tiny)
            lo = max(lin - min(min(r, g2), b), tiny)
            t = min(max(min((one - lin) / hi, lin / lo), zero), one)
            rgb[0, x] = lin + (r - lin) * t
            rgb[1, x] = lin + (g2 - lin) * t
            rgb[2, x] = lin + (b - lin) * t
        for c in range(3):
            for x in range(width):
                codes[c, x] = min(max(np.int32(rgb[c, x] * scale + rounding), 0), 65535)
        # Alpha decided outside the loops: a division by a variable inside cost 15 %.
        if channels != 4:
            for x in range(width):
                _put_rgb(out, y, x, lut, codes)  # pyright: ignore[reportOptionalCall]
                out[y, x, 3] = 255
        elif alpha_div == 1:
            for x in range(width):
                _put_rgb(out, y, x, lut, codes)  # pyright: ignore[reportOptionalCall]
                out[y, x, 3] = src[row, x, 3]
        else:  # 16-bit codes, rounded: a constant divisor, which LLVM makes a multiply
            for x in range(width):
                _put_rgb(out, y, x, lut, codes)  # pyright: ignore[reportOptionalCall]
                out[y, x, 3] = (np.uint32(src[row, x, 3]) + np.uint32(128)) // np.uint32(257)


def _shrink_rows(
    src, src_y0, to_linear, to_lightness, luma, xs, xn, xk, ys, yn, yk, out, y0, y1
):  # pragma: no cover
    """Rows y0..y1 of the working-size lightness out (h, w) float32, straight from the
    pixel codes src (n, W, C), its row 0 being image row src_y0: each needed image row's
    lightness (as _render_rows finds it), filtered along x with the taps (start, count,
    weights) xs, xn, xk, then down y with ys, yn, yk. The same sums in the same order as
    Pillow's BILINEAR resize of a mode "F" plane (imaging.resize_plane, the reference):
    float64 sums, a float32 row pass between."""
    width_in = src.shape[1]
    channels = src.shape[2]
    width = out.shape[1]
    r0 = ys[y0]
    r1 = ys[y1 - 1] + yn[y1 - 1]
    rows = np.empty((r1 - r0, width), np.float32)
    line = np.empty(width_in, np.float32)
    acc = np.empty(width, np.float64)
    # The taps by position, each output's missing ones of weight 0 (adding 0.0 changes no
    # sum): the row filter is then one loop over the outputs per tap, which LLVM vectorises,
    # with every output's sum still taken in the same order.
    most = 0
    for o in range(width):
        most = max(most, xn[o])
    at = np.empty((most, width), np.int64)
    weight = np.zeros((most, width), np.float64)
    for o in range(width):
        for t in range(most):
            at[t, o] = min(xs[o] + t, width_in - 1)
            if t < xn[o]:
                weight[t, o] = xk[o, t]
    for r in range(r0, r1):
        row = r - src_y0
        if channels == 1:
            for x in range(width_in):
                line[x] = to_lightness[src[row, x, 0]]
        else:
            for x in range(width_in):
                v = _luminance(src, row, x, to_linear, luma)  # pyright: ignore[reportOptionalCall]
                line[x] = _lightness(v, to_lightness)  # pyright: ignore[reportOptionalCall]
        acc[:] = 0.0
        for t in range(most):
            for o in range(width):
                acc[o] += line[at[t, o]] * weight[t, o]
        for o in range(width):
            rows[r - r0, o] = acc[o]
    for o in range(y0, y1):
        acc[:] = 0.0
        for t in range(yn[o]):
            w = yk[o, t]
            k = ys[o] + t - r0
            for x in range(width):
                acc[x] += rows[k, x] * w
        for x in range(width):
            out[o, x] = acc[x]


def _box_rows(x, radius, out):  # pragma: no cover
    """upsample.box_mean of x (C, h, w) float32 into out: the window's taps added one offset
    at a time along each row, then down the columns. Each pass is a plain loop over a row
    that LLVM vectorises: 3x faster than running sums, whose every add waits for the last."""
    channels, h, w = x.shape
    rows = np.empty((h, w), np.float32)
    inv_w = np.empty(w, np.float32)
    for j in range(w):
        inv_w[j] = 1.0 / (min(j + radius, w - 1) - max(j - radius, 0) + 1)
    for k in range(channels):
        for i in range(h):
            for j in range(w):
                rows[i, j] = x[k, i, j]
            for t in range(1, radius + 1):
                for j in range(w - t):
                    rows[i, j] += x[k, i, j + t]
                for j in range(t, w):
                    rows[i, j] += x[k, i, j - t]
            for j in range(w):
                rows[i, j] *= inv_w[j]
        for i in range(h):
            top, bottom = max(i - radius, 0), min(i + radius, h - 1)
            inv = np.float32(1.0 / (bottom - top + 1))
            for j in range(w):
                out[k, i, j] = rows[top, j]
            for r in range(top + 1, bottom + 1):
                for j in range(w):
                    out[k, i, j] += rows[r, j]
            for j in range(w):
                out[k, i, j] *= inv


def _compile(kernel: Callable[..., None]) -> Callable[..., None] | None:
    # error_model="numpy": no zero-division checks (every divisor is clamped above 0).
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True, error_model="numpy")(kernel)


box_rows = _compile(_box_rows)


def _guide_maps(lightness, ab, radius, eps, out):  # pragma: no cover
    """upsample.guide_maps (the reference) into out (4, h, w): the guided filter's means
    of lightness/100 and ab in one box pass, its coefficients in a second, folded into the
    Lab -> XYZ step."""
    _, h, w = ab.shape
    stack = np.empty((6, h, w), np.float32)
    for i in range(h):
        for j in range(w):
            g = lightness[i, j] / np.float32(100.0)
            stack[0, i, j] = g
            stack[1, i, j] = g * g
            stack[2, i, j] = ab[0, i, j]
            stack[3, i, j] = ab[1, i, j]
            stack[4, i, j] = ab[0, i, j] * g
            stack[5, i, j] = ab[1, i, j] * g
    means = np.empty((6, h, w), np.float32)
    box_rows(stack, radius, means)  # pyright: ignore[reportOptionalCall]
    coefficients = stack[:4]
    for i in range(h):
        for j in range(w):
            mean_i = means[0, i, j]
            inv = np.float32(1.0) / (means[1, i, j] - mean_i * mean_i + np.float32(eps))
            for c in range(2):
                a = (means[4 + c, i, j] - mean_i * means[2 + c, i, j]) * inv
                coefficients[c, i, j] = a
                coefficients[2 + c, i, j] = means[2 + c, i, j] - a * mean_i
    smooth = means[:4]
    box_rows(coefficients, radius, smooth)  # pyright: ignore[reportOptionalCall]
    for i in range(h):
        for j in range(w):
            out[0, i, j] = np.float32(1 / 116) + smooth[0, i, j] / np.float32(50000.0)
            out[1, i, j] = np.float32(16 / 116) + smooth[2, i, j] / np.float32(500.0)
            out[2, i, j] = np.float32(1 / 116) - smooth[1, i, j] / np.float32(20000.0)
            out[3, i, j] = np.float32(16 / 116) - smooth[3, i, j] / np.float32(200.0)


guide_maps = _compile(_guide_maps) if box_rows is not None else None
render_rows = _compile(_render_rows)
shrink_rows = _compile(_shrink_rows)


def available() -> bool:
    return numba is not None
