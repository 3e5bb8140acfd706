"""Closed areas and line-art regions on drawn shapes: what an artist would bucket-fill."""

from __future__ import annotations

import numpy as np
import pytest

from chromahint.models.closed_areas import closed_areas, stroke_width

pytestmark = pytest.mark.unit


def page(h: int = 256, w: int = 256) -> np.ndarray:
    return np.zeros((h, w), bool)


def box(ink: np.ndarray, x0: int, y0: int, x1: int, y1: int, width: int = 3) -> np.ndarray:
    ink[y0:y1, x0 : x0 + width] = ink[y0:y1, x1 - width : x1] = True
    ink[y0 : y0 + width, x0:x1] = ink[y1 - width : y1, x0:x1] = True
    return ink


def ring(ink: np.ndarray, cx: float, cy: float, r: float, width: float = 3.0) -> np.ndarray:
    y, x = np.mgrid[: ink.shape[0], : ink.shape[1]]
    ink |= np.abs(np.hypot(x - cx, y - cy) - r) < width / 2
    return ink


def count(labels: np.ndarray) -> int:
    return len(np.unique(labels[labels > 0]))


def test_two_closed_rectangles_make_three_regions() -> None:
    ink = box(box(page(), 20, 40, 110, 200), 140, 40, 230, 200)
    labels = closed_areas(ink)
    assert count(labels) == 3
    assert (labels[ink] == 0).all() and (labels[~ink] > 0).all()
    left, right, outside = labels[120, 60], labels[120, 180], labels[5, 5]
    assert len({left, right, outside}) == 3
    assert (labels[45:195, 25:105] == left).all()  # a whole inside, corners included


def test_circle_inside_square_makes_three_regions() -> None:
    ink = ring(box(page(), 30, 30, 226, 226), 128, 128, 60)
    labels = closed_areas(ink)
    assert count(labels) == 3
    assert labels[128, 128] != labels[128, 40] != labels[5, 5]


@pytest.mark.parametrize("width", [1, 3, 6])
def test_a_two_pixel_gap_still_closes_its_area(width: int) -> None:
    ink = box(page(), 40, 40, 200, 200, width)
    ink[100:102, 40 : 40 + width] = False  # a 2-px gap in the left side
    labels = closed_areas(ink)
    assert count(labels) == 2
    assert labels[120, 120] != labels[5, 5]


def test_a_wide_opening_does_not_close() -> None:
    ink = box(page(), 40, 40, 200, 200)
    ink[80:160, 40:43] = False  # an 80-px opening is a door, not a gap
    assert count(closed_areas(ink)) == 1


def test_hatching_inside_an_area_does_not_shatter_it() -> None:
    parallel = box(page(), 30, 30, 226, 226)
    for x in range(50, 210, 6):
        parallel[60:200, x] = True
    assert count(closed_areas(parallel)) == 2
    cross = box(page(), 30, 30, 226, 226)
    for k in range(60, 200, 7):
        cross[60:200, k] = True
        cross[k, 60:200] = True
    assert count(closed_areas(cross)) <= 4  # not one region per cell (~400 cells)


def test_small_walled_cells_stay_their_own_region() -> None:
    ink = box(page(), 30, 30, 226, 226)
    box(ink, 60, 60, 72, 72, 2)  # an 8x8 interior, like a pupil
    labels = closed_areas(ink)
    assert count(labels) == 3 and labels[66, 66] != labels[100, 100]


def test_deterministic_and_edge_cases() -> None:
    ink = ring(box(page(), 30, 30, 226, 226), 128, 128, 60)
    assert np.array_equal(closed_areas(ink), closed_areas(ink.copy()))
    assert count(closed_areas(page())) == 1
    assert count(closed_areas(~page())) == 0
    assert abs(stroke_width(box(page(), 30, 30, 226, 226, 6)) - 6) < 1.5
