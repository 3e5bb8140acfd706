"""Push-pull (pyramid normalized convolution) fill of sparse ab hints.

A cheap dense first guess for the network to refine: every pixel gets the hint colours
averaged over a neighbourhood that widens until it holds a hint. Pure torch, so it runs
batched on the device inside the network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# A level is trusted outright once its pooled mask reaches 1/GAIN; a single-pixel hint
# thus dominates the two finest levels and fades into coarser neighbours beyond.
GAIN = 4.0


def push_pull(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ab (B, 2, H, W) valid where mask (B, 1, H, W) is 1 -> dense (B, 2, H, W); 0 without hints."""
    values, weights = [ab * mask], [mask]
    while min(weights[-1].shape[-2:]) > 1:
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    estimate = values[-1] / weights[-1].clamp_min(1e-8)
    for vw, w in zip(reversed(values[:-1]), reversed(weights[:-1]), strict=True):
        coarse = F.interpolate(estimate, size=w.shape[-2:], mode="bilinear", align_corners=False)
        alpha = (w * GAIN).clamp(max=1.0)
        estimate = alpha * vw / w.clamp_min(1e-8) + (1.0 - alpha) * coarse
    return estimate
