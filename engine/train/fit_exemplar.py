"""Fit the trust of reference matches (engine/exemplar.py's TRUST_COEF), He et al.'s
similarity sub-net in its smallest form: a logistic model over each cell's match cues.

    python -m chromahint.train.fit_exemplar --targets 800 --check 200 --recollect

(the command behind the shipped TRUST_COEF; --cache runs/retrieval-index.npz by default)

Targets: the photos of photos-train-002 (with `--targets-from imagenet`, the ImageNet photos
among all training photos, like photos-val's), long side 256, no point hints. Each gets three
references: its top-1 recommendation from the index (evaluate_retrieval's, never itself: the
case that matters), a random index photo (a bad reference), and itself flipped, cropped and
jittered (a reference that surely fits). A cell's label: the matched colour is closer to the
truth (ΔE_ab of the cell means) than the model's automatic answer; each cell counts by how
much closer or farther, so the fit cares about the cells that change the picture. Even
targets fit, odd ones check: PSNR of automatic vs the top-1 reference under the previous
rule and the fitted trust at a few thresholds. Prints TRUST_COEF for exemplar.py.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch
from PIL import Image as PILImage

from chromahint import exemplar, references
from chromahint.color import rgb_to_lab
from chromahint.imaging import decode, lightness, resize_plane, working_shape
from chromahint.train.data import default_data_dir, read_tar_images
from chromahint.train.evaluate_exemplar import best_case, image, learned_photo
from chromahint.train.evaluate_photo import psnr, split_lab
from chromahint.train.evaluate_retrieval import INDEX_SHARDS, TARGET_SHARD, load_index, plane
from chromahint_client import protocol as P

THRESHOLDS = (0.6, 0.7, 0.8)
RIDGE = 1e-3
ORACLE_GAIN = 5.0  # ΔE_ab: the oracle row hints only cells the reference improves by this


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, steps: int = 30) -> np.ndarray:
    """Weighted logistic regression by Newton's method, a small ridge for stability."""
    coef = np.zeros(x.shape[1])
    for _ in range(steps):
        p = exemplar.trust(x, coef)
        grad = x.T @ (w * (p - y)) + RIDGE * coef
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + RIDGE * np.eye(x.shape[1])
        coef -= np.linalg.solve(hess, grad)
    return coef


def square_long_side(rgb8: np.ndarray, side: int) -> np.ndarray:
    h, w, _ = rgb8.shape
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(PILImage.fromarray(rgb8).resize(size, PILImage.Resampling.LANCZOS))


def cues_of(c: exemplar.Cells) -> tuple[np.ndarray, torch.Tensor]:
    assert c.cues is not None and c.prior_ab is not None, "cells without with_cues()"
    return c.cues, c.prior_ab


def closer(c: exemplar.Cells, gt_ab: np.ndarray) -> np.ndarray:
    """Per cell: how much closer (ΔE_ab) the matched colour is to the truth than the
    model's automatic answer."""
    truth = exemplar.pool(gt_ab.astype(np.float32), (c.mutual.shape[0], c.mutual.shape[1]))
    err_ref = (c.warped - truth).norm(dim=0).reshape(-1)
    err_prior = (cues_of(c)[1] - truth).norm(dim=0).reshape(-1)
    return (err_prior - err_ref).numpy().astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=pathlib.Path, default=pathlib.Path("runs/retrieval-index.npz"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=int, default=300, help="odd targets to check at most")
    ap.add_argument(
        "--cells", type=pathlib.Path, default=pathlib.Path("runs/fit-exemplar-cells.npz"),
        help="the fit's cells, kept: a later run with the same cues reuses them",
    )  # fmt: skip
    ap.add_argument("--recollect", action="store_true", help="collect the cells again")
    ap.add_argument(
        "--targets-from", choices=("shard", "imagenet"), default="shard",
        help=f"the photos of {TARGET_SHARD} (default), or the training photos' ImageNet ones",
    )  # fmt: skip
    args = ap.parse_args()
    model = learned_photo(args.threads)
    data = default_data_dir()
    names, photos, table, _ = load_index(model, data, args.cache)
    rng = np.random.default_rng(args.seed)
    if args.targets_from == "imagenet":
        # ImageNet photos, like photos-val's; one in the index is never its own reference.
        shards = (*INDEX_SHARDS, TARGET_SHARD)
        found = [
            m for s in shards for m in read_tar_images(data / s) if m[0].startswith("imagenet")
        ]
        order = rng.permutation(len(found))
        targets = [found[i] for i in order[: args.targets]]
    else:
        targets = list(read_tar_images(data / TARGET_SHARD, args.targets))
    where = {n: i for i, n in enumerate(names)}
    t0 = time.perf_counter()
    xs, ys, ws, checks = [], [], [], []
    saved = args.cells if args.cells.is_file() and not args.recollect else None
    for i, (name, rgb) in enumerate(targets):
        ranked = references.scores(references.describe(model, [plane(rgb)])[0], table)
        if name in where:
            ranked[where[name]] = -np.inf
        top1 = int(np.argmax(ranked))
        rgb = square_long_side(rgb, model.working_size)
        raster = decode(image(rgb))
        ww, wh = working_shape(raster.width, raster.height, model.working_size)
        L = resize_plane(lightness(raster), ww, wh)
        encoded = model.encode(L)
        refs = {"top1": photos[top1], "random": photos[int(rng.integers(len(photos)))]}
        refs["best"] = best_case(rgb, rng)
        gt = np.ascontiguousarray(rgb_to_lab(rgb / 255.0)[..., 1:].transpose(2, 0, 1))
        if i % 2:
            if len(checks) < args.check:
                checks.append((rgb, L, encoded, refs, gt))
            continue
        if saved is not None:
            continue
        for ref in refs.values():
            ref_lab = exemplar.reference_lab(decode(image(ref)), model.working_size)
            c = exemplar.with_cues(
                exemplar.cells(model, L, encoded, ref_lab), model, L, encoded, None
            )
            gain = closer(c, gt)
            xs.append(cues_of(c)[0])
            ys.append((gain > 0).astype(np.float64))
            ws.append(np.abs(gain))
        if i % 100 == 0:
            print(f"{i}/{len(targets)} targets, {time.perf_counter() - t0:.0f} s", flush=True)
    if saved is not None:
        with np.load(saved) as z:
            x, y, w = z["x"], z["y"], z["w"]
    else:
        x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
        np.savez(args.cells, x=x, y=y, w=w)
    coef = fit_logistic(x, y, w / w.mean())
    print(
        f"\n{len(x)} cells from {len(targets) // 2 + len(targets) % 2} targets; {y.mean():.3f} "
        "have the reference closer"
    )
    values = ", ".join(f"{v:.4f}" for v in coef)
    print(f"TRUST_COEF = np.array([{values}])  # {' '.join(exemplar.CUES)}")

    def previous(c: exemplar.Cells) -> np.ndarray:
        # The rule before the trust: every good mutual match, gated by the mean fit.
        gate = np.clip((float(c.mutual.mean()) - 0.2) / 0.1, 0, 1)
        return exemplar.fitting_weight(c) * gate

    def thresholded(t: float):
        return lambda c, p: np.where(p > t, p, 0.0)

    def switched(t: float):
        # exemplar.match's rule at MIN_TRUST = t.
        def rule(c: exemplar.Cells, p: np.ndarray) -> np.ndarray:
            fits = float(c.mutual.mean()) >= P.REFERENCE_FIT_FULL
            return exemplar.fitting_weight(c) if fits else thresholded(t)(c, p)

        return rule

    rules = {"previous rule": lambda c, p: previous(c), "oracle (reads the truth)": None}
    rules |= {f"trust > {t}": thresholded(t) for t in THRESHOLDS}
    rules |= {f"fits: all matches, else trust > {t}": switched(t) for t in THRESHOLDS}
    kinds = ("top1", "best", "random")
    scores = {k: {name: [] for name in ["automatic", *rules]} for k in kinds}
    for rgb, L, encoded, refs, gt in checks:
        L_true, _ = split_lab(rgb)
        auto = psnr(rgb, L_true, model.predict(L, [], None, with_probs=False, encoded=encoded).ab)
        for kind in kinds:
            scores[kind]["automatic"].append(auto)
            ref_lab = exemplar.reference_lab(decode(image(refs[kind])), model.working_size)
            c = exemplar.with_cues(
                exemplar.cells(model, L, encoded, ref_lab), model, L, encoded, None
            )
            p_fit = exemplar.trust(cues_of(c)[0], coef)
            for name, rule in rules.items():
                if rule is None:
                    p = (closer(c, gt) > ORACLE_GAIN).astype(np.float64)
                else:
                    p = rule(c, p_fit)
                dense = exemplar.dense_hints(c, p, L.shape)
                pred = model.predict(L, [], None, with_probs=False, encoded=encoded, dense=dense)
                scores[kind][name].append(psnr(rgb, L_true, pred.ab))
    auto_mean = np.mean(scores["top1"]["automatic"])
    print(
        f"\nCheck, {len(checks)} odd targets of {TARGET_SHARD}: PSNR dB minus automatic "
        f"({auto_mean:.2f} dB) by reference\n"
    )
    print("| rule | top-1 recommendation | itself, jittered | random photo |\n|---|---|---|---|")
    for name in rules:
        row = " | ".join(f"{np.mean(scores[k][name]) - auto_mean:+.2f}" for k in kinds)
        print(f"| {name} | {row} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
