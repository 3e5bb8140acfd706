"""Train photo-net (see engine/models/photo_net.py and weights/README.md).

    python -m chromahint.train.train_photo --minutes 70 --out runs/photo
    python -m chromahint.train.train_photo --minutes 30 --out runs/photo --resume

Checkpoints are fp16 safetensors (< 16 MiB) holding the weights and, as metadata, the
step count and elapsed time; Adam's moments are not kept (they would triple the size),
so a resumed run re-warms them with a short learning-rate warm-up.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from chromahint.models.ab_bins import soft_encode
from chromahint.models.lab_torch import rgb_to_lab
from chromahint.models.photo_net import PhotoColorizer, PhotoNet
from chromahint.train.data import (
    HintConfig,
    iter_batches,
    read_tar_images,
    simulate_hints,
)
from chromahint.train.evaluate_photo import psnr_sweep
from chromahint.train.loop import (
    WallClockRun,
    add_run_arguments,
    load_checkpoint,
    log_file,
    set_lrs,
)

CLASS_WEIGHT = 0.5


def init_or_resume(
    checkpoint: pathlib.Path | None, args: argparse.Namespace
) -> tuple[PhotoNet, dict]:
    """A fresh net on ImageNet encoder weights, or the checkpoint's net and progress."""
    net = PhotoNet()
    if checkpoint is None or not checkpoint.exists():
        net.encoder.load_imagenet()
        return net, {
            "step": 0,
            "elapsed_s": 0.0,
            "plan_s": 60 * (args.plan_minutes or args.minutes),
        }
    state, meta = load_checkpoint(checkpoint)
    net.load_state_dict(state)
    print(f"resumed at step {meta['step']}, {meta['elapsed_s'] / 60:.1f} min trained")
    return net, meta


def freeze_early_encoder(net: PhotoNet, blocks: int) -> list[torch.nn.Parameter]:
    """Keep the stem and the first `blocks` MBConv blocks at their ImageNet weights."""
    enc = net.encoder
    frozen = [enc._conv_stem, enc._bn0, *enc._blocks[:blocks]]
    for module in frozen:
        module.requires_grad_(False)
    return [p for p in enc.parameters() if p.requires_grad]


def set_train_mode(net: PhotoNet) -> None:
    """Train the decoder; keep every encoder BatchNorm on its ImageNet statistics."""
    net.train()
    for m in net.encoder.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


def bins_of(net: torch.nn.Module) -> torch.Tensor:
    """The net's ab bin centres: a registered buffer, which nn.Module types as Tensor | Module."""
    return cast(torch.Tensor, net.bins)


def losses(
    net: torch.nn.Module, ab_pred: torch.Tensor, logits: torch.Tensor, ab: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    # Huber in units of 10 ab: quadratic (PSNR-like) for small errors, robust beyond.
    reg = F.smooth_l1_loss(ab_pred / 10.0, ab / 10.0, beta=1.0)
    target_ab = F.avg_pool2d(ab, 4, ceil_mode=True)
    flat = target_ab.permute(0, 2, 3, 1).reshape(-1, 2)
    target = soft_encode(flat, bins_of(net)).view(*target_ab.shape[:1], *target_ab.shape[2:], -1)
    logp = F.log_softmax(logits, dim=1).permute(0, 2, 3, 1)
    return reg, -(target * logp).sum(-1).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description="Train photo-net.")
    add_run_arguments(parser, "runs/photo", ckpt_minutes=5.0, val_images=48, threads=2)
    # On a CPU the encoder's backward costs as much as the whole decoder's, so the
    # default trains the decoder on frozen ImageNet features; on a GPU use e.g. 3.
    parser.add_argument(
        "--freeze-blocks",
        type=int,
        default=16,
        help="encoder MBConv blocks kept frozen (16 = the whole encoder)",
    )
    parser.add_argument("--encoder-lr", type=float, default=2e-4)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    last = args.out / "last.safetensors"
    log = log_file(args.out)

    net, meta = init_or_resume(last if args.resume else None, args)
    net.to(device)
    enc_params = freeze_early_encoder(net, args.freeze_blocks)
    enc_ids = {id(p) for p in net.encoder.parameters()}
    dec_params = [p for p in net.parameters() if id(p) not in enc_ids]
    opt = torch.optim.AdamW(
        [{"params": dec_params, "lr": args.lr}, {"params": enc_params, "lr": args.encoder_lr}],
        weight_decay=1e-4,
    )
    base_lrs = [args.lr, args.encoder_lr]

    rng = np.random.default_rng([args.seed, meta["step"]])
    shards = sorted(args.data.glob("photos-train-*.tar"))
    batches = iter_batches(shards, args.batch, args.size, rng)
    bins = bins_of(net).cpu()
    cfg = HintConfig()
    val = [rgb for _, rgb in read_tar_images(args.data / "photos-val.tar", args.val_images)]

    run = WallClockRun(meta, args.minutes, args.ckpt_minutes, args.max_steps)

    def validate(n: torch.nn.Module) -> dict:
        return psnr_sweep(PhotoColorizer(n, str(device), half=False), val, (0, 10))

    while True:
        if run.checkpoint_if_due(net, last, validate, log):
            break
        set_train_mode(net)
        rgb = next(batches)
        lab = rgb_to_lab(rgb)
        hint_ab, mask, glob = simulate_hints(lab[:, 1:], bins, rng, cfg)
        L, ab = lab[:, :1].to(device), lab[:, 1:].to(device)
        ab_pred, logits = net(L, hint_ab.to(device), mask.to(device), glob.to(device))
        reg, ce = losses(net, ab_pred, logits, ab)
        loss = reg + CLASS_WEIGHT * ce
        scale = run.lr_scale()
        set_lrs(opt, base_lrs, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.step(loss.item(), f"reg {reg.item():.3f} ce {ce.item():.3f} lr {scale:.3f}")


if __name__ == "__main__":
    main()
