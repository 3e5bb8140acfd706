"""Held-out line-art evaluation: PSNR vs number of hints, printed as a markdown table.

    python -m chromahint.train.evaluate_lineart --weights weights/lineart_net.safetensors

Every held-out OpenMoji drawing (sorted hexcode index = 3 mod 20) at 256 px is resized to the
model's working size the way the engine does, colourized, upsampled back and composited
like the engine (flat colour x sketch), then scored against the `_color` image (RGB uint8).
(a) region hints: the first N regions in priority order, each with its ground-truth mean
    colour; (b) N random single-point hints (3x3 patch of the ground-truth mean colour at a
    random non-line pixel) into the same colorizer; (c) the installed photo model (or its
    Levin fallback) fed the sketch as lightness and the same N points as ab hints.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from chromahint.color import lab_to_rgb, rgb_to_lab
from chromahint.models.base import Hint, LinePoint
from chromahint.models.lineart_net import LINE_THRESHOLD, LineartModel, load
from chromahint.pipeline import resize_plane
from chromahint.train.lineart_data import default_data_dir, load_lineart

HINT_COUNTS = (0, 1, 3, 5, 10, 20)
REPO = pathlib.Path(__file__).resolve().parents[2]


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """Both (H, W, 3) in [0, 1]; scored after rounding to uint8 like a saved image."""
    a = np.round(pred.clip(0, 1) * 255).astype(np.float64)
    b = np.round(gt * 255).astype(np.float64)
    mse = np.mean((a - b) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) -> (height, width, 3), per channel like the engine's planes."""
    return np.stack([resize_plane(rgb[..., c], width, height) for c in range(3)], -1)


def region_means(labels: np.ndarray, rgb: np.ndarray, ids: list[int]) -> dict[int, tuple]:
    """Ground-truth mean colour (0-255) of each region id."""
    return {r: tuple(float(v) * 255 for v in rgb[labels == r].mean(0)) for r in ids}


def random_points(
    sketch: np.ndarray, rgb: np.ndarray, n: int, rng: np.random.Generator
) -> list[LinePoint]:
    ys, xs = np.nonzero(sketch >= LINE_THRESHOLD)
    h, w = sketch.shape
    points = []
    for i in rng.integers(0, len(ys), n) if len(ys) else []:
        y, x = int(ys[i]), int(xs[i])
        patch = rgb[max(y - 1, 0) : min(y + 2, h), max(x - 1, 0) : min(x + 2, w)]
        points.append((float(x), float(y), tuple(float(v) * 255 for v in patch.mean((0, 1))), 3.0))
    return points


def composite(flat: np.ndarray, sketch_full: np.ndarray) -> np.ndarray:
    """(3, h, w) working-size flat colours -> full-size (H, W, 3) result x sketch."""
    h, w = sketch_full.shape
    up = resize_rgb(flat.transpose(1, 2, 0), w, h)
    return up.clip(0, 1) * sketch_full[..., None]


def photo_result(photo, sketch_full: np.ndarray, points: list, scale: float) -> np.ndarray:
    """Photo model on L = sketch lightness; ab upsampled, L from the full-size sketch."""
    h, w = sketch_full.shape
    ws = photo.working_size
    pw, ph = max(1, round(w * ws / max(h, w))), max(1, round(h * ws / max(h, w)))
    L_full = rgb_to_lab(np.repeat(sketch_full[..., None], 3, -1))[..., 0]
    L = resize_plane(L_full, pw, ph)
    hints = []
    for x, y, rgb, size in points:
        ab = rgb_to_lab(np.asarray(rgb, np.float32) / 255.0)[1:]
        sx = pw / w * scale
        hints.append(Hint(x * sx, y * sx, (float(ab[0]), float(ab[1])), max(size * sx, 1.0)))
    ab = photo.predict(L, hints, None).ab
    ab_full = np.stack([resize_plane(ab[c], w, h) for c in range(2)], -1)
    return lab_to_rgb(np.concatenate([L_full[..., None], ab_full], -1))


def evaluate(
    model: LineartModel, data, photo, counts: tuple[int, ...], seed: int, photo_every: int
) -> dict[str, np.ndarray]:
    """Per-image PSNR per hint count; "photo" only on every `photo_every`-th drawing (NaN else)."""
    scores = {k: np.zeros((len(data.names), len(counts))) for k in ("region", "point", "square")}
    fill = model.point_fill_frac
    scores["photo"] = np.full((len(data.names), len(counts)), np.nan)
    for i in range(len(data.names)):
        sketch_full = data.sketch[i].astype(np.float32) / 255.0
        gt_full = data.color[i].astype(np.float32) / 255.0
        h, w = sketch_full.shape
        ws = model.working_size
        sw, sh = max(1, round(w * ws / max(h, w))), max(1, round(h * ws / max(h, w)))
        sketch = resize_plane(sketch_full, sw, sh)
        gt = resize_rgb(gt_full, sw, sh)
        labels, order = model.regions(sketch, model.max_regions)
        rng = np.random.default_rng(seed + i)
        for j, n in enumerate(counts):
            hints = region_means(labels, gt, order[:n])
            flat = model.colorize(sketch, labels, hints, [])
            scores["region"][i, j] = psnr(composite(flat, sketch_full), gt_full)
            points = random_points(sketch, gt, n, rng)
            flat = model.colorize(sketch, labels, {}, points)
            scores["point"][i, j] = psnr(composite(flat, sketch_full), gt_full)
            model.point_fill_frac = 0.0
            flat = model.colorize(sketch, labels, {}, points)
            model.point_fill_frac = fill
            scores["square"][i, j] = psnr(composite(flat, sketch_full), gt_full)
            if photo is not None and i % photo_every == 0:
                out = photo_result(photo, sketch_full, points, w / sw)
                scores["photo"][i, j] = psnr(out, gt_full)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--weights", type=pathlib.Path, default=REPO / "weights/lineart_net.safetensors"
    )
    ap.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    ap.add_argument("--working-size", type=int, default=None, help="override the model's")
    ap.add_argument("--snap-frac", type=float, default=None, help="override closed-area snap")
    ap.add_argument("--fill-frac", type=float, default=None, help="override point area fill")
    ap.add_argument("--exact-hints", type=int, choices=(0, 1), default=None)
    ap.add_argument("--limit", type=int, default=None, help="only the first N held-out drawings")
    ap.add_argument("--no-photo", action="store_true", help="skip baseline (c)")
    ap.add_argument(
        "--photo-every", type=int, default=4, help="(c) on every k-th drawing (Levin is slow)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load(args.weights, "cpu")
    if args.working_size:
        model.working_size = args.working_size
    if args.snap_frac is not None:
        model.snap_area_frac = args.snap_frac
    if args.fill_frac is not None:
        model.point_fill_frac = args.fill_frac
    if args.exact_hints is not None:
        model.exact_hints = bool(args.exact_hints)
    data = load_lineart(args.data, "holdout", size=256, limit=args.limit)
    photo, photo_name = None, "skipped"
    if not args.no_photo:
        from chromahint.models.registry import load_models

        photo = load_models("cpu").photo
        photo_name = getattr(photo, "name", type(photo).__name__)
    scores = evaluate(model, data, photo, HINT_COUNTS, args.seed, args.photo_every)

    print(
        f"Held-out OpenMoji line art: {len(data.names)} drawings at 256 px, "
        f"`{model.name}` at working size {model.working_size}, {model.max_regions} regions "
        f"(closed-area snap {model.snap_area_frac}, point area fill {model.point_fill_frac}, "
        f"exact hints {model.exact_hints}); "
        f"(c) = `{photo_name}` on every {args.photo_every}th of them. "
        "Mean per-image PSNR (dB, RGB uint8).\n"
    )
    print("| hints N | " + " | ".join(str(n) for n in HINT_COUNTS) + " |")
    print("|---|" + "---|" * len(HINT_COUNTS))
    rows = {
        "region": "(a) region hints, priority order",
        "point": "(b) random point hints, same colorizer",
        "square": "(b') the same points as plain 3x3 squares (no area fill)",
        "photo": "(c) photo model, sketch as L + same points",
    }
    for key, label in rows.items():
        if key == "photo" and photo is None:
            continue
        print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in np.nanmean(scores[key], 0)) + " |")
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
