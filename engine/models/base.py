"""What every colorizer takes and returns; the engine depends on this alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Hint:
    """A user hint in working-resolution pixels: the square of side `size` centred on (x, y)."""

    x: float
    y: float
    ab: tuple[float, float]
    size: float = 1.0


@dataclass(frozen=True)
class Point:
    """A hint as the protocol gives it, in image pixels: the square of side `size` at (x, y)."""

    x: float
    y: float
    rgb: tuple[float, float, float]
    size: float = 1.0


@dataclass(frozen=True)
class GlobalHints:
    """Zhang et al.'s global hints: a target colour distribution and/or a saturation."""

    palette: tuple[tuple[float, float, float, float], ...] = ()  # (r, g, b 0-255, weight)
    saturation: float | None = None

    @property
    def empty(self) -> bool:
        return not self.palette and self.saturation is None


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
    ) -> Prediction:
        """L: (H, W) float32 CIELAB lightness in [0, 100] at working resolution.

        `with_probs=False` lets a model skip the colour distribution when no one needs it.
        """
        ...
