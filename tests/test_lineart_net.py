"""Fast checks of the line-art model API (random weights unless the shipped file exists)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from chromahint.models import lineart_net
from chromahint.models.lineart_net import (
    DEFAULT_CONFIG,
    LineartModel,
    LineartNets,
    rasterize,
    snap_to_closed_areas,
)
from chromahint.train.train_lineart import region_hints, sample_hint_counts

pytestmark = pytest.mark.unit

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights" / "lineart_net.safetensors"


def ring_sketch(h: int = 80, w: int = 96) -> np.ndarray:
    """A white page with a black ring: two closed regions and the outside."""
    y, x = np.mgrid[:h, :w]
    r = np.hypot(y - h / 2, x - w / 2)
    return np.where((r > 20) & (r < 24), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> LineartModel:
    torch.manual_seed(0)
    if WEIGHTS.is_file():
        return lineart_net.load(WEIGHTS, "cpu")
    return LineartModel(LineartNets(DEFAULT_CONFIG), "cpu")


def test_regions_shapes_lines_and_order(model: LineartModel) -> None:
    sketch = ring_sketch()
    labels, order = model.regions(sketch, 5)
    assert labels.shape == sketch.shape and labels.dtype == np.int32
    assert (labels[sketch < 0.5] == 0).all()
    assert (labels[sketch >= 0.5] > 0).all()
    present = set(np.unique(labels).tolist()) - {0}
    assert len(order) <= 5 and len(set(order)) == len(order)
    assert set(order) <= present
    assert order == sorted(order)  # channel order is priority order


def test_regions_deterministic(model: LineartModel) -> None:
    sketch = ring_sketch()
    a, oa = model.regions(sketch, model.max_regions)
    b, ob = model.regions(sketch, model.max_regions)
    assert np.array_equal(a, b) and oa == ob


def test_colorize_shape_range_and_determinism(model: LineartModel) -> None:
    sketch = ring_sketch(70, 50)
    pts = [(10.0, 10.0, (255.0, 0.0, 0.0), 3.0)]
    out = model.colorize(sketch, None, {}, pts)
    assert out.shape == (3, 70, 50) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out, model.colorize(sketch, None, {}, pts))


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="needs the trained weights")
def test_region_hint_moves_region_toward_hint(model: LineartModel) -> None:
    sketch = ring_sketch()
    labels, order = model.regions(sketch, model.max_regions)
    rid = order[0]
    sel = labels == rid
    base = model.colorize(sketch, labels, {}, [])[:, sel].mean(1)
    for target in ((255.0, 0.0, 0.0), (0.0, 0.0, 255.0)):
        hinted = model.colorize(sketch, labels, {rid: target}, [])[:, sel].mean(1)
        goal = np.asarray(target) / 255
        assert np.abs(hinted - goal).sum() < np.abs(base - goal).sum()


def test_rasterize_regions_and_points() -> None:
    labels = np.array([[0, 1, 1], [2, 2, 1], [2, 2, 2]], np.int32)
    hint, mask = rasterize(labels, {1: (255.0, 0.0, 0.0)}, [(0.0, 2.0, (0.0, 255.0, 0.0), 1.0)])
    assert mask[0].tolist() == [[0, 1, 1], [0, 0, 1], [1, 0, 0]]
    assert hint[0, 0, 1] == 1.0 and hint[1, 2, 0] == 1.0 and hint[:, 1, 0].sum() == 0


def test_rasterize_point_fills_small_closed_area() -> None:
    labels = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]], np.int32)
    areas = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]], np.int32)
    _, mask = rasterize(labels, {}, [(0.0, 0.0, (9.0, 9.0, 9.0), 1.0)], areas, 0.5)
    assert mask[0].tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]
    _, mask = rasterize(labels, {}, [(0.0, 0.0, (9.0, 9.0, 9.0), 1.0)], areas, 0.2)
    assert mask[0].sum() == 1


def test_snap_gives_each_closed_area_its_majority() -> None:
    labels = np.array([[1, 1, 0, 2, 2], [1, 2, 0, 2, 3], [0, 0, 0, 0, 0]], np.int32)
    snapped = snap_to_closed_areas(labels, 1.0)
    assert snapped.tolist() == [[1, 1, 0, 2, 2], [1, 1, 0, 2, 2], [0, 0, 0, 0, 0]]
    assert np.array_equal(snap_to_closed_areas(labels, 0.1), labels)


def test_training_hints_use_region_means() -> None:
    assign = torch.zeros(1, 3, 2, 2)
    assign[0, 0, 0, :] = 1
    assign[0, 1, 1, :] = 1
    rgb = torch.tensor([[[[0.2, 0.4], [1.0, 1.0]]]]).repeat(1, 3, 1, 1)
    hint, mask = region_hints(assign, rgb, torch.tensor([1]))
    assert torch.allclose(hint[0, 0, 0], torch.tensor([0.3, 0.3]))
    assert mask[0, 0].tolist() == [[1, 1], [0, 0]]
    counts = sample_hint_counts(10000, 20, 0.125, np.random.default_rng(0))
    assert counts.min() >= 0 and counts.max() <= 20 and 5 < counts.mean() < 7
