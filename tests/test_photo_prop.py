"""photo-net-v2 (engine/models/photo_prop.py) with its shipped weights: one hint colours the
whole object it sits on, and nothing beyond the object's edge."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from chromahint.color import lab_to_rgb, rgb_to_lab
from chromahint.models import photo_prop
from chromahint.models.ab_bins import gamut_bins
from chromahint.models.base import Hint

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("torch_one_thread")]

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights" / "photo_net_v2.safetensors"
H, W = 160, 224
EDGE = 112  # region A is x < EDGE (dark), region B is x >= EDGE (light)
MARGIN = 6  # pixels next to the edge are judged by neither test
HINT_RGB = (170, 40, 40)  # a red whose ab fits region A's lightness


@pytest.fixture(scope="module")
def model() -> photo_prop.PhotoColorizer:
    return photo_prop.load(WEIGHTS, "cpu")


def two_regions(texture: bool) -> np.ndarray:
    L = np.full((H, W), 72.0, np.float32)
    L[:, :EDGE] = 38.0
    if texture:
        rng = np.random.default_rng(1)
        yy, xx = np.mgrid[0:H, 0:EDGE]
        L[:, :EDGE] += rng.normal(0.0, 2.5, (H, EDGE)).astype(np.float32)
        L[:, :EDGE] += (6.0 * np.sin(yy / 23.0) + 5.0 * xx / EDGE).astype(np.float32)
    return L


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(np.asarray(a) - np.asarray(b))))


def hint_ab() -> tuple[float, float]:
    lab = rgb_to_lab(np.asarray(HINT_RGB, np.float32) / 255.0)
    return float(lab[1]), float(lab[2])


def one_hint(model, texture: bool) -> tuple[np.ndarray, np.ndarray]:
    L = two_regions(texture)
    hint = Hint(x=30.0, y=40.0, ab=hint_ab(), size=6)
    return model.predict(L, [hint], with_probs=False).ab, model.predict(L, [], with_probs=False).ab


def region_mean(ab: np.ndarray, cols: slice, rows: slice = slice(None)) -> np.ndarray:
    return ab[:, rows, cols].reshape(2, -1).mean(axis=1)


@pytest.mark.xfail(
    strict=True,
    reason="issue 10's bar, not met by photo-net-v2 (8 Dec file): region A's mean ends "
    "Delta E 12.8 (flat) / 8.9 (textured) from the hint, and B moves Delta E 31 / 22: the "
    "decoder's prior itself follows the hint into B (its a there 9 -> 43), no leak of the solve",
)
@pytest.mark.parametrize("texture", [False, True], ids=["flat", "textured"])
def test_one_hint_colours_its_region_and_leaves_the_other(model, texture):
    """Issue 10: one hint inside A colours all of A (mean ab within Delta E 5 of the hint)
    and leaves B near its prediction without the hint (Delta E <= 5)."""
    with_hint, without = one_hint(model, texture)
    a_with = region_mean(with_hint, slice(0, EDGE - MARGIN))
    b_with = region_mean(with_hint, slice(EDGE + MARGIN, W))
    b_without = region_mean(without, slice(EDGE + MARGIN, W))
    assert delta_e(a_with, hint_ab()) <= 5.0 and delta_e(b_with, b_without) <= 5.0


def test_the_result_renders_in_gamut_at_every_pixel(model):
    """The rendered red keeps A's lightness (a sanity check of what the figure shows)."""
    L = two_regions(False)
    out = model.predict(L, [Hint(30.0, 40.0, hint_ab(), 6)], with_probs=False).ab
    rgb = lab_to_rgb(np.concatenate([L[None], out], 0).transpose(1, 2, 0))
    assert np.isfinite(rgb).all()


def test_an_untrained_net_has_the_shapes_and_spreads_the_hint_along_lightness():
    torch.manual_seed(0)
    net = photo_prop.PhotoPropNet(gamut_bins()).eval()
    L = torch.from_numpy(two_regions(False))[None, None]
    mask = torch.zeros(1, 1, H, W)
    mask[..., 37:43, 27:33] = 1.0
    hint = torch.zeros(1, 2, H, W)
    hint[:, 0], hint[:, 1] = mask[:, 0] * 40.0, mask[:, 0] * -30.0
    with torch.no_grad():
        ab, logits = net(L, hint, mask, torch.zeros(1, net.glob_dim))
    assert ab.shape == (1, 2, H, W) and logits.shape[1] == len(gamut_bins())
    assert logits.shape[-2:] == (H // 4, W // 4)
    # Before training the prior is ab 0 at a low confidence: the hint tints region A, far
    # from it too, and the edge keeps it out of B.
    a_mean = ab[0, :, :, : EDGE - MARGIN].mean(dim=(1, 2))
    b_mean = ab[0, :, :, EDGE + MARGIN :].mean(dim=(1, 2))
    assert a_mean[0] > 5.0 and a_mean[1] < -4.0, a_mean
    assert b_mean.abs().max() < 0.05 * a_mean.abs().min(), (a_mean, b_mean)
