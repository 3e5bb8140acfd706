"""Where to ask for swatches and how the engine's answers become palette entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Place:
    label: str  # "Hint 1", "Selection"
    x: float  # in the source layer's pixels
    y: float


@dataclass(frozen=True)
class Entry:
    name: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def places(
    blob_centers: Sequence[tuple[float, float]],
    selection_center: tuple[float, float] | None,
    width: int,
    height: int,
) -> list[Place]:
    """One place per hint blob, in the order given (hints.extract's reading order), then the
    selection's centre; all inside the layer."""
    out = [Place(f"Hint {i}", x, y) for i, (x, y) in enumerate(blob_centers, start=1)]
    if selection_center is not None:
        x, y = selection_center
        # A selection partly off the layer still asks about the nearest layer pixel.
        x, y = min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0)
        out.append(Place("Selection", x, y))
    return [p for p in out if 0 <= p.x < width and 0 <= p.y < height]


def entries(where: Sequence[Place], swatches: Sequence[Sequence[Any]]) -> list[Entry]:
    """Palette entries from a SwatchesReply's rows (protocol.Swatch: `rgb`, `p`): one row
    per place, most probable colour first."""
    if len(swatches) != len(where):
        raise ValueError(f"the engine sent {len(swatches)} swatch rows for {len(where)} places")
    out = []
    for place, row in zip(where, swatches, strict=True):
        for swatch in row:
            r, g, b = swatch.rgb
            out.append(Entry(f"{place.label} · {swatch.p:.0%}", (int(r), int(g), int(b))))
    return out
