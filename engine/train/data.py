"""Training data: JPEG photos streamed from the tar shards, and simulated user hints.

Shards are read one at a time and decoded into memory (a shard is < 60 MB of JPEGs);
nothing is extracted to disk. Hints follow Zhang et al. 2017: a geometric number of
points (p = 1/8), square patches of 1-9 px holding the patch's mean ab, centres drawn
from a normal around the image centre; plus, sometimes, no hints, or global hints only.
"""

from __future__ import annotations

import io
import os
import pathlib
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from chromahint.models.ab_bins import histogram
from chromahint.models.photo_net import SATURATION_CHROMA, global_vector

REPO = pathlib.Path(__file__).resolve().parents[2]


def default_data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("CHROMAHINT_DATA", REPO.parent / "shared" / "data"))


def read_tar_images(path: pathlib.Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Decode every JPEG member of one tar into (name, uint8 RGB (H, W, 3))."""
    images = []
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith(".jpg"):
                continue
            f = tar.extractfile(member)
            if f is None:  # unreachable: isfile() members always have data
                continue
            data = f.read()
            rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            images.append((member.name, rgb))
            if limit is not None and len(images) >= limit:
                break
    return images


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square of side between `size` and the short side, resized to `size`, maybe
    mirrored: the zoom brings training objects closer to the 256 px evaluation scale."""
    h, w = rgb.shape[:2]
    side = int(rng.integers(min(size, h, w), min(h, w) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    patch = Image.fromarray(rgb[y : y + side, x : x + side])
    if side != size:
        patch = patch.resize((size, size), Image.Resampling.BILINEAR)
    out = np.asarray(patch)
    return out[:, ::-1] if rng.random() < 0.5 else out


def iter_batches(
    shards: list[pathlib.Path], batch: int, size: int, rng: np.random.Generator
) -> Iterator[torch.Tensor]:
    """Endless (B, 3, size, size) float RGB batches in [0, 1], one shard in memory at a time."""
    while True:
        for shard in rng.permutation(len(shards)):
            images = [rgb for _, rgb in read_tar_images(shards[shard])]
            order = rng.permutation(len(images))
            for i in range(0, len(order) - batch + 1, batch):
                crops = [random_crop(images[j], size, rng) for j in order[i : i + batch]]
                x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
                yield x.float() / 255.0


@dataclass
class HintConfig:
    p_none: float = 0.08  # no hints at all: automatic mode
    p_global_only: float = 0.12
    p_global_with_points: float = 0.1
    p_dense: float = 0.2  # uniform 10-150 points instead of geometric, for the dense regime
    geometric_p: float = 1 / 8
    max_patch: int = 9


def sample_points(
    ab: np.ndarray, n: int, rng: np.random.Generator, cfg: HintConfig
) -> tuple[np.ndarray, np.ndarray]:
    """ab (2, H, W) ground truth -> (hint ab (2, H, W), mask (1, H, W)) with n patches."""
    _, h, w = ab.shape
    hint = np.zeros_like(ab)
    mask = np.zeros((1, h, w), np.float32)
    for _ in range(n):
        s = int(rng.integers(1, cfg.max_patch + 1))
        y = int(np.clip(rng.normal((h - s) / 2, (h - s + 1) / 4), 0, h - s))
        x = int(np.clip(rng.normal((w - s) / 2, (w - s + 1) / 4), 0, w - s))
        patch = ab[:, y : y + s, x : x + s]
        hint[:, y : y + s, x : x + s] = patch.mean(axis=(1, 2))[:, None, None]
        mask[:, y : y + s, x : x + s] = 1.0
    return hint, mask


def sample_global(ab: torch.Tensor, bins: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A global hint drawn from ground truth ab (2, H, W): the image's ab histogram (a
    reference image) or its k most frequent colours (a user palette), and/or its saturation."""
    use_palette = rng.random() < 0.7
    use_saturation = not use_palette or rng.random() < 0.5
    pixels = ab[:, ::4, ::4].reshape(2, -1).T
    palette_ab = weights = saturation = None
    if use_palette:
        ones = torch.ones(len(pixels))
        if rng.random() < 0.4:
            palette_ab, weights = pixels, ones
        else:
            mass = histogram(pixels, ones, bins)
            k = int(rng.integers(1, 9))
            weights, idx = mass.topk(k)
            keep = weights > 0
            jitter = torch.from_numpy(rng.uniform(-3, 3, (k, 2)).astype(np.float32))
            palette_ab, weights = (bins[idx] + jitter)[keep], weights[keep]
    if use_saturation:
        chroma = float(ab.square().sum(dim=0).sqrt().mean())
        saturation = min(chroma / SATURATION_CHROMA, 1.0)
    return global_vector(bins, palette_ab, weights, saturation)


def simulate_hints(
    ab: torch.Tensor, bins: torch.Tensor, rng: np.random.Generator, cfg: HintConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ground truth ab (B, 2, H, W) -> hint ab, mask and global vectors for one batch."""
    hints, masks, globs = [], [], []
    ab_np = ab.numpy()
    for i in range(len(ab)):
        r = rng.random()
        n, with_global = 0, False
        if r < cfg.p_none:
            pass
        elif r < cfg.p_none + cfg.p_global_only:
            with_global = True
        else:
            dense = rng.random() < cfg.p_dense
            n = int(rng.integers(10, 151)) if dense else int(rng.geometric(cfg.geometric_p))
            with_global = rng.random() < cfg.p_global_with_points
        hint, mask = sample_points(ab_np[i], n, rng, cfg)
        hints.append(torch.from_numpy(hint))
        masks.append(torch.from_numpy(mask))
        globs.append(sample_global(ab[i], bins, rng) if with_global else global_vector(bins))
    return torch.stack(hints), torch.stack(masks), torch.stack(globs)
