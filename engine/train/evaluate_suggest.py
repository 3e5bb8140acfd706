"""Suggested hint locations vs random ones, on Zhang et al.'s photo protocol.

    python -m chromahint.train.evaluate_suggest [--limit 200]

For each validation image (256x256), hints are added one at a time: either where the
engine's `suggest_points` says a hint helps most given the hints so far, or at Zhang et
al.'s random locations. Each hint is a 6x6 patch holding the ground truth's mean ab there,
as in the sweep. PSNR as in `evaluate_photo`, after each of N = 1 … 10 hints.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch
from PIL import Image

from chromahint.imaging import working_shape
from chromahint.models import hint_value
from chromahint.models.base import Hint
from chromahint.models.hint_value import HintValue
from chromahint.models.registry import load_models
from chromahint.pipeline import Prepared, plane_lookup
from chromahint.suggest import suggest_points
from chromahint.train.data import default_data_dir, read_tar_images
from chromahint.train.evaluate_photo import PATCH, psnr, split_lab, sweep_hints

COUNTS = tuple(range(1, 11))


def at_working_size(rgb8: np.ndarray, working_size: int) -> np.ndarray:
    """The photo as the engine sees it, resized to its working size (photos-val already is)."""
    h, w = rgb8.shape[:2]
    size = working_shape(w, h, working_size)
    if size == (w, h):
        return rgb8
    return np.asarray(Image.fromarray(rgb8).resize(size, Image.Resampling.BILINEAR))


def patch_hint(ab: np.ndarray, x: float, y: float) -> Hint:
    _, h, w = ab.shape
    x0 = int(np.clip(round(x - PATCH / 2), 0, w - PATCH))
    y0 = int(np.clip(round(y - PATCH / 2), 0, h - PATCH))
    a, b = ab[:, y0 : y0 + PATCH, x0 : x0 + PATCH].mean(axis=(1, 2))
    return Hint(x=x0 + PATCH / 2, y=y0 + PATCH / 2, ab=(float(a), float(b)), size=PATCH)


def suggested_run(model, rgb8: np.ndarray, value_net: HintValue | None) -> dict[int, float]:
    L, ab = split_lab(rgb8)
    hints: list[Hint] = []
    out = {}
    pred = model.predict(L, hints)
    for n in range(1, max(COUNTS) + 1):
        prep = Prepared(plane_lookup(L), L, pred, hints, 1.0, 1.0)
        best = suggest_points(prep, 1, value_net)
        if best:
            hints.append(patch_hint(ab, best[0].x, best[0].y))
        pred = model.predict(L, hints)  # scored here, and the next round suggests from it
        if n in COUNTS:
            out[n] = psnr(rgb8, L, pred.ab)
    return out


def random_run(model, rgb8: np.ndarray, seed: int, index: int) -> dict[int, float]:
    L, ab = split_lab(rgb8)
    return {
        n: psnr(
            rgb8,
            L,
            model.predict(L, sweep_hints(ab, n, np.random.default_rng([seed, n, index]))).ab,
        )
        for n in COUNTS
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    ap.add_argument("--limit", type=int, default=200, help="first N validation images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--tar",
        default="photos-val.tar",
        help="images to measure on (photos-train-002.tar's tail for choosing settings)",
    )
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--hint-value",
        default="shipped",
        help="'shipped' (the head beside the photo model, if any), 'none' (the colour "
        "distribution's own expected error), or a hint_value.safetensors to try",
    )
    ap.add_argument("--skip-random", action="store_true", help="only the suggested rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_models("cpu").photo
    if model is None:  # the photo mode always has the Levin fallback
        raise SystemExit("no photo model loaded")
    value_net = getattr(model, "hint_value", None)
    if args.hint_value == "none":
        value_net = None
    elif args.hint_value != "shipped":
        value_net = hint_value.load(pathlib.Path(args.hint_value))
    read = read_tar_images(args.data / args.tar, args.skip + args.limit)[args.skip :]
    images = [at_working_size(rgb, model.working_size) for _, rgb in read]
    t0 = time.perf_counter()
    sug = {n: [] for n in COUNTS}
    rnd = {n: [] for n in COUNTS}
    for i, rgb8 in enumerate(images):
        for n, v in suggested_run(model, rgb8, value_net).items():
            sug[n].append(v)
        if not args.skip_random:
            for n, v in random_run(model, rgb8, args.seed, i).items():
                rnd[n].append(v)
    print(
        f"PSNR (dB) on {len(images)} {args.tar} images, model `{model.name}`, "
        f"hint value: {value_net.name if value_net is not None else 'the distribution'}, "
        f"{time.perf_counter() - t0:.0f} s:\n"
    )
    print("| hints placed | " + " | ".join(f"N={n}" for n in COUNTS) + " |")
    print("|---|" + "---|" * len(COUNTS))
    for name, table in (("suggest_points", sug), ("random (Zhang protocol)", rnd)):
        if table[COUNTS[0]]:
            print(f"| {name} | " + " | ".join(f"{np.mean(table[n]):.2f}" for n in COUNTS) + " |")
    if args.skip_random:
        return
    gain = [np.mean(sug[n]) - np.mean(rnd[n]) for n in COUNTS]
    print("| gain | " + " | ".join(f"{g:+.2f}" for g in gain) + " |")


if __name__ == "__main__":
    main()
