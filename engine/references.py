"""Reference recommendation, after He et al. 2018's retrieval: rank candidate colour
references by semantic and luminance similarity to the target.

A picture's descriptor is the photo model's own encoder at DESCRIBE_SIDE² (global average
of the stride-16 and stride-32 taps, each unit length) plus its lightness histogram; the
score is the cosine of the features plus LIGHTNESS_WEIGHT times the histograms' overlap.
A folder on the engine's machine is described once and kept in an index file in the user
cache directory (one vector per picture with its size and modification time), refreshed
for the files that changed; only folders under a root the engine was started with
(`serve --reference-root DIR`) may be read.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from chromahint_client.protocol import ErrorCode, ProtocolError

from .color import rgb_to_lab
from .imaging import Raster, lightness, resize_plane
from .models.base import Colorizer

DESCRIBE_SIDE = 128  # pictures are described at this size (enough for a global look)
TAPS = (3, 4)
HIST_BINS = 20
LIGHTNESS_WEIGHT = 0.5
BATCH = 32
MAX_FOLDER_PICTURES = 20000
EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
INDEX_VERSION = 1

Progress = Callable[[float, str], None]
_INDEX_LOCK = threading.Lock()


def lightness_histogram(L: np.ndarray) -> np.ndarray:
    """(HIST_BINS,) shares of a lightness plane (L in 0-100) per bin."""
    counts, _ = np.histogram(L, HIST_BINS, (0.0, 100.0))
    return (counts / max(L.size, 1)).astype(np.float32)


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap of lightness histograms (..., HIST_BINS), in [0, 1]."""
    return np.minimum(a, b).sum(-1)


def describe(model: Colorizer, planes: Sequence[np.ndarray]) -> np.ndarray:
    """Lightness planes (DESCRIBE_SIDE², L in 0-100) -> (N, D) descriptors."""
    net = getattr(model, "net", None)
    if net is None or not hasattr(net, "features"):
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, "recommending references needs the learned photo model"
        )
    out = []
    for i in range(0, len(planes), BATCH):
        batch = np.stack(planes[i : i + BATCH]).astype(np.float32)
        with torch.inference_mode():
            taps = net.features(torch.from_numpy(batch)[:, None].to(next(net.parameters())))
        feats = [F.normalize(taps[t].float().mean((2, 3)), dim=1) for t in TAPS]
        feat = (torch.cat(feats, 1) / np.sqrt(len(TAPS))).numpy()
        hist = np.stack([lightness_histogram(p) for p in batch])
        out.append(np.concatenate([feat, hist], 1))
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def scores(query: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(D,) and (N, D) descriptors -> (N,) similarity, higher = a better reference."""
    d = query.shape[0] - HIST_BINS
    semantic = table[:, :d] @ query[:d]
    return semantic + LIGHTNESS_WEIGHT * overlap(table[:, d:], query[None, d:])


def raster_plane(raster: Raster) -> np.ndarray:
    L = lightness(raster)
    return resize_plane(L, DESCRIBE_SIDE, DESCRIBE_SIDE)


def picture_plane(img: PILImage.Image) -> np.ndarray:
    """A picture's lightness at DESCRIBE_SIDE²."""
    side = (DESCRIBE_SIDE, DESCRIBE_SIDE)
    small = img.convert("RGB").resize(side, PILImage.Resampling.BILINEAR)
    return rgb_to_lab(np.asarray(small, np.float32) / 255.0)[..., 0].astype(np.float32)


def file_plane(path: Path) -> np.ndarray:
    """A picture file's lightness at DESCRIBE_SIDE² (JPEGs decode at reduced size)."""
    with PILImage.open(path) as img:
        img.draft("RGB", (DESCRIBE_SIDE * 2, DESCRIBE_SIDE * 2))
        return picture_plane(img)


def allowed_folder(folder: str, roots: Sequence[Path]) -> Path:
    """The folder, resolved, when it lies under one of `roots`; else a `forbidden` error."""
    path = Path(folder).expanduser()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        real = None
    if real is None or not any(real.is_relative_to(r.resolve()) for r in roots):
        where = ", ".join(str(r) for r in roots) or "none: start it with --reference-root DIR"
        raise ProtocolError(
            ErrorCode.FORBIDDEN,
            f"the engine may not read {folder!r}: reference folders must be under its "
            f"reference roots ({where})",
        )
    if not real.is_dir():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{folder!r} is not a folder")
    return real


def index_path(folder: Path, cache_dir: Path | None = None) -> Path:
    base = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:24]
    return base / "chromahint" / "references" / f"{key}.npz"


def _pictures(folder: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime ns) of every picture under the folder, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if Path(name).suffix.lower() not in EXTENSIONS or name.startswith("."):
                continue
            full = Path(dirpath) / name
            try:
                st = full.stat()
                if not full.resolve().is_relative_to(folder):  # a link out of the root
                    continue
            except OSError:
                continue
            found.append((str(full.relative_to(folder)), st.st_size, st.st_mtime_ns))
            if len(found) > MAX_FOLDER_PICTURES:
                raise ProtocolError(
                    ErrorCode.TOO_LARGE,
                    f"{folder} holds more than {MAX_FOLDER_PICTURES} pictures; "
                    "choose a smaller folder",
                )
    return sorted(found)


def folder_index(
    model: Colorizer, folder: Path, progress: Progress, cache_dir: Path | None = None
) -> tuple[list[str], np.ndarray, int, int]:
    """(relative paths, descriptors, skipped, described now) for the folder's pictures."""
    with _INDEX_LOCK:  # two requests for one folder: the second reads the first's index
        return _folder_index(model, folder, progress, cache_dir)


def _folder_index(
    model: Colorizer, folder: Path, progress: Progress, cache_dir: Path | None
) -> tuple[list[str], np.ndarray, int, int]:
    pictures = _pictures(folder)
    if not pictures:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{folder} holds no pictures")
    store = index_path(folder, cache_dir)
    known: dict[tuple[str, int, int], np.ndarray] = {}
    bad: set[tuple[str, int, int]] = set()
    try:
        with np.load(store, allow_pickle=False) as z:
            if int(z["version"]) == INDEX_VERSION and str(z["model"]) == model.name:
                columns = (z["paths"].tolist(), z["sizes"].tolist(), z["mtimes"].tolist())
                keys = zip(*columns, strict=True)
                for key, vec, ok in zip(keys, z["vectors"], z["ok"], strict=True):
                    if ok:
                        known[key] = vec
                    else:
                        bad.add(key)
    except (OSError, KeyError, ValueError):
        pass  # no index yet, or one from another version: describe everything
    todo = [p for p in pictures if p not in known and p not in bad]
    planes: list[np.ndarray] = []
    done: list[tuple[str, int, int]] = []
    for i, key in enumerate(todo):
        progress(0.9 * i / len(todo), f"indexing {i}/{len(todo)}")
        try:
            planes.append(file_plane(folder / key[0]))
            done.append(key)
        except Exception:  # unreadable or not a picture after all: skipped, and counted
            bad.add(key)
        if len(planes) == BATCH or (i == len(todo) - 1 and planes):
            for k, vec in zip(done, describe(model, planes), strict=True):
                known[k] = vec
            planes, done = [], []
    if todo:
        _save(store, model.name, known, bad)
    paths = [p for p in pictures if p in known]
    table = np.stack([known[p] for p in paths]) if paths else np.zeros((0, 1), np.float32)
    skipped = sum(1 for p in pictures if p in bad)
    return [p[0] for p in paths], table, skipped, len(todo)


def _save(store: Path, model_name: str, known: dict, bad: set) -> None:
    keys = list(known) + sorted(bad)
    dim = next(iter(known.values())).shape[0] if known else 1
    rows = [known[k] for k in known] + [np.zeros(dim, np.float32) for _ in bad]
    vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        version=INDEX_VERSION,
        model=model_name,
        paths=np.array([k[0] for k in keys], dtype=str),
        sizes=np.array([k[1] for k in keys], np.int64),
        mtimes=np.array([k[2] for k in keys], np.int64),
        vectors=vectors.astype(np.float32),
        ok=np.array([True] * len(known) + [False] * len(bad)),
    )
    tmp.replace(store)
