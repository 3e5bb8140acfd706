"""Zhang et al. 2017's hint sweep on photos-val.tar, and the swatch hit rate.

    python -m chromahint.train.evaluate_photo --weights weights/photo_net_v2.safetensors
    python -m chromahint.train.evaluate_photo --model levin --limit 200 --swatch-pairs 0
    python -m chromahint.train.evaluate_photo --model gray

Also prints the mean CIELAB chroma of the output per hint count next to the ground truth's
(regression to the mean desaturates: the "olive cast" of automatic mode).

PSNR is on RGB uint8: ground truth vs (ground-truth L + predicted ab) -> sRGB -> uint8,
averaged over images. Hints are 6x6 patches holding the patch's mean ab, corners drawn
from a normal centred in the image (sigma = (256 - 6 + 1) / 4), clipped to the image.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from collections.abc import Sequence

import numpy as np
import torch

from chromahint.color import lab_to_rgb, rgb_to_lab
from chromahint.models.ab_bins import gamut_bins
from chromahint.models.base import DenseHints, GlobalHints, Hint, Prediction
from chromahint.train.data import default_data_dir, read_tar_images

SWEEP = (0, 1, 5, 10, 50, 100)
PATCH = 6
SWATCH_HINTS = 10
SWATCH_K = 5
SWATCH_DELTA_E = 10.0


class GrayColorizer:
    """The ab = 0 anchor."""

    name = "gray"

    def encode(self, L: np.ndarray) -> None:
        return None

    def predict(
        self,
        L: np.ndarray,
        hints: Sequence[Hint],
        global_hints: GlobalHints | None = None,
        *,
        with_probs: bool = True,
        encoded: object | None = None,
        dense: DenseHints | None = None,
    ) -> Prediction:
        return Prediction(ab=np.zeros((2,) + L.shape, np.float32))


def sweep_hints(ab: np.ndarray, n: int, rng: np.random.Generator) -> list[Hint]:
    """Zhang et al.'s evaluation hints on ground truth ab (2, H, W)."""
    _, h, w = ab.shape
    hints = []
    for _ in range(n):
        y = int(np.clip(rng.normal((h - PATCH + 1) / 2, (h - PATCH + 1) / 4), 0, h - PATCH))
        x = int(np.clip(rng.normal((w - PATCH + 1) / 2, (w - PATCH + 1) / 4), 0, w - PATCH))
        a, b = ab[:, y : y + PATCH, x : x + PATCH].mean(axis=(1, 2))
        hints.append(Hint(x=x + PATCH / 2, y=y + PATCH / 2, ab=(float(a), float(b)), size=PATCH))
    return hints


def psnr(rgb8: np.ndarray, L: np.ndarray, ab: np.ndarray) -> float:
    lab = np.concatenate([L[None], ab], axis=0).transpose(1, 2, 0)
    pred = np.round(lab_to_rgb(lab) * 255.0)
    mse = np.mean((pred - rgb8.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def split_lab(rgb8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = rgb_to_lab(rgb8.astype(np.float32) / 255.0).transpose(2, 0, 1)
    return lab[0], lab[1:]


def psnr_sweep(
    model, images: list[np.ndarray], ns: Sequence[int] = SWEEP, seed: int = 0
) -> dict[int, float]:
    return sweep(model, images, ns, seed)[0]


def mean_chroma(ab: np.ndarray) -> float:
    return float(np.hypot(ab[0], ab[1]).mean())


def sweep(
    model, images: list[np.ndarray], ns: Sequence[int] = SWEEP, seed: int = 0
) -> tuple[dict[int, float], dict[int, float], float]:
    """Mean PSNR per hint count, mean output chroma per hint count, ground-truth chroma."""
    scores: dict[int, list[float]] = {n: [] for n in ns}
    chroma: dict[int, list[float]] = {n: [] for n in ns}
    truth = []
    for i, rgb8 in enumerate(images):
        L, ab = split_lab(rgb8)
        truth.append(mean_chroma(ab))
        for n in ns:
            hints = sweep_hints(ab, n, np.random.default_rng([seed, n, i]))
            pred = model.predict(L, hints, with_probs=False)
            scores[n].append(psnr(rgb8, L, pred.ab))
            chroma[n].append(mean_chroma(pred.ab))
    mean = {n: float(np.mean(v)) for n, v in scores.items()}
    return mean, {n: float(np.mean(v)) for n, v in chroma.items()}, float(np.mean(truth))


def render_delta_e(L: float, ab_candidates: np.ndarray, lab_true: np.ndarray) -> np.ndarray:
    """Delta E_ab between the true colour and each candidate ab shown at the true L."""
    lab = np.concatenate([np.full((len(ab_candidates), 1), L, np.float32), ab_candidates], 1)
    shown = rgb_to_lab(lab_to_rgb(lab))
    return np.linalg.norm(shown - lab_true[None], axis=1)


def frequent_colors(data_dir: pathlib.Path, k: int = SWATCH_K) -> np.ndarray:
    """The k most frequent ab bins over a training shard (the fixed-palette baseline)."""
    bins = torch.from_numpy(gamut_bins())
    counts = torch.zeros(len(bins))
    for _, rgb8 in read_tar_images(data_dir / "photos-train-002.tar"):
        _, ab = split_lab(rgb8[::4, ::4])
        nearest = torch.cdist(torch.from_numpy(ab.reshape(2, -1).T.copy()), bins).argmin(dim=1)
        counts += torch.bincount(nearest, minlength=len(bins))
    return bins[counts.argsort(descending=True)[:k]].numpy()


def swatch_hit_rate(
    model, images: list[np.ndarray], baseline: np.ndarray, pairs: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Share of (image, pixel) pairs whose true colour is within Delta E 10 of one of the
    top-5 bins of the predicted distribution (model), or of the fixed palette (baseline)."""
    rng = np.random.default_rng([seed, 7])
    picks = np.sort(rng.integers(0, len(images), pairs))
    hits = base_hits = 0
    for i in np.unique(picks):
        rgb8 = images[i]
        L, ab = split_lab(rgb8)
        hints = sweep_hints(ab, SWATCH_HINTS, np.random.default_rng([seed, 8, i]))
        pred = model.predict(L, hints) if model is not None else None
        for _ in range(int((picks == i).sum())):
            y, x = int(rng.integers(0, L.shape[0])), int(rng.integers(0, L.shape[1]))
            lab_true = np.array([L[y, x], ab[0, y, x], ab[1, y, x]], np.float32)
            base_hits += render_delta_e(L[y, x], baseline, lab_true).min() <= SWATCH_DELTA_E
            if pred is not None:
                top = np.argsort(-pred.probs[:, y, x])[:SWATCH_K]
                hits += render_delta_e(L[y, x], pred.bins[top], lab_true).min() <= SWATCH_DELTA_E
    return hits / pairs, base_hits / pairs


def load_photo(path: pathlib.Path, device: str):
    """photo-net-v2 (photo_prop) or v1 weights, told apart by v2's propagation heads."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        v2 = "heads.weight" in f.keys()
    if v2:
        from chromahint.models.photo_prop import load
    else:
        from chromahint.models.photo_net import load
    return load(path, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--weights",
        type=pathlib.Path,
        default=pathlib.Path("weights/photo_net_v2.safetensors"),
        help="photo-net v1 or v2 weights (told apart by their tensors)",
    )
    parser.add_argument("--model", choices=("photo", "levin", "gray"), default="photo")
    parser.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    parser.add_argument("--limit", type=int, default=None, help="first N validation images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--swatch-pairs", type=int, default=1000, help="0 skips the swatch test")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.model == "gray":
        model = GrayColorizer()
    elif args.model == "levin":
        from chromahint.models.levin import LevinColorizer

        model = LevinColorizer()
    else:
        model = load_photo(args.weights, args.device)
    images = [rgb for _, rgb in read_tar_images(args.data / "photos-val.tar", args.limit)]
    t0 = time.perf_counter()
    scores, chroma, truth = sweep(model, images, seed=args.seed)
    elapsed = time.perf_counter() - t0
    print(f"PSNR (dB), photos-val.tar, {len(images)} images, `{model.name}`, seed {args.seed}:\n")
    print("| N hints | " + " | ".join(str(n) for n in scores) + " |")
    print("|---|" + "---|" * len(scores))
    print(f"| {model.name} | " + " | ".join(f"{v:.2f}" for v in scores.values()) + " |")
    print(
        f"| mean chroma (ground truth {truth:.1f}) | "
        + " | ".join(f"{v:.1f}" for v in chroma.values())
        + " |"
    )
    print(f"\n({elapsed:.0f} s for {len(images) * len(scores)} predictions)")
    if args.swatch_pairs:
        baseline = frequent_colors(args.data)
        hit, base = swatch_hit_rate(
            model if args.model == "photo" else None, images, baseline, args.swatch_pairs, args.seed
        )
        print(
            f"\nSwatches ({args.swatch_pairs} random (image, pixel) pairs, {SWATCH_HINTS} hints, "
            f"top-{SWATCH_K}, hit = Delta E_ab <= {SWATCH_DELTA_E:g} at the true L):\n"
        )
        print("| suggestions | hit rate |\n|---|---|")
        if args.model == "photo":
            print(f"| top-{SWATCH_K} bins of `{model.name}` | {hit:.1%} |")
        print(f"| fixed {SWATCH_K} most frequent training colours | {base:.1%} |")


if __name__ == "__main__":
    main()
