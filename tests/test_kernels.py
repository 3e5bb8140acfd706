"""The compiled working-size lightness and guided-filter maps against their references."""

from __future__ import annotations

import numpy as np
import pytest

from chromahint import kernels
from chromahint.imaging import FORMATS, decode, lightness, resize_plane
from chromahint.shrink import bilinear_taps, working_lightness
from chromahint.upsample import guide_maps
from chromahint_client import protocol as P

pytestmark = pytest.mark.unit


def image(fmt: str, w: int, h: int, seed: int = 5) -> P.Image:
    channels, dtype, top = FORMATS[fmt]
    rng = np.random.default_rng(seed)
    # A smooth picture with noise on it, as photos are, and out-of-range floats.
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.4 * np.sin(xx / 9.0)[..., None] * np.cos(yy / 13.0)[..., None]
    unit = base + rng.normal(0, 0.05, (h, w, channels))
    if dtype.endswith("f4"):
        return P.Image(w, h, fmt, (unit * 1.2 - 0.1).astype(dtype).tobytes())
    codes = np.clip(np.round(unit * top), 0, top).astype(dtype)
    return P.Image(w, h, fmt, codes.tobytes())


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    "size", [(300, 200, 96, 64), (37, 23, 96, 60), (640, 480, 640, 480), (1200, 90, 256, 19)]
)
def test_working_lightness_is_the_resized_lightness(fmt, size):
    """Shrinking, enlarging and the same size, for every wire format; colour lightness
    comes from a luminance table, interpolated (within 0.0005 L of the cube root)."""
    assert kernels.available()
    w, h, ww, wh = size
    raster = decode(image(fmt, w, h))
    want = resize_plane(lightness(raster), ww, wh)
    got = working_lightness(raster, ww, wh)
    assert got.shape == (wh, ww) and got.dtype == np.float32
    tolerance = 1e-4 if raster.channels == 1 else 2e-3  # floats: 16-bit codes first
    assert np.abs(got - want).max() < tolerance


def test_bilinear_taps_are_normalised_triangles():
    first, count, weights = bilinear_taps(10, 4)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert (first >= 0).all() and (first + count <= 10).all()
    same = bilinear_taps(5, 5)
    assert (same[0] == np.arange(5)).all() and np.allclose(same[2][:, 0], 1.0)


@pytest.mark.parametrize("shape", [(64, 80), (3, 7), (1, 1), (2, 40), (171, 256)])
def test_compiled_guide_maps_match_numpy(shape):
    rng = np.random.default_rng(1)
    L = rng.uniform(0, 100, shape).astype(np.float32)
    ab = rng.normal(0, 40, (2, *shape)).astype(np.float32)
    want, got = guide_maps(L, ab), guide_maps(L, ab, compiled=True)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5
