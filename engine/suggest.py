"""Where a hint would help most on a photo.

None of the four papers offers this for photos. The hand-made score: each pixel's value is
the expected squared ab error of the colour the model shows there, under its own colour
distribution (for a model without one, the distance to the nearest hint), squared, and
less where existing hints already reach; a candidate's score is that value gathered over
the area a hint placed there would reach through the photo model's edge-aware propagation
(propagate.reach_filter along the lightness, with the model's sigmas). Where the photo
model ships a hint-value head (models/hint_value.py, trained on the true gains of hints on
training photos), the head ranks the places instead, reading that score among its inputs.
Points are picked greedily, each one keeping its surroundings (and those of existing hints)
free of further picks and damping the scores of what it will reach. Measured against random
hints in docs/benchmarks.md (evaluate_suggest).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chromahint_client.protocol import Suggestion

from .models import propagate
from .models.base import rasterize_hints
from .models.hint_value import HintValue
from .models.photo_prop import SIGMA_R, SIGMA_S
from .pipeline import Prepared
from .upsample import lab_to_srgb8

EXCLUSION_FRACTION = 0.08  # no two points (or a point and a hint) closer than this
# The expected error is squared before it is gathered: a few badly wrong pixels outweigh
# many slightly unsure ones (measured: +0.3 dB at N = 5 over the plain error, 30 images).
ERROR_POWER = 2.0
STRIDE = 2  # scores on the propagation's own grid


def expected_error(prep: Prepared) -> torch.Tensor:
    """(h, w) expected squared ab error of the shown colour: E|c - ab|^2 over the predicted
    distribution; the distance to the nearest hint for a model without one."""
    pred = prep.pred
    ab = torch.from_numpy(pred.ab)
    _, h, w = ab.shape
    if pred.probs is None or pred.bins is None:
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        dist = torch.full((h, w), float(max(h, w)))
        for hint in prep.hints:
            dist = torch.minimum(dist, torch.hypot(xs - hint.x, ys - hint.y))
        return dist
    p = torch.from_numpy(pred.probs)
    bins = torch.from_numpy(np.asarray(pred.bins, np.float32))
    mean = torch.einsum("qhw,qc->chw", p, bins)
    square = torch.einsum("qhw,q->hw", p, (bins * bins).sum(1))
    return (square - 2 * (ab * mean).sum(0) + (ab * ab).sum(0)).clamp_min(0.0)


@functools.lru_cache(maxsize=1)
def _own_weight() -> float:
    """The filter's response at a unit impulse in a flat area: a hint covers its own pixel."""
    n = 4 * int(SIGMA_S) + 1
    impulse = torch.zeros(1, 1, n, n)
    impulse[..., n // 2, n // 2] = 1.0
    flat = torch.ones(1, 1, n, n)
    return float(propagate.recursive_filter(impulse, flat, flat, SIGMA_S)[..., n // 2, n // 2])


@dataclass
class HandMade:
    """The hand-made score and what it is made of, on the stride-2 grid (1, 1, h2, w2)."""

    dist_x: torch.Tensor  # the propagation's link distances along the lightness
    dist_y: torch.Tensor
    reached: torch.Tensor  # how much of a hint's own weight the hints sent bring (1 at one)
    expected: torch.Tensor  # (h, w) the colour distribution's expected squared error
    gathered: torch.Tensor  # the score itself


def hand_made(prep: Prepared) -> HandMade:
    h, w = prep.L_work.shape
    L = torch.from_numpy(np.ascontiguousarray(prep.L_work, np.float32))[None, None]
    _, mask = rasterize_hints(prep.hints, h, w)
    pool = functools.partial(F.avg_pool2d, kernel_size=STRIDE, ceil_mode=True)
    L2, mask2 = pool(L), pool(torch.from_numpy(mask)[None])
    step_x, step_y = propagate.link_steps(propagate.smooth3(L2) * (SIGMA_S / SIGMA_R))
    dist_x, dist_y = 1.0 + step_x, 1.0 + step_y
    reached = propagate.recursive_filter(mask2, dist_x, dist_y, SIGMA_S) / _own_weight()
    expected = expected_error(prep)
    value = pool(expected[None, None].float() ** ERROR_POWER)
    gathered = propagate.reach_filter(value * torch.exp(-reached), dist_x, dist_y, SIGMA_S)
    return HandMade(dist_x, dist_y, reached, expected, gathered)


def scores(
    prep: Prepared, value_net: HintValue | None = None, made: HandMade | None = None
) -> np.ndarray:
    """(ceil(h/2), ceil(w/2)) candidate scores at stride 2: the hand-made score, or where
    the photo model has a hint-value head (and a colour distribution), the head's ranking
    (as exp, so scores stay positive)."""
    made = made or hand_made(prep)
    probs = prep.pred.probs
    if value_net is None or probs is None or len(probs) != value_net.bins:
        return made.gathered[0, 0].numpy()
    learned = value_net.score(prep.L_work, prep.pred, made.expected, made.reached, made.gathered)
    learned = F.interpolate(learned[None, None], size=made.gathered.shape[-2:], mode="bilinear")
    return torch.exp((learned - learned.max()).clamp_min(-80.0))[0, 0].numpy()


def suggest_points(prep: Prepared, k: int, value_net: HintValue | None = None) -> list[Suggestion]:
    made = hand_made(prep)
    score = scores(prep, value_net, made).copy()
    h2, w2 = score.shape
    _, h, w = prep.pred.ab.shape
    ys, xs = np.mgrid[0:h2, 0:w2]
    radius = EXCLUSION_FRACTION * max(h2, w2)

    def suppress(x2: float, y2: float) -> None:
        score[(xs - x2) ** 2 + (ys - y2) ** 2 < radius * radius] = -np.inf

    for hint in prep.hints:
        suppress(hint.x / STRIDE - 0.5, hint.y / STRIDE - 0.5)
    out = []
    for _ in range(k):
        i = int(np.argmax(score))
        if not np.isfinite(score.flat[i]):
            break
        y2, x2 = divmod(i, w2)
        value = float(score[y2, x2])
        suppress(x2, y2)
        if len(out) + 1 < k:
            # The scores knew only the hints sent: what this pick will reach counts less for
            # the next, as an existing hint's reach does, so one object gets one point.
            impulse = torch.zeros(1, 1, h2, w2)
            impulse[..., y2, x2] = 1.0
            reach = propagate.recursive_filter(impulse, made.dist_x, made.dist_y, SIGMA_S)
            reach = reach / _own_weight()
            keep = np.isfinite(score)
            score[keep] *= np.exp(-reach[0, 0].numpy()[keep])
        wx, wy = min(int((x2 + 0.5) * STRIDE), w - 1), min(int((y2 + 0.5) * STRIDE), h - 1)
        x, y = (wx + 0.5) / prep.sx, (wy + 0.5) / prep.sy
        lum = prep.lightness_at(x, y)
        rgb = lab_to_srgb8(np.array([lum, *prep.pred.ab[:, wy, wx]], np.float32))
        out.append(
            Suggestion(
                round(x, 2), round(y, 2), (int(rgb[0]), int(rgb[1]), int(rgb[2])), round(value, 5)
            )
        )
    return out
