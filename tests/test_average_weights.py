"""train/average_weights.py: the mean of checkpoints, counters kept, mismatches refused."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from chromahint.train.average_weights import average

pytestmark = pytest.mark.unit


def test_floats_are_averaged_and_integers_kept(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"w": torch.tensor([1.0, 2.0], dtype=torch.float16), "n": torch.tensor([3])}, a)
    save_file({"w": torch.tensor([3.0, 6.0], dtype=torch.float16), "n": torch.tensor([9])}, b)
    out = average([a, b])
    assert out["w"].dtype == torch.float16
    assert out["w"].tolist() == [2.0, 4.0]
    assert out["n"].tolist() == [3]


def test_another_network_is_refused(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"w": torch.zeros(2)}, a)
    save_file({"w": torch.zeros(3)}, b)
    with pytest.raises(SystemExit, match="not the same network"):
        average([a, b])
