"""Colorization from a reference (issue 11's protocol), printed as a markdown table.

    python -m chromahint.train.evaluate_exemplar [--limit 200] [--mode regions|palette]

photos-val at 256², no point hints, PSNR (as evaluate_photo) of: automatic; reference = the
ground truth flipped, cropped to 85 % at a random place and colour-jittered by up to ±10 %
per channel (the best case); reference = a random training photo (a bad reference). Each
goes through the engine's own path (pipeline.predict with a reference) on the installed
photo model; the mean reference_confidence of each case is printed beside it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image as PILImage

from chromahint.imaging import decode
from chromahint.models.registry import load_models
from chromahint.pipeline import Timer, predict
from chromahint.train.data import default_data_dir, read_tar_images
from chromahint.train.evaluate_photo import psnr, split_lab
from chromahint_client import protocol as P

TRAIN_SHARD = "photos-train-002.tar"
CROP = 0.85
JITTER = 0.1


def image(rgb8: np.ndarray) -> P.Image:
    rgb8 = np.ascontiguousarray(rgb8)
    return P.Image(rgb8.shape[1], rgb8.shape[0], "rgb8", rgb8.tobytes())


def best_case(rgb8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ground truth flipped, cropped and colour-jittered: a reference that surely fits."""
    h, w, _ = rgb8.shape
    ch, cw = int(h * CROP), int(w * CROP)
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = np.ascontiguousarray(rgb8[y0 : y0 + ch, x0 : x0 + cw, :][:, ::-1])
    crop = np.asarray(PILImage.fromarray(crop).resize((w, h), PILImage.Resampling.BILINEAR))
    gain = rng.uniform(1 - JITTER, 1 + JITTER, 3)
    return np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def learned_photo(threads: int):
    """The installed learned photo model on the CPU with `threads` torch threads."""
    torch.set_num_threads(threads)
    model = load_models("cpu").photo
    if model is None or not model.learned:
        raise SystemExit("a reference needs the learned photo model")
    return model


def score(model, rgb8: np.ndarray, reference, mode: P.ReferenceMode) -> tuple[float, float]:
    """PSNR, and the reference confidence (NaN without a reference)."""
    L, _ = split_lab(rgb8)
    ref = None if reference is None else (image(reference), mode)
    prep = predict(model, decode(image(rgb8)), [], None, Timer(), False, None, ref)
    conf = prep.reference_confidence
    return psnr(rgb8, L, prep.pred.ab), float("nan") if conf is None else conf


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--limit", type=int, default=200, help="first N validation images")
    ap.add_argument("--mode", choices=[m.value for m in P.ReferenceMode], default="regions")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    mode = P.ReferenceMode(args.mode)
    model = learned_photo(args.threads)
    data = default_data_dir()
    val = [rgb for _, rgb in read_tar_images(data / "photos-val.tar", args.limit)]
    train = [rgb for _, rgb in read_tar_images(data / TRAIN_SHARD, 2000)]
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[tuple[float, float]]] = {"automatic": [], "best": [], "random": []}
    t0 = time.perf_counter()
    for rgb8 in val:
        rows["automatic"].append(score(model, rgb8, None, mode))
        rows["best"].append(score(model, rgb8, best_case(rgb8, rng), mode))
        other = train[int(rng.integers(len(train)))]
        rows["random"].append(score(model, rgb8, other, mode))
    auto = np.mean([p for p, _ in rows["automatic"]])
    print(
        f"photos-val, first {len(val)} images at 256², no point hints, `{model.name}`, "
        f"reference_mode {mode.value}, {time.perf_counter() - t0:.0f} s:\n"
    )
    print("| reference | PSNR (dB) | vs automatic | mean reference_confidence |")
    print("|---|---|---|---|")
    labels = {
        "automatic": "none (automatic)",
        "best": "ground truth flipped, cropped, jittered",
        "random": f"a random training photo ({TRAIN_SHARD})",
    }
    for key, label in labels.items():
        p = np.mean([v for v, _ in rows[key]])
        c = np.nanmean([c for _, c in rows[key]]) if key != "automatic" else float("nan")
        conf = "" if np.isnan(c) else f"{c:.3f}"
        print(f"| {label} | {p:.2f} | {p - auto:+.2f} | {conf} |")


if __name__ == "__main__":
    main()
