"""The one place for how the networks see colour: lightness and ab scales and helpers.

CIELAB lightness L is in [0, 100]; a and b of sRGB colours stay within +-AB_SCALE.
"""

from __future__ import annotations

import torch

L_RANGE = 100.0
AB_SCALE = 110.0  # |a|, |b| of every sRGB colour at any lightness is below this


def lightness_unit(L):
    """L in [0, 100] -> [0, 1] (guides, sketches, the Levin affinities)."""
    return L / L_RANGE


def lightness_centred(L):
    """L -> [-0.5, 0.5]: the decoders' lightness input."""
    return L / L_RANGE - 0.5


def lightness_encoder(L: torch.Tensor) -> torch.Tensor:
    """L -> [-1, 1]: the gray image the ImageNet encoder was adapted to."""
    return L * (2.0 / L_RANGE) - 1.0


def ab_unit(ab):
    """ab -> about [-1, 1]."""
    return ab / AB_SCALE
