"""The engine's pure steps without an engine process: working sizes and hints, swatches,
full-resolution rendering (lightness kept, no bleeding over an edge) and suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from chromahint import kernels
from chromahint.color import rgb_to_lab
from chromahint.imaging import FORMATS, alpha8, decode, luminance, working_shape
from chromahint.models.base import Hint, Prediction
from chromahint.models.levin import LevinColorizer
from chromahint.pipeline import (
    Prepared,
    Timer,
    _rendered_distinct,
    plane_lookup,
    predict,
    swatches_at,
    to_working_hints,
)
from chromahint.render import render_rgba8
from chromahint.suggest import suggest_points
from chromahint_client import protocol as P

pytestmark = pytest.mark.unit


def test_working_shape_keeps_the_aspect_and_a_minimum_side():
    assert working_shape(1024, 512, 256) == (256, 128)
    assert working_shape(4000, 100, 256) == (256, 16)


def test_working_hints_scale_positions_and_sizes():
    (hint,) = to_working_hints([P.Point(100.0, 50.0, (200.0, 30.0, 30.0), 8)], 0.25, 0.25)
    assert (hint.x, hint.y, hint.size) == (25.0, 12.5, 2.0)
    want = rgb_to_lab(np.array([200, 30, 30], np.float32) / 255.0)[1:]
    assert np.allclose(hint.ab, want, atol=1e-3)


def test_swatches_that_render_alike_count_once():
    # Two ab candidates far apart in ab but both out of gamut at L = 95: they desaturate
    # onto the same sRGB edge and must not fill two of the k slots.
    picks = [
        (np.array([80.0, 60.0]), 0.5),
        (np.array([95.0, 75.0]), 0.3),
        (np.array([-40.0, 10.0]), 0.2),
    ]
    row = _rendered_distinct(picks, 95.0, k=3)
    assert len(row) == 2
    assert row[0].p == pytest.approx(0.8) and row[1].p == pytest.approx(0.2)


def two_tone(w: int = 96, h: int = 64) -> P.Image:
    img = np.full((h, w), 170, np.uint8)
    img[:, : w // 2] = 90
    return P.Image(w, h, "gray8", img.tobytes())


def render(raster, prep: Prepared, fused: bool) -> np.ndarray:
    layer = render_rgba8(prep.L_work, prep.pred.ab, raster, fused=fused)
    return np.frombuffer(layer, np.uint8).reshape(raster.height, raster.width, 4)


@pytest.mark.parametrize("fused", [True, False], ids=["numba", "torch"])
def test_rendered_layer_keeps_lightness_and_does_not_bleed(fused):
    assert kernels.available()  # numba is a dependency: the fused path must be the one tested
    raster = decode(two_tone())
    hints = [
        P.Point(20.0, 30.0, (160.0, 40.0, 40.0), 6),
        P.Point(75.0, 30.0, (120.0, 175.0, 235.0), 6),
    ]
    prep = predict(LevinColorizer(), raster, hints, None, Timer())
    out = render(raster, prep, fused)
    L_out = rgb_to_lab(out[..., :3] / 255.0)[..., 0]
    L_in, _ = luminance(raster)
    assert np.abs(L_out - L_in).max() < 1.0
    left, right = out[32, 5, :3].astype(int), out[32, 90, :3].astype(int)
    assert left[0] > left[2] + 20 and right[2] > right[0] + 20


def random_image(fmt: str, w: int, h: int, seed: int = 3) -> P.Image:
    channels, dtype, top = FORMATS[fmt]
    rng = np.random.default_rng(seed)
    if dtype.endswith("f4"):
        data = rng.uniform(-0.1, 1.1, (h, w, channels)).astype(dtype)  # out of range too
    else:
        data = rng.integers(0, int(top) + 1, (h, w, channels)).astype(dtype)
    return P.Image(w, h, fmt, data.tobytes())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_fused_render_matches_the_torch_reference(fmt):
    """The kernel reads lightness, luminance and alpha from the pixel codes of every wire
    format; the torch path decodes them to float planes first."""
    h, w = 90, 130
    raster = decode(random_image(fmt, w, h))
    prep = predict(
        LevinColorizer(), raster, [P.Point(10.0, 10.0, (200.0, 40.0, 40.0), 4)], None, Timer()
    )
    prep.pred.ab[:] = np.random.default_rng(4).normal(0, 50, prep.pred.ab.shape)  # strong chroma
    a, b = render(raster, prep, True), render(raster, prep, False)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    alpha = alpha8(raster)
    want = np.full((h, w), 255, np.uint8) if alpha is None else alpha
    assert np.abs(a[..., 3].astype(int) - want).max() <= (1 if fmt == "rgbaf32" else 0)
    L_out = rgb_to_lab(a[..., :3] / 255.0)[..., 0]
    assert np.abs(L_out - luminance(raster)[0]).max() < 1.0


def test_swatches_and_suggestions_from_a_distribution():
    h, w = 32, 48
    probs = np.zeros((3, h, w), np.float32)
    probs[0, :, :24], probs[1, :, :24] = 0.7, 0.3  # left: sure-ish
    probs[:, :, 24:] = 1 / 3  # right: uncertain
    bins = np.array([[40.0, 30.0], [-30.0, 30.0], [0.0, -40.0]], np.float32)
    L = np.full((h, w), 50.0, np.float32)
    ab = np.zeros((2, h, w), np.float32)
    ab[0, :, :24], ab[1, :, :24] = 40.0, 30.0  # the layer shows bin 0's colour on the left
    pred = Prediction(ab=ab, probs=probs, bins=bins)
    prep = Prepared(plane_lookup(L), L, pred, [Hint(5.0, 5.0, (40.0, 30.0), 1)], 1.0, 1.0)
    (row,) = swatches_at(prep, [(10.0, 10.0)], k=2)
    # The shown colour leads (with the top bin's mass, merged with that bin), then bin 1.
    assert [s.p for s in row] == pytest.approx([1.4 / 1.7, 0.3 / 1.7], abs=1e-5)
    assert row[0].rgb[0] > row[0].rgb[1]  # the reddish bin first
    points = suggest_points(prep, 2)
    assert points and all(p.x >= 24 for p in points[:1])  # the uncertain half first
    assert np.hypot(points[0].x - 5.0, points[0].y - 5.0) > 8


def _uniform_prep(L: np.ndarray, hints: list[Hint]) -> Prepared:
    """Every pixel equally unsure between two opposite colours, grey shown."""
    h, w = L.shape
    probs = np.full((2, h, w), 0.5, np.float32)
    bins = np.array([[30.0, 0.0], [-30.0, 0.0]], np.float32)
    pred = Prediction(ab=np.zeros((2, h, w), np.float32), probs=probs, bins=bins)
    return Prepared(plane_lookup(L), L, pred, hints, 1.0, 1.0)


def test_suggestions_go_where_a_hint_travels_far_and_no_hint_reaches_yet():
    # A small box walled off by a strong lightness edge is as unsure as the open rest, but a
    # hint inside it would stop at the edge: the open area comes first.
    L = np.full((96, 160), 60.0, np.float32)
    L[:40, :40] = 15.0  # where a plain argmax of a uniform score would land: (0, 0)
    (first,) = suggest_points(_uniform_prep(L, []), 1)
    assert not (first.x < 40 and first.y < 40)
    # On a flat picture a hint on the left reaches far across it: the next pick is far right.
    flat = np.full((96, 160), 60.0, np.float32)
    (nxt,) = suggest_points(_uniform_prep(flat, [Hint(20.0, 48.0, (30.0, 0.0), 6)]), 1)
    assert nxt.x > 110
