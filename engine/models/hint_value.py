"""hint-value: how much a hint at each place would improve the photo model's colours, learned
(for `suggest_points`).

The hand-made score (`suggest.py`: the colour distribution's expected error, gathered as far
as a hint travels along the lightness) misses what the network does with a hint and where
one colour cannot fix what it reaches. This small head reads what the model produced for an
image and its hints (the bin distribution, the shown ab, lightness, the expected error,
where hints already reach, the hand-made score) and ranks places by the gain a hint there
really brings. It is trained on training photos: at 16 places per photo the true gain (the
drop of the squared ab error over the image when that place gets its ground-truth colour)
is measured with the photo model itself, and the head learns their order
(`chromahint.train.train_hint_value`). Weights: `hint_value.safetensors`, beside the photo
model's, loaded with it and used only for that model's bins.
"""

from __future__ import annotations

import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Prediction
from .normalize import AB_SCALE, ab_unit, lightness_centred

NAME = "hint-value"
WEIGHTS = "hint_value.safetensors"
STRIDE = 4
# ab (2), lightness, expected error, hints' reach, the hand-made score
EXTRA_CHANNELS = 6
COORDS = 2  # the net adds where each place is (x, y in [-1, 1]): photos centre their subject


def pool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, STRIDE, ceil_mode=True)


def head_inputs(
    L: np.ndarray, pred: Prediction, expected: Tensor, reached: Tensor, gathered: Tensor
) -> Tensor:
    """(1, Q + 6, ceil(H/4), ceil(W/4)) float32: the inputs at stride 4, from the working
    lightness (H, W), the prediction (with probs), its expected squared error (H, W), the
    hints' reach and the hand-made score (both on any grid, resized here)."""
    assert pred.probs is not None
    probs = pool(torch.from_numpy(pred.probs)[None])
    size = probs.shape[-2:]
    ab = pool(torch.from_numpy(pred.ab)[None])
    lum = pool(torch.from_numpy(np.ascontiguousarray(L, np.float32))[None, None])
    err = pool(expected[None, None].float()).sqrt() / AB_SCALE

    def resized(x: Tensor) -> Tensor:
        return F.interpolate(x.float().reshape(1, 1, *x.shape[-2:]), size=size, mode="area")

    score = resized(gathered)
    score = (score / score.mean().clamp_min(1e-12) + 1e-3).log() / 4.0
    reach = (1.0 + resized(reached)).log()
    return torch.cat([probs, ab_unit(ab), lightness_centred(lum), err, reach, score], dim=1)


class HintValueNet(nn.Module):
    """inputs (B, Q + 6, h, w) -> a score per place (B, 1, h, w): higher is a better hint,
    comparable within one image."""

    def __init__(self, bins: int, width: int = 32) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(bins + EXTRA_CHANNELS + COORDS, width, 1)
        # The image's mean features beside each place: whether a place is worth a hint
        # depends on the rest of the picture.
        self.context = nn.Conv2d(2 * width, width, 1)
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=8, dilation=8),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(b, 1, h, w)
        x = F.relu(self.squeeze(torch.cat([x, xs.to(x), ys.to(x)], dim=1)))
        g = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        x = F.relu(self.context(torch.cat([x, g], dim=1)))
        return self.out(self.body(x))


class HintValue:
    """The loaded head: `score(...)` (head_inputs' arguments) -> (ceil(H/4), ceil(W/4))."""

    name = NAME

    def __init__(self, net: HintValueNet) -> None:
        self.net = net.eval()
        self.bins = net.squeeze.in_channels - EXTRA_CHANNELS - COORDS

    @torch.inference_mode()
    def score(
        self, L: np.ndarray, pred: Prediction, expected: Tensor, reached: Tensor, gathered: Tensor
    ) -> Tensor:
        return self.net(head_inputs(L, pred, expected, reached, gathered))[0, 0]


def load(path: pathlib.Path) -> HintValue:
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(path)).items()}
    width, channels = state["squeeze.weight"].shape[:2]
    net = HintValueNet(channels - EXTRA_CHANNELS - COORDS, width)
    net.load_state_dict(state)
    return HintValue(net)
