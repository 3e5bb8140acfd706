"""Fast checks of the line-art model API (random weights unless the shipped file exists)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from chromahint.lineart import colorize_into, edge_labels, hint_fills, region_labels
from chromahint.models import lineart_net
from chromahint.models.lineart_net import (
    DEFAULT_CONFIG,
    LineartModel,
    LineartNets,
    rasterize,
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


def test_regions_follow_the_lines_in_priority_order(model: LineartModel) -> None:
    sketch = ring_sketch()
    labels = region_labels(sketch)
    assert labels.shape == sketch.shape and labels.dtype == np.int32
    assert (labels[sketch < 0.5] == 0).all()
    assert (labels[sketch >= 0.5] > 0).all()
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2]  # inside, outside
    assert labels[40, 48] != labels[2, 2]
    assert np.array_equal(labels, region_labels(sketch))


def test_regions_on_a_big_canvas_keep_full_size_edges(model: LineartModel) -> None:
    """Found on a coarser grid above SEG_MAX_SIDE, but every paper pixel, even one beside a
    1-px line, carries the region of its own side."""
    h, w = 1100, 1500
    sketch = np.ones((h, w), np.float32)
    sketch[100:1000, 300] = sketch[100:1000, 1200] = 0.0
    sketch[100, 300:1201] = sketch[1000, 300:1201] = 0.0
    sketch[100:1000, 750] = 0.0
    labels = region_labels(sketch)
    assert len(np.unique(labels)) == 4  # lines, left box, right box, outside
    left, right, out = labels[500, 751 - 10], labels[500, 751], labels[500, 299]
    assert len({left, right, out}) == 3 and 0 not in (left, right, out)
    assert (labels[500, 301:750] == labels[500, 301]).all()
    assert (labels[sketch < 0.5] == 0).all()


def test_hinted_region_is_exactly_its_colour(model: LineartModel) -> None:
    sketch = ring_sketch(160, 200)
    labels = region_labels(sketch)
    inside = int(labels[80, 100])
    out = np.empty(sketch.shape + (3,), np.uint8)
    colorize_into(out, model, sketch, sketch, labels, {inside: (30.0, 140.0, 220.0)}, [])
    assert (out[labels == inside] == (30, 140, 220)).all()
    assert not (out[labels != inside] == (30, 140, 220)).all(-1).any()
    # A point in the small inside fills it the same way; on the page it stays a square.
    point = colorize_into(out, model, sketch, sketch, labels, {}, [(100, 80, (9.0, 9, 9), 1)])
    assert point is None and (out[labels == inside] == 9).all()
    fills, squares = hint_fills(labels, {}, [(2.0, 2.0, (9.0, 9.0, 9.0), 1.0)])
    assert fills == {} and len(squares) == 1


def test_a_lines_soft_rim_takes_the_fill_beside_it(model: LineartModel) -> None:
    """An anti-aliased rim pixel (sketch 0.3) beside a hinted region shows that region's
    colour darkened (the line art's own look), while the line's core stays black."""
    sketch = ring_sketch(160, 200)
    y, x = np.mgrid[:160, :200]
    r = np.hypot(y - 80, x - 100)
    sketch[(r > 19) & (r <= 20)] = 0.3  # the ring's inner rim, soft
    labels = region_labels(sketch)
    inside = int(labels[80, 100])
    rim = (r > 19) & (r <= 20) & (labels == 0)
    assert rim.any()
    assert (edge_labels(labels)[rim] == inside).all()
    out = np.empty(sketch.shape + (3,), np.uint8)
    colorize_into(out, model, sketch, sketch, labels, {inside: (30.0, 140.0, 220.0)}, [])
    assert (np.abs(out[rim].astype(int) - (9, 42, 66)) <= 1).all()
    assert (out[np.abs(r - 22) < 0.5] == 0).all()


def test_colorize_shape_range_and_determinism(model: LineartModel) -> None:
    sketch = ring_sketch(70, 50)
    labels = region_labels(sketch)
    pts = [(10.0, 10.0, (255.0, 0.0, 0.0), 3.0)]
    out = model.colorize(sketch, labels, {}, pts)
    assert out.shape == (3, 70, 50) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out, model.colorize(sketch, labels, {}, pts))


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="needs the trained weights")
def test_region_hint_moves_the_rest_toward_plausible_colours(model: LineartModel) -> None:
    sketch = ring_sketch()
    labels = region_labels(sketch)
    sel = labels == 1
    base = model.colorize(sketch, labels, {}, [])[:, sel].mean(1)
    model.exact_hints = False
    try:
        for target in ((255.0, 0.0, 0.0), (0.0, 0.0, 255.0)):
            hinted = model.colorize(sketch, labels, {1: target}, [])[:, sel].mean(1)
            goal = np.asarray(target) / 255
            assert np.abs(hinted - goal).sum() < np.abs(base - goal).sum()
    finally:
        model.exact_hints = True


def test_rasterize_regions_and_points() -> None:
    labels = np.array([[0, 1, 1], [2, 2, 1], [2, 2, 2]], np.int32)
    hint, mask = rasterize(labels, {1: (255.0, 0.0, 0.0)}, [(0.0, 2.0, (0.0, 255.0, 0.0), 1.0)])
    assert mask[0].tolist() == [[0, 1, 1], [0, 0, 1], [1, 0, 0]]
    assert hint[0, 0, 1] == 1.0 and hint[1, 2, 0] == 1.0 and hint[:, 1, 0].sum() == 0


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


def test_an_unhinted_region_shows_its_guess_flat_unless_the_guess_changes_colour():
    from chromahint.lineart import _region_colours

    labels = np.array([[1, 1, 2, 2]] * 4, np.int32)
    rgb = np.zeros((3, 4, 4), np.float32)
    rgb[0, :, :2] = [[0.50, 0.52]] * 4  # region 1: one colour, a little uneven
    rgb[1, :, 2:] = [[0.0, 0.9]] * 4  # region 2: the guess changes colour inside it
    lut, flat = _region_colours(rgb, labels, np.ones((4, 4), np.float32), 3)
    assert flat.tolist() == [False, True, False]
    assert np.allclose(lut[1], [0.51 * 255, 0, 0], atol=0.01)
    # Next to lines nothing counts: a region seen only there keeps the smooth guess.
    _, flat = _region_colours(rgb, labels, np.full((4, 4), 0.5, np.float32), 3)
    assert not flat.any()
