"""Edge-aware propagation (engine/models/propagate.py): the parallel scan is the recurrence,
and a hint spreads across its flat region but not over a lightness edge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chromahint.models import propagate

pytestmark = pytest.mark.unit


def test_scan_equals_the_sequential_recurrence():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 37, generator=g)
    a = torch.rand(2, 1, 5, 37, generator=g).expand(2, 3, 5, 37)
    want = torch.empty_like(x)
    prev = torch.zeros_like(x[..., 0])
    for n in range(x.shape[-1]):
        an = a[..., n] if n else torch.zeros_like(a[..., 0])
        prev = an * prev + (1 - an) * x[..., n]
        want[..., n] = prev
    torch.testing.assert_close(propagate._scan(x, a), want, rtol=1e-5, atol=1e-6)


def two_regions(h: int = 64, w: int = 96) -> torch.Tensor:
    L = torch.full((1, 1, h, w), 70.0)
    L[..., : w // 2] = 30.0
    return L


def test_one_hint_fills_its_region_and_stops_at_the_edge():
    L = two_regions()
    ab = torch.zeros(1, 2, 64, 96)
    mask = torch.zeros(1, 1, 64, 96)
    ab[:, 0, 30:33, 10:13], ab[:, 1, 30:33, 10:13] = 40.0, -20.0
    mask[..., 30:33, 10:13] = 1.0
    dist_x, dist_y = propagate.edge_distances(L * 4.0)
    num, den = propagate.propagate(ab * mask, mask, dist_x, dist_y, sigma_s=32.0)
    fill = num / den.clamp_min(1e-30)
    # The whole left region takes the hint's colour, however far from the hint.
    left = fill[0, :, :, :48]
    assert torch.allclose(left, torch.tensor([40.0, -20.0])[:, None, None], atol=0.5)
    # Across the edge the hint's weight collapses by three orders of magnitude and more.
    assert den[0, 0, :, 60:].max() < 1e-3 * den[0, 0, :, :40].min()


def test_texture_inside_a_region_does_not_stop_the_hint():
    rng = np.random.default_rng(0)
    L = two_regions()
    L[..., :48] += torch.from_numpy(rng.normal(0, 1.5, (64, 48)).astype(np.float32))
    L[..., :48] += torch.linspace(0, 6, 64)[:, None]  # a soft gradient too
    mask = torch.zeros(1, 1, 64, 96)
    mask[..., 30:33, 10:13] = 1.0
    dist_x, dist_y = propagate.edge_distances(propagate.smooth3(L) * (32.0 / 16.0))
    _, den = propagate.propagate(mask, mask, dist_x, dist_y, sigma_s=32.0)
    # The far corner of the textured region still hears the hint far louder than the
    # near side of the other region.
    assert den[0, 0, 60:, 40:46].min() > 30 * den[0, 0, :, 52:].max()
