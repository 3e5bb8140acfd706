"""Suggested colours as the docker shows them: one row per painted blob, like GIMP's palette.

The engine's `swatches` op answers one row of colours per place asked about. The places
are the hint blobs in reading order (top to bottom, then left to right), titled "Hint 1",
"Hint 2", …, or the centre of the selection. Pure Python (no Krita, no Qt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from chromahint_client.hints import Blob
from chromahint_client.protocol import Spot, Swatch

# Rows the docker shows at most; past that, the first ones in reading order (the title
# says so), which keeps one reply and the docker's list small with hundreds of dots.
MAX_ROWS = 32


@dataclass(frozen=True)
class Place:
    """Where colours are asked for: a title for people and a spot in the image sent."""

    title: str
    spot: Spot


@dataclass(frozen=True)
class SwatchRow:
    title: str
    swatches: tuple[Swatch, ...]  # most probable first


def are_swatch_rows(value: object) -> TypeGuard[tuple[SwatchRow, ...]]:
    """Whether `value` is what a swatches job returns (engine_work.swatches)."""
    return isinstance(value, tuple) and all(isinstance(row, SwatchRow) for row in value)


@dataclass(frozen=True)
class SwatchSet:
    """What the docker shows: a heading and the rows under it."""

    heading: str
    rows: tuple[SwatchRow, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(row.swatches for row in self.rows)


def blob_places(blobs: Sequence[Blob], limit: int = MAX_ROWS) -> tuple[list[Place], str]:
    """One place per blob (in reading order, at most `limit`), and the heading for them.

    Blob coordinates are those of the image the request sends.
    """
    ordered = sorted(blobs, key=lambda b: (b.bbox[1], b.bbox[0]))
    places = [Place(f"Hint {i}", Spot(b.x, b.y)) for i, b in enumerate(ordered[:limit], start=1)]
    if len(ordered) > limit:
        heading = f"Hints 1–{limit} of {len(ordered)}, in reading order:"
    elif len(ordered) == 1:
        heading = "For your hint:"
    else:
        heading = f"For each of your {len(ordered)} hints, in reading order:"
    return places, heading


def selection_place(x: float, y: float, width: int, height: int) -> tuple[list[Place], str]:
    """The centre of the selection (image coordinates) and the heading for it; a selection
    partly off the image asks about the nearest image pixel."""
    x, y = min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0)
    return [Place("Selection", Spot(x, y))], f"At ({x:.0f}, {y:.0f})"


def blob_key(blobs: Sequence[Blob]) -> frozenset:
    """What the swatches of a set of blobs depend on: their places and colours."""
    return frozenset((b.bbox, b.rgb) for b in blobs)


def rows_for(places: Sequence[Place], answer: Sequence[Sequence[Swatch]]) -> tuple[SwatchRow, ...]:
    """The engine's rows (one per place, in order) titled by their places."""
    if len(answer) != len(places):
        raise ValueError(f"the engine sent {len(answer)} swatch rows for {len(places)} places")
    return tuple(
        SwatchRow(place.title, tuple(row)) for place, row in zip(places, answer, strict=True)
    )
