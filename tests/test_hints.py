"""Hint extraction from painted layers (pure Python, as the plug-ins run it)."""

from __future__ import annotations

import numpy as np
import pytest

from chromahint_client.hints import extract, to_8bit

pytestmark = pytest.mark.unit


def layer(w: int, h: int) -> np.ndarray:
    return np.zeros((h, w, 4), np.uint8)


def test_blob_colour_is_alpha_weighted_not_averaged_with_transparent_black():
    px = layer(40, 30)
    px[10:20, 10:20] = (200, 40, 40, 255)
    px[9, 10:20] = (200, 40, 40, 60)  # anti-aliased rim, same colour
    px[20, 10:20] = (200, 40, 40, 30)
    h = extract(px.tobytes(), 40, 30, cell=100)
    assert len(h.blobs) == 1 and len(h.points) == 1
    assert h.blobs[0].rgb == (200, 40, 40)
    assert h.points[0].rgb == (200, 40, 40)
    b = h.blobs[0]
    assert b.bbox == (10, 9, 20, 21)
    assert 14 < b.x < 16 and 14 < b.y < 16


def test_strokes_become_points_per_cell_and_blobs_split():
    px = layer(64, 64)
    px[5:8, 5:60] = (10, 200, 10, 255)  # a stroke
    px[40:50, 40:50] = (10, 10, 200, 255)  # a dot
    h = extract(px.tobytes(), 64, 64, cell=8)
    assert len(h.blobs) == 2
    assert {b.rgb for b in h.blobs} == {(10, 200, 10), (10, 10, 200)}
    stroke_points = [p for p in h.points if p.rgb == (10, 200, 10)]
    assert len(stroke_points) >= 7  # the stroke spans 7-8 cells
    assert all(p.size == 8 for p in h.points)
    assert all(5 <= p.y <= 8 for p in stroke_points)


def test_two_colours_touching_give_their_own_points():
    px = layer(32, 8)
    px[:, :16] = (255, 0, 0, 255)
    px[:, 16:] = (0, 0, 255, 255)
    h = extract(px.tobytes(), 32, 8, cell=8)
    assert len(h.blobs) == 1  # one connected blob...
    assert sorted(tuple(p.rgb) for p in h.points) == [(0, 0, 255)] * 2 + [(255, 0, 0)] * 2


def test_bgra_order_offsets_and_clipping():
    px = layer(20, 20)
    px[2:6, 2:6] = (30, 60, 220, 255)  # B, G, R, A for a red-ish colour
    px[15:19, 15:19] = (30, 60, 220, 255)
    h = extract(px.tobytes(), 20, 20, order="BGRA", offset=(90, 40), image_size=(100, 100), cell=50)
    assert len(h.points) == 1  # the second blob lies right of the image (x >= 100)
    p = h.points[0]
    assert p.rgb == (220, 60, 30)
    assert 93 < p.x < 95 and 43 < p.y < 45


def test_sixteen_bit_samples():
    px = np.zeros((4, 4, 4), "<u2")
    px[1:3, 1:3] = (51400, 10280, 2570, 65535)
    h = extract(to_8bit(px.tobytes()), 4, 4, cell=4)
    assert h.points[0].rgb == (200, 40, 10)


def test_faint_dust_is_ignored_and_cells_grow_past_max_points():
    px = layer(50, 50)
    px[0, 0] = (255, 255, 255, 3)
    assert extract(px.tobytes(), 50, 50).points == []
    px[:, :] = (120, 130, 140, 255)
    h = extract(px.tobytes(), 50, 50, cell=1, max_points=100)
    assert len(h.points) <= 100 and h.cell >= 5


def test_wrong_sizes_are_refused():
    with pytest.raises(ValueError):
        extract(b"\0" * 10, 2, 2)
    with pytest.raises(ValueError):
        extract(b"\0" * 16, 2, 2, order="ARGB")
