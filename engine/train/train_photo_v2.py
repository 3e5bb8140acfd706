"""Train photo-net-v2 (engine/models/photo_prop.py) from cached encoder features.

    python -m chromahint.train.train_photo_v2 --minutes 120 --out runs/photo_v2 --threads 1
    python -m chromahint.train.train_photo_v2 --minutes 60 --out runs/photo_v2 --resume
    python -m chromahint.train.train_photo_v2 --init weights/photo_net_v2.safetensors \
        --sources imagenet-val,bsds-train,coco128,camvid --crops-per-photo 4 --out runs/v2_natural

The encoder is frozen, so its features are computed once per crop set (one random crop
per training photo; `--crop-seed` draws another set) and kept in OUT/cache-<seed>.npz,
fp16; each step then costs only the decoder and the propagation. A fresh run starts from
photo-net-v1's trained decoder where shapes match, or with `--init` from a v2 file (to
fine-tune it, e.g. on the natural scenes among the training photos with `--sources`: most
of them are caltech101 objects and clothing on white, while photos-val is ImageNet).
Checkpoints as in train_photo.py.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F

from chromahint.models.lab_torch import rgb_to_lab
from chromahint.models.photo_net import PhotoColorizer, load_state
from chromahint.models.photo_prop import PhotoPropNet, from_state, from_v1
from chromahint.train import loop
from chromahint.train.data import HintConfig, random_crop, read_tar_images, simulate_hints
from chromahint.train.evaluate_photo import psnr_sweep
from chromahint.train.train_photo import (
    CLASS_WEIGHT,
    bins_of,
    losses,
)

PRIOR_WEIGHT = 0.3
V1_WEIGHTS = pathlib.Path(__file__).resolve().parents[2] / "weights" / "photo_net.safetensors"


def build_cache(
    net: PhotoPropNet,
    shards: list[pathlib.Path],
    size: int,
    seed: int,
    path: pathlib.Path,
    sources: tuple[str, ...] = (),
    per_photo: int = 1,
) -> dict[str, np.ndarray]:
    """`per_photo` crops per photo (of the `sources` named, or all): their RGB (uint8) and
    the five encoder taps (fp16)."""
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    rng = np.random.default_rng([seed, 99])
    crops = [
        random_crop(rgb, size, rng)
        for s in shards
        for name, rgb in read_tar_images(s)
        if not sources or name.split("/", 1)[0] in sources
        for _ in range(per_photo)
    ]
    rgb = np.stack(crops)
    taps: list[list[np.ndarray]] = [[] for _ in range(5)]
    t0 = time.time()
    with torch.inference_mode():
        for i in range(0, len(rgb), 64):
            x = torch.from_numpy(rgb[i : i + 64]).permute(0, 3, 1, 2).float() / 255.0
            feats = net.features(rgb_to_lab(x)[:, :1])
            for k, f in enumerate(feats):
                taps[k].append(f.half().numpy())
            if i % 2048 == 0:
                print(f"cache {i}/{len(rgb)} {time.time() - t0:.0f} s", flush=True)
    cache = {"rgb": rgb, **{f"f{k}": np.concatenate(t) for k, t in enumerate(taps)}}
    tmp = path.with_suffix(".tmp.npz")
    # pyright matches the str-keyed arrays to savez's allow_pickle: bool; no key is that name
    np.savez(tmp, **cache)  # pyright: ignore[reportArgumentType]
    tmp.replace(path)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description="Train photo-net-v2.")
    loop.add_run_arguments(parser, "runs/photo_v2", ckpt_minutes=10.0, val_images=32, threads=1)
    parser.add_argument("--crop-seed", type=int, default=0, help="which crop set to cache")
    parser.add_argument("--init", type=pathlib.Path, help="start from this v2 file (fine-tune)")
    parser.add_argument("--sources", default="", help="only these photo sources, comma-separated")
    parser.add_argument("--crops-per-photo", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    last = args.out / "last.safetensors"
    log = loop.log_file(args.out)

    meta = {"step": 0, "elapsed_s": 0.0, "plan_s": 60 * (args.plan_minutes or args.minutes)}
    if args.resume and last.exists():
        state, meta = loop.load_checkpoint(last)
        net = from_state(state)
        print(f"resumed at step {meta['step']}, {meta['elapsed_s'] / 60:.1f} min trained")
    elif args.init is not None:
        net = from_state(load_state(args.init))
    else:
        from chromahint.models.photo_net import PhotoNet

        v1_state = load_state(V1_WEIGHTS)
        v1 = PhotoNet(bins=v1_state["bins"].numpy())
        v1.load_state_dict(v1_state)
        net = from_v1(v1)
    net.encoder.requires_grad_(False)
    net.encoder.eval()

    shards = sorted(args.data.glob("photos-train-*.tar"))
    sources = tuple(x for x in args.sources.split(",") if x)
    # The crop set's name says what is in it: the default set keeps its old name.
    name = f"cache-{args.crop_seed}"
    if sources or args.crops_per_photo != 1:
        name += f"-{'+'.join(sources) or 'all'}-{args.crops_per_photo}"
    cache = build_cache(
        net,
        shards,
        args.size,
        args.crop_seed,
        args.out / f"{name}.npz",
        sources,
        args.crops_per_photo,
    )
    n_crops = len(cache["rgb"])
    params = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng([args.seed, meta["step"]])
    bins = bins_of(net)
    cfg = HintConfig()
    val = [rgb for _, rgb in read_tar_images(args.data / "photos-val.tar", args.val_images)]

    run = loop.WallClockRun(meta, args.minutes, args.ckpt_minutes, args.max_steps)

    def validate(n: torch.nn.Module) -> dict:
        return psnr_sweep(PhotoColorizer(n, "cpu", half=False), val, (0, 1, 10, 100))

    while True:
        if run.checkpoint_if_due(net, last, validate, log):
            break
        net.train()
        net.encoder.eval()
        idx = np.sort(rng.choice(n_crops, args.batch, replace=False))
        feats = [torch.from_numpy(cache[f"f{k}"][idx]).float() for k in range(5)]
        rgb = torch.from_numpy(cache["rgb"][idx]).permute(0, 3, 1, 2).float() / 255.0
        lab = rgb_to_lab(rgb)
        hint_ab, mask, glob = simulate_hints(lab[:, 1:], bins, rng, cfg)
        L, ab = lab[:, :1], lab[:, 1:]
        ab_pred, logits, prior = net.decode(feats, L, hint_ab, mask, glob)
        reg, ce = losses(net, ab_pred, logits, ab)
        prior_reg = F.smooth_l1_loss(prior / 10.0, F.avg_pool2d(ab, 2) / 10.0, beta=1.0)
        loss = reg + CLASS_WEIGHT * ce + PRIOR_WEIGHT * prior_reg
        scale = run.lr_scale()
        loop.set_lrs(opt, [args.lr], scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        details = f"reg {reg.item():.3f} ce {ce.item():.3f} prior {prior_reg.item():.3f}"
        run.step(loss.item(), f"{details} lr {scale:.3f}")


if __name__ == "__main__":
    main()
