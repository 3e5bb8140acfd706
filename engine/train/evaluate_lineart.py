"""Held-out line-art evaluation: regions, and PSNR vs number of hints, as markdown tables.

    python -m chromahint.train.evaluate_lineart --weights weights/lineart_net.safetensors

Every held-out OpenMoji drawing (sorted hexcode index = 3 mod 20) at 256 px goes through the
engine's own line-art path (engine/lineart.py: regions, hint fills, colorizer, exact fills,
sketch on top) and is scored against its `_color` image (PSNR on RGB uint8, mean over
drawings).
Regions: how many cover >= 0.5 % of the pixels, and purity (the share of non-line pixels
within CIE76 dE 10 of their region's most frequent ground-truth colour).
(a) the first N regions in priority order, each given its most frequent ground-truth colour
    (what an artist picks: the flat fill; before 7 Dec 2026 the region's mean, which counts
    the lines' darkened rims in);
(b) N random single-pixel hints (the ground-truth colour at a random non-line pixel), as the
    engine serves points (a point bucket-fills its region), and (b') the same points as plain
    1-pixel squares into the colorizer;
(d) the classical baseline at equal hints (Krita's Colorize Mask way): the hints of (a) as
    points, each flood-filling its 4-connected closed area (no gap closing) with its colour,
    the rest left as paper;
dE: the largest CIE76 difference between a hinted region's pixels >= 3 px from any line and
    its hint colour, over all (a) results.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
from scipy import ndimage

from chromahint.color import rgb_to_lab
from chromahint.imaging import resize_plane, working_shape
from chromahint.lineart import colorize_into, region_labels
from chromahint.models.base import LinePoint
from chromahint.models.lineart_net import LINE_THRESHOLD, LineartModel, load
from chromahint.train.lineart_data import default_data_dir, load_lineart

HINT_COUNTS = (0, 1, 3, 5, 10, 20, 30)
REGION_MIN_FRAC = 0.005
PURITY_DE = 10.0
INTERIOR_PX = 3
REPO = pathlib.Path(__file__).resolve().parents[2]


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """Both (H, W, 3) uint8."""
    mse = np.mean((pred.astype(np.float64) - gt.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def majority_colours(labels: np.ndarray, rgb: np.ndarray) -> dict[int, tuple]:
    """Each region's most frequent ground-truth colour (0-255): the flat colour an artist
    picks for it (a mean would count the line's darkened rims into it)."""
    flat = labels.ravel()
    code = rgb.reshape(-1, 3).astype(np.int64) @ np.array([65536, 256, 1])
    out = {}
    for r in np.unique(flat[flat > 0]):
        vals, counts = np.unique(code[flat == r], return_counts=True)
        c = int(vals[counts.argmax()])
        out[int(r)] = (float(c >> 16), float((c >> 8) & 255), float(c & 255))
    return out


def purity(labels: np.ndarray, rgb: np.ndarray) -> float:
    """Share of non-line pixels close to their region's most frequent colour."""
    flat = labels.ravel()
    lab = rgb_to_lab(rgb.reshape(-1, 3).astype(np.float32) / 255.0)
    good = 0
    for r, colour in majority_colours(labels, rgb).items():
        ref = rgb_to_lab(np.asarray(colour, np.float32)[None] / 255.0)[0]
        good += int((np.linalg.norm(lab[flat == r] - ref, axis=1) < PURITY_DE).sum())
    return good / max(int((flat > 0).sum()), 1)


def random_pixels(
    sketch: np.ndarray, rgb: np.ndarray, n: int, rng: np.random.Generator
) -> list[LinePoint]:
    ys, xs = np.nonzero(sketch >= LINE_THRESHOLD)
    picks = rng.integers(0, len(ys), n) if len(ys) else []
    out: list[LinePoint] = []
    for i in picks:
        r, g, b = (float(v) for v in rgb[ys[i], xs[i]])
        out.append((float(xs[i]) + 0.5, float(ys[i]) + 0.5, (r, g, b), 1.0))
    return out


def interior_point(sel: np.ndarray) -> tuple[int, int]:
    """The pixel of a region farthest from its border (where a user would click)."""
    depth = np.asarray(ndimage.distance_transform_edt(sel))
    y, x = np.unravel_index(int(np.argmax(depth)), sel.shape)
    return int(y), int(x)


def flood_baseline(sketch: np.ndarray, labels: np.ndarray, hints: dict[int, tuple]) -> np.ndarray:
    areas, _ = ndimage.label(sketch >= LINE_THRESHOLD)  # pyright: ignore[reportGeneralTypeIssues]
    out = np.full(sketch.shape + (3,), 255.0, np.float32)
    for rid, rgb in hints.items():
        y, x = interior_point(labels == rid)
        if areas[y, x] > 0:
            out[areas == areas[y, x]] = rgb
    return np.clip(out * sketch[..., None] + 0.5, 0, 255).astype(np.uint8)


def _score(planes: tuple, labels: np.ndarray, hints: dict, points: list, gt: np.ndarray) -> float:
    out, model, sketch, sketch_w = planes
    colorize_into(out, model, sketch, sketch_w, labels, hints, points)
    return psnr(out, gt)


def evaluate(model: LineartModel, data, counts: tuple[int, ...], seed: int) -> dict:
    rows = ("region", "point", "square", "flood")
    scores = {k: np.zeros((len(data.names), len(counts))) for k in rows}
    n_regions, purities, worst_de = [], [], 0.0
    for i in range(len(data.names)):
        sketch = data.sketch[i].astype(np.float32) / 255.0
        gt = data.color[i]
        h, w = sketch.shape
        sketch_w = resize_plane(sketch, *working_shape(w, h, model.working_size))
        labels = region_labels(sketch)
        sizes = np.bincount(labels.ravel())
        n_regions.append(int((sizes[1:] >= REGION_MIN_FRAC * labels.size).sum()))
        purities.append(purity(labels, gt))
        order = list(range(1, int(labels.max()) + 1))
        means = majority_colours(labels, gt)
        interior = np.asarray(ndimage.distance_transform_edt(sketch >= LINE_THRESHOLD))
        interior = interior >= INTERIOR_PX
        rng = np.random.default_rng(seed + i)
        out = np.empty((h, w, 3), np.uint8)

        blank = np.zeros_like(labels)  # no regions: points stay plain squares
        planes = (out, model, sketch, sketch_w)

        for j, n in enumerate(counts):
            hints = {r: means[r] for r in order[:n]}
            scores["region"][i, j] = _score(planes, labels, hints, [], gt)
            if model.exact_hints and hints:
                sel = np.isin(labels, list(hints)) & interior
                if sel.any():
                    want = np.stack([np.asarray(means[r]) for r in labels[sel]])
                    got_lab = rgb_to_lab(out[sel].astype(np.float32) / 255.0)
                    want_lab = rgb_to_lab((want * sketch[sel][:, None]).astype(np.float32) / 255)
                    de = float(np.linalg.norm(got_lab - want_lab, axis=1).max())
                    worst_de = max(worst_de, de)
            points = random_pixels(sketch, gt, n, rng)
            scores["point"][i, j] = _score(planes, labels, {}, points, gt)
            scores["square"][i, j] = _score(planes, blank, {}, points, gt)
            scores["flood"][i, j] = psnr(flood_baseline(sketch, labels, hints), gt)
    return {
        "scores": scores,
        "regions": np.array(n_regions),
        "purity": np.array(purities),
        "worst_de": worst_de,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--weights", type=pathlib.Path, default=REPO / "weights/lineart_net.safetensors"
    )
    ap.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    ap.add_argument("--limit", type=int, default=None, help="only the first N held-out drawings")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load(args.weights, "cpu")
    data = load_lineart(args.data, "holdout", size=256, limit=args.limit)
    result = evaluate(model, data, HINT_COUNTS, args.seed)
    regions, pure = result["regions"], result["purity"]
    print(
        f"Held-out OpenMoji line art: {len(data.names)} drawings at 256 px, `{model.name}`, "
        f"working size {model.working_size}, up to {model.max_regions} regions served.\n"
    )
    print(
        f"Regions >= {REGION_MIN_FRAC:.1%} of the pixels: mean {regions.mean():.2f} per drawing "
        f"(median {np.median(regions):.0f}); purity mean {pure.mean():.1%} "
        f"(median {np.median(pure):.1%}); worst dE inside hinted regions "
        f"(>= {INTERIOR_PX} px from lines): {result['worst_de']:.2f}.\n"
    )
    print("Mean per-image PSNR (dB, RGB uint8):\n")
    print("| hints N | " + " | ".join(str(n) for n in HINT_COUNTS) + " |")
    print("|---|" + "---|" * len(HINT_COUNTS))
    labels = {
        "region": "(a) region hints, priority order",
        "point": "(b) random single-pixel hints, as served (bucket fill)",
        "square": "(b') the same points as plain 1-px squares",
        "flood": "(d) classical flood fill of (a)'s hints, rest paper",
    }
    for key, label in labels.items():
        mean = result["scores"][key].mean(0)
        print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
