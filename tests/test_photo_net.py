"""Fast CPU tests of photo-net (engine/models/photo_net.py) and its helpers."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data
from skimage.transform import resize

from chromahint.color import rgb_to_lab
from chromahint.models import lab_torch, photo_net
from chromahint.models.ab_bins import gamut_bins
from chromahint.models.base import GlobalHints, Hint, rasterize_hints
from chromahint.models.hint_fill import push_pull

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("torch_one_thread")]

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights" / "photo_net.safetensors"
needs_weights = pytest.mark.skipif(not WEIGHTS.exists(), reason="no shipped weights")


@pytest.fixture(scope="module")
def untrained() -> photo_net.PhotoColorizer:
    torch.manual_seed(0)
    return photo_net.PhotoColorizer(photo_net.PhotoNet(), "cpu")


@pytest.fixture(scope="module")
def trained() -> photo_net.PhotoColorizer:
    return photo_net.load(WEIGHTS, "cpu")


@pytest.fixture(scope="module")
def astronaut() -> tuple[np.ndarray, np.ndarray]:
    """(L, ab) of skimage's astronaut at 128 x 96."""
    rgb = resize(data.astronaut(), (128, 96), anti_aliasing=True).astype(np.float32)
    lab = rgb_to_lab(rgb).transpose(2, 0, 1)
    return lab[0], lab[1:]


def test_bins_cover_the_gamut() -> None:
    bins = gamut_bins()
    assert 200 < len(bins) < 400
    assert np.all(np.abs(bins) <= 110) and np.all(bins % 10 == 0)


def test_lab_torch_matches_numpy() -> None:
    rgb = np.random.default_rng(0).random((3, 8, 9), dtype=np.float32)
    lab = lab_torch.rgb_to_lab(torch.from_numpy(rgb)).numpy()
    np.testing.assert_allclose(
        lab, rgb_to_lab(rgb.transpose(1, 2, 0)).transpose(2, 0, 1), atol=1e-3
    )
    back = lab_torch.lab_to_rgb(torch.from_numpy(lab)).numpy()
    np.testing.assert_allclose(back, rgb, atol=1e-4)


def test_push_pull_keeps_hints_and_is_gray_without() -> None:
    ab = torch.zeros(1, 2, 40, 33)
    mask = torch.zeros(1, 1, 40, 33)
    ab[0, :, 5, 7] = torch.tensor([40.0, -20.0])
    mask[0, 0, 5, 7] = 1.0
    fill = push_pull(ab, mask)
    np.testing.assert_allclose(fill[0, :, 5, 7].numpy(), [40.0, -20.0], atol=1e-4)
    np.testing.assert_allclose(fill[0, :, 39, 32].numpy(), [40.0, -20.0], atol=1e-4)
    assert push_pull(ab * 0, mask * 0).abs().max() == 0


@pytest.mark.parametrize("x, y", [(10, 20), (10.5, 20.5)])
def test_hint_squares_land_on_the_same_pixels(x: float, y: float) -> None:
    ab, mask = rasterize_hints([Hint(x=x, y=y, ab=(5.0, 6.0), size=3)], 32, 32)
    ys, xs = np.nonzero(mask[0])
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (19, 21, 9, 11)
    assert np.all(ab[:, 19:22, 9:12] == np.array([5.0, 6.0])[:, None, None])


@pytest.mark.parametrize("shape", [(37, 256), (256, 171), (33, 45)])
def test_shapes_and_distribution(untrained: photo_net.PhotoColorizer, shape) -> None:
    L = np.random.default_rng(1).uniform(0, 100, shape).astype(np.float32)
    pred = untrained.predict(L, [Hint(x=5, y=5, ab=(30.0, 30.0), size=4)], GlobalHints())
    q = len(untrained.bins)
    assert pred.ab.shape == (2, *shape) and pred.ab.dtype == np.float32
    assert pred.probs.shape == (q, *shape) and pred.bins.shape == (q, 2)
    assert pred.probs.min() >= 0
    np.testing.assert_allclose(pred.probs.sum(axis=0), 1.0, atol=1e-4)


def test_round_trip_through_safetensors(tmp_path: pathlib.Path) -> None:
    torch.manual_seed(1)
    net = photo_net.PhotoNet()
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    loaded = photo_net.load(tmp_path / "w.safetensors", "cpu")
    assert loaded.learned and loaded.working_size == 256 and loaded.name == "photo-net-v1"
    L = np.full((40, 50), 60.0, np.float32)
    reference = photo_net.PhotoColorizer(net, "cpu").predict(L, [])
    assert np.abs(loaded.predict(L, []).ab - reference.ab).max() < 0.5  # fp16 storage


@needs_weights
def test_deterministic(trained, astronaut) -> None:
    L, _ = astronaut
    hints = [Hint(x=40, y=30, ab=(20.0, 40.0), size=5)]
    first = trained.predict(L, hints, GlobalHints(palette=((200, 30, 30, 1.0),)))
    second = trained.predict(L, hints, GlobalHints(palette=((200, 30, 30, 1.0),)))
    np.testing.assert_array_equal(first.ab, second.ab)
    np.testing.assert_array_equal(first.probs, second.probs)


@needs_weights
def test_hint_pulls_the_colour_at_the_hint(trained, astronaut) -> None:
    L, _ = astronaut
    target = np.array([-50.0, 50.0])  # a strong green
    before = trained.predict(L, []).ab[:, 64, 48]
    after = trained.predict(L, [Hint(x=48, y=64, ab=tuple(target), size=5)]).ab[:, 64, 48]
    assert np.linalg.norm(after - target) < 0.5 * np.linalg.norm(before - target)
    assert np.linalg.norm(after - target) < 15


@needs_weights
def test_palette_shifts_the_image_toward_it(trained, astronaut) -> None:
    L, _ = astronaut
    blue = GlobalHints(palette=((30, 60, 220, 1.0),))
    plain = trained.predict(L, []).ab.mean(axis=(1, 2))
    tinted = trained.predict(L, [], blue).ab.mean(axis=(1, 2))
    assert tinted[1] < plain[1] - 3  # b goes toward blue
