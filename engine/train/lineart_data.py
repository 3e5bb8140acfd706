"""Line-art training data: OpenMoji line/colour pairs and Firefox emoji with synthetic lines.

Everything is read from `lineart-train.tar` at run time and kept in memory as uint8 arrays;
nothing is extracted to disk. The OpenMoji hold-out (sorted hexcode index = 3 mod 20) is
fixed here so training and evaluation cannot disagree about it.
"""

from __future__ import annotations

import io
import os
import pathlib
import tarfile
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

TAR_NAME = "lineart-train.tar"
HOLDOUT_MOD = 20
HOLDOUT_REM = 3
# OpenMoji lines are ~7 px wide at 256 px; synthetic lines are grown to about that width.
SYNTH_LINE_RADIUS = 3


def default_data_dir() -> pathlib.Path:
    env = os.environ.get("CHROMAHINT_DATA")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class LineartSet:
    """sketch (N, S, S) uint8 (255 = paper), color (N, S, S, 3) uint8, and the sample names."""

    sketch: np.ndarray
    color: np.ndarray
    names: list[str]
    synthetic: np.ndarray  # (N,) bool: the sketch was derived from the colour image


def openmoji_split(hexcodes: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out) hexcodes: every sorted index that is HOLDOUT_REM mod HOLDOUT_MOD."""
    ordered = sorted(hexcodes)
    held = [h for i, h in enumerate(ordered) if i % HOLDOUT_MOD == HOLDOUT_REM]
    held_set = set(held)
    return [h for h in ordered if h not in held_set], held


def synth_sketch(color: np.ndarray) -> np.ndarray:
    """Black lines on the colour boundaries of a flat-colour image (H, W, 3) uint8 -> uint8."""
    rgb = color.astype(np.float32) / 255.0
    mag = np.zeros(rgb.shape[:2], np.float32)
    for c in range(3):
        gx = ndimage.sobel(rgb[..., c], axis=1)
        gy = ndimage.sobel(rgb[..., c], axis=0)
        mag = np.maximum(mag, np.hypot(gx, gy))
    edges = mag > 0.35
    disk = _disk(SYNTH_LINE_RADIUS)
    lines = ndimage.binary_dilation(edges, structure=disk)
    # Small closed specks from anti-aliasing would read as dots, not strokes: drop them.
    lines = ndimage.binary_opening(lines, structure=_disk(1))
    return np.where(lines, 0, 255).astype(np.uint8)


def _disk(r: int) -> np.ndarray:
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r


def _member_bytes(tar: tarfile.TarFile, member: str) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise ValueError(f"{member} in {tar.name} is not a regular file")
    return f.read()


def _read_rgb(tar: tarfile.TarFile, member: str, size: int) -> np.ndarray:
    im = Image.open(io.BytesIO(_member_bytes(tar, member))).convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)


def _read_gray(tar: tarfile.TarFile, member: str, size: int) -> np.ndarray:
    im = Image.open(io.BytesIO(_member_bytes(tar, member))).convert("L")
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)


def load_lineart(
    data_dir: pathlib.Path,
    split: str,
    size: int = 256,
    limit: int | None = None,
    with_fxemoji: bool = True,
) -> LineartSet:
    """split: "train" (OpenMoji train part + Firefox emoji) or "holdout" (OpenMoji only)."""
    with tarfile.open(data_dir / TAR_NAME) as tar:
        members = tar.getnames()
        hexcodes = sorted(
            m[len("openmoji/") : -len("_line.png")]
            for m in members
            if m.startswith("openmoji/") and m.endswith("_line.png")
        )
        train, held = openmoji_split(hexcodes)
        codes = held if split == "holdout" else train
        fx = []
        if split == "train" and with_fxemoji:
            fx = sorted(m for m in members if m.startswith("fxemoji/") and m.endswith("_color.png"))
        names = [f"openmoji/{h}" for h in codes] + fx
        if limit is not None:
            names = names[:limit]
        sketches, colors, synthetic = [], [], []
        for name in names:
            if name.startswith("openmoji/"):
                colors.append(_read_rgb(tar, f"{name}_color.png", size))
                sketches.append(_read_gray(tar, f"{name}_line.png", size))
                synthetic.append(False)
            else:
                full = _read_rgb(tar, name, 256)
                sk = synth_sketch(full)
                if size != 256:
                    sk = np.asarray(Image.fromarray(sk).resize((size, size), Image.Resampling.BOX))
                    full = np.asarray(
                        Image.fromarray(full).resize((size, size), Image.Resampling.BOX)
                    )
                colors.append(full)
                sketches.append(sk)
                synthetic.append(True)
    return LineartSet(np.stack(sketches), np.stack(colors), names, np.array(synthetic))
