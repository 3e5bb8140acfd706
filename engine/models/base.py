"""What every colorizer takes and returns; the engine depends on this alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from chromahint_client.protocol import GlobalHints

__all__ = [
    "Colorizer",
    "DenseHints",
    "GlobalHints",
    "Hint",
    "RGB",
    "LineartModel",
    "LinePoint",
    "Prediction",
    "hint_square",
    "rasterize_hints",
]


@dataclass(frozen=True)
class Hint:
    """A user hint in working-resolution pixels: the square of side `size` centred on (x, y)."""

    x: float
    y: float
    ab: tuple[float, float]
    size: float = 1.0


def hint_square(x: float, y: float, size: float, height: int, width: int) -> tuple[slice, slice]:
    """The pixels (rows, columns) of the square of side round(size) >= 1 centred on (x, y),
    clipped to the image. Its first pixel is floor(c - side/2 + 0.5), so integer pixel-index
    and pixel-centre (i + 0.5) coordinates land on the same pixels. Every model uses this."""
    side = max(1, round(size))
    x0 = math.floor(x - side / 2 + 0.5)
    y0 = math.floor(y - side / 2 + 0.5)
    xs = slice(min(max(x0, 0), width), max(min(x0 + side, width), 0))
    ys = slice(min(max(y0, 0), height), max(min(y0 + side, height), 0))
    return ys, xs


@dataclass(frozen=True)
class DenseHints:
    """Hints at every working pixel with a weight in [0, 1] (0 = none)."""

    ab: np.ndarray  # (2, H, W)
    weight: np.ndarray  # (1, H, W)


def rasterize_hints(
    hints: Sequence[Hint], height: int, width: int, dense: DenseHints | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Hints -> (ab (2, H, W), mask (1, H, W)); later hints win where squares overlap, and
    point hints win over dense ones."""
    if dense is None:
        ab = np.zeros((2, height, width), np.float32)
        mask = np.zeros((1, height, width), np.float32)
    else:
        mask = np.array(dense.weight, np.float32)
        # Zero where nothing is hinted, as for points: the networks read hint ab unmasked.
        ab = np.where(mask > 0, dense.ab, 0.0).astype(np.float32)
    for hint in hints:
        ys, xs = hint_square(hint.x, hint.y, hint.size, height, width)
        ab[0, ys, xs], ab[1, ys, xs] = hint.ab
        mask[0, ys, xs] = 1.0
    return ab, mask


@dataclass
class Prediction:
    """ab chroma at working resolution, and optionally the per-pixel colour distribution."""

    ab: np.ndarray  # (2, H, W) float32, CIELAB a and b
    probs: np.ndarray | None = None  # (Q, H, W) float32, sums to 1 over Q
    bins: np.ndarray | None = None  # (Q, 2) float32, ab centre of each bin
    timing_ms: dict[str, float] = field(default_factory=dict)


class Colorizer(Protocol):
    name: str
    description: str
    learned: bool
    working_size: int  # the engine resizes the long side to this before predict()

    def predict(
        self,
        L: np.ndarray,
        hints: Sequence[Hint],
        global_hints: GlobalHints | None = None,
        *,
        with_probs: bool = True,
        encoded: object | None = None,
        dense: DenseHints | None = None,
    ) -> Prediction:
        """L: (H, W) float32 CIELAB lightness in [0, 100] at working resolution.

        `with_probs=False` lets a model skip the colour distribution when no one needs it.
        `encoded`: what `encode(L)` returned for this same L, so only the hint-dependent
        part runs (the engine keeps it with the cached image).
        `dense`: weighted hints everywhere (a reference's matched colours); points win.
        """
        ...

    def encode(self, L: np.ndarray) -> object | None:
        """The image-only part of the model for L (None: the model has none to keep)."""
        ...


RGB = tuple[float, float, float]  # 0-255
# A line-art point hint at working size: (x, y, rgb, size), the square of side `size`.
LinePoint = tuple[float, float, RGB, float]


class LineartModel(Protocol):
    """Line art: priority regions and flat colours under the lines (lineart_net.py)."""

    name: str
    description: str
    learned: bool
    working_size: int
    max_regions: int

    def colorize(
        self, sketch: np.ndarray, labels: np.ndarray, fills: dict[int, RGB],
        points: list[LinePoint],
    ) -> np.ndarray:  # fmt: skip
        """Flat colours (3, H, W) in [0, 1] under the lines, from region and point hints."""
        ...
