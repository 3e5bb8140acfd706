"""The hint-value head: its inputs, its weights file, and suggestions following its ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from chromahint import suggest
from chromahint.models import hint_value
from chromahint.models.base import Hint, Prediction
from chromahint.pipeline import Prepared, plane_lookup

pytestmark = pytest.mark.unit


def _prep(h: int = 40, w: int = 56, hints: tuple[Hint, ...] = ()) -> Prepared:
    rng = np.random.default_rng(3)
    probs = rng.random((3, h, w)).astype(np.float32)
    probs /= probs.sum(0, keepdims=True)
    bins = np.array([[30.0, 0.0], [-30.0, 0.0], [0.0, 40.0]], np.float32)
    pred = Prediction(ab=np.zeros((2, h, w), np.float32), probs=probs, bins=bins)
    L = np.full((h, w), 55.0, np.float32)
    return Prepared(plane_lookup(L), L, pred, list(hints), 1.0, 1.0)


def test_inputs_are_at_stride_4_with_every_channel():
    prep = _prep(hints=(Hint(10.0, 10.0, (20.0, 5.0), 6),))
    made = suggest.hand_made(prep)
    x = hint_value.head_inputs(prep.L_work, prep.pred, made.expected, made.reached, made.gathered)
    assert x.shape == (1, 3 + hint_value.EXTRA_CHANNELS, 10, 14)
    assert torch.isfinite(x).all()
    # The hints' reach channel is highest near the hint, the hand-made score lowest there.
    reach, score = x[0, -2], x[0, -1]
    assert reach[2, 2] > reach[8, 12] and score[2, 2] < score[8, 12]


def test_weights_round_trip_through_safetensors(tmp_path):
    net = hint_value.HintValueNet(3, width=8)
    path = tmp_path / hint_value.WEIGHTS
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded = hint_value.load(path)
    assert loaded.bins == 3
    prep = _prep()
    made = suggest.hand_made(prep)
    score = loaded.score(prep.L_work, prep.pred, made.expected, made.reached, made.gathered)
    assert score.shape == (10, 14) and torch.isfinite(score).all()
    with torch.no_grad():
        want = net(
            hint_value.head_inputs(
                prep.L_work, prep.pred, made.expected, made.reached, made.gathered
            )
        )[0, 0]
    assert torch.allclose(score, want, atol=1e-2)  # fp16 weights


class _Peaked(hint_value.HintValue):
    """A head that ranks one place far above the rest."""

    def __init__(self, x4: int, y4: int) -> None:
        super().__init__(hint_value.HintValueNet(3, width=4))
        self.x4, self.y4 = x4, y4

    def score(self, L, pred, expected, reached, gathered):
        h, w = L.shape
        out = torch.zeros((-(-h // 4), -(-w // 4)))
        out[self.y4, self.x4] = 10.0
        return out


def test_suggestions_follow_the_learned_map_where_there_is_one():
    prep = _prep(96, 160)
    (first,) = suggest.suggest_points(prep, 1, _Peaked(20, 12))
    assert np.hypot(first.x - 82, first.y - 50) < 4
    # A head for another bin count is not used: the distribution's own map decides.
    other = _Peaked(20, 12)
    other.bins = 5
    (plain,) = suggest.suggest_points(prep, 1, other)
    (own,) = suggest.suggest_points(prep, 1)
    assert (plain.x, plain.y) == (own.x, own.y) != (first.x, first.y)


def test_the_head_loads_beside_the_photo_model_and_a_bad_file_is_skipped(tmp_path):
    import shutil
    from pathlib import Path

    from chromahint.models import photo_prop

    shipped = Path(__file__).resolve().parents[1] / "weights"
    weights = tmp_path / "photo_net_v2.safetensors"
    shutil.copy(shipped / "photo_net_v2.safetensors", weights)
    assert photo_prop.load(weights, "cpu").hint_value is None  # none beside it
    (tmp_path / hint_value.WEIGHTS).write_bytes(b"not weights")
    assert photo_prop.load(weights, "cpu").hint_value is None  # unreadable: skipped
    shutil.copy(shipped / hint_value.WEIGHTS, tmp_path / hint_value.WEIGHTS)
    head = photo_prop.load(weights, "cpu").hint_value
    assert head is not None and head.bins == 258


class _Bump(_Peaked):
    """A head that ranks places by their distance from one place, gently."""

    def score(self, L, pred, expected, reached, gathered):
        h, w = L.shape
        ys, xs = torch.meshgrid(torch.arange(-(-h // 4)), torch.arange(-(-w // 4)), indexing="ij")
        return -torch.hypot((xs - self.x4).float(), (ys - self.y4).float()) / 20.0


def test_several_points_in_one_call_spread_over_the_picture():
    # Places ranked lower the further from one: the first point goes there, and the next
    # ones do not crowd around it (what the first will reach counts less for them).
    prep = _prep(96, 160)
    first, *rest = suggest.suggest_points(prep, 3, _Bump(20, 12))
    assert np.hypot(first.x - 82, first.y - 50) < 4
    radius = suggest.EXCLUSION_FRACTION * 160
    assert all(np.hypot(p.x - first.x, p.y - first.y) > 3 * radius for p in rest)
