"""Where a hint would help most on a photo: the model's uncertainty, by area.

None of the four papers offers this for photos. The score is the entropy of the predicted
colour distribution (or, for a model without one, the distance to the nearest hint),
averaged over a neighbourhood so that large uncertain regions beat single noisy pixels;
points are picked greedily and each pick suppresses its surroundings and those of the
existing hints.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from chromahint_client.protocol import Suggestion

from .pipeline import Prepared
from .upsample import lab_to_srgb8

AREA_FRACTION = 0.04  # smoothing radius, as a fraction of the working long side
EXCLUSION_FRACTION = 0.08  # no two points (or a point and a hint) closer than this


def uncertainty(prep: Prepared) -> np.ndarray:
    """(h, w) score at working resolution, higher = a hint there would say more."""
    pred = prep.pred
    _, h, w = pred.ab.shape
    if pred.probs is not None:
        p = torch.from_numpy(pred.probs).clamp_min(1e-8)
        return (-(p * p.log()).sum(0)).numpy()
    ys, xs = np.mgrid[0:h, 0:w]
    dist = np.full((h, w), float(max(h, w)), np.float32)
    for hint in prep.hints:
        dist = np.minimum(dist, np.hypot(xs - hint.x, ys - hint.y))
    return dist


def suggest_points(prep: Prepared, k: int) -> list[Suggestion]:
    score = torch.from_numpy(np.ascontiguousarray(uncertainty(prep), np.float32))[None, None]
    _, _, h, w = score.shape
    r = max(1, round(AREA_FRACTION * max(h, w)))
    smooth = F.avg_pool2d(score, 2 * r + 1, 1, r, count_include_pad=False)[0, 0].numpy().copy()
    ys, xs = np.mgrid[0:h, 0:w]
    radius = EXCLUSION_FRACTION * max(h, w)

    def suppress(x: float, y: float) -> None:
        smooth[(xs - x) ** 2 + (ys - y) ** 2 < radius * radius] = -np.inf

    for hint in prep.hints:
        suppress(hint.x, hint.y)
    out = []
    for _ in range(k):
        i = int(np.argmax(smooth))
        if not np.isfinite(smooth.flat[i]):
            break
        wy, wx = divmod(i, w)
        value = float(smooth[wy, wx])
        suppress(wx, wy)
        x, y = (wx + 0.5) / prep.sx, (wy + 0.5) / prep.sy
        lum = float(
            prep.L_full[
                min(int(y), prep.L_full.shape[0] - 1), min(int(x), prep.L_full.shape[1] - 1)
            ]
        )
        rgb = lab_to_srgb8(np.array([lum, *prep.pred.ab[:, wy, wx]], np.float32))
        out.append(
            Suggestion(
                round(x, 2), round(y, 2), (int(rgb[0]), int(rgb[1]), int(rgb[2])), round(value, 5)
            )
        )
    return out
