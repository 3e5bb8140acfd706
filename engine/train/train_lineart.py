"""Train lineart-net (segmentation + colorization jointly, no region labels).

    python -m chromahint.train.train_lineart --minutes 55 --out runs/lineart [--resume]

Each step: the segmentation net's logits are discretized per pixel with a straight-through
Gumbel argmax; Nh ~ truncated geometric(p) picks the first Nh channels, each filled with
its mean ground-truth colour (hint map + mask); random point hints (3x3 patches) are added
to half the samples; the colorizer predicts flat colours and is scored, after the engine's
composite (colour x sketch), with L1 against the ground truth, plus a total-variation term
on the colours and a smoothness term on the region probabilities.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F

from chromahint.lineart import region_labels
from chromahint.models.lineart_net import (
    DEFAULT_CONFIG,
    LINE_THRESHOLD,
    MAX_REGIONS,
    LineartNets,
    load_nets,
    save,
)
from chromahint.train.lineart_data import LineartSet, default_data_dir, load_lineart

REPO = pathlib.Path(__file__).resolve().parents[2]


def sample_hint_counts(n: int, limit: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Truncated geometric on {0..limit}: P(k) proportional to p (1 - p)^k."""
    probs = p * (1 - p) ** np.arange(limit + 1)
    return rng.choice(limit + 1, size=n, p=probs / probs.sum())


def make_batch(
    data: LineartSet, size: int, batch: int, crop_frac: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random samples as (sketch (B,1,S,S), rgb (B,3,S,S)) in [0, 1].

    Most samples are the whole drawing resized to `size`; `crop_frac` of them are
    `size` crops of the full-resolution drawing, so the nets also see lines and regions at
    the scale of a larger working size.
    """
    idx = rng.integers(0, len(data.names), batch)
    sk = torch.from_numpy(data.sketch[idx]).float()[:, None] / 255.0
    rgb = torch.from_numpy(data.color[idx]).float().permute(0, 3, 1, 2) / 255.0
    full = sk.shape[-1]
    out_sk, out_rgb = [], []
    for i in range(batch):
        s, c = sk[i : i + 1], rgb[i : i + 1]
        if full > size and rng.random() < crop_frac:
            y, x = rng.integers(0, full - size + 1, 2)
            s, c = s[..., y : y + size, x : x + size], c[..., y : y + size, x : x + size]
        elif full != size:
            s = F.interpolate(s, size=(size, size), mode="area")
            c = F.interpolate(c, size=(size, size), mode="area")
        if rng.random() < 0.5:
            s, c = s.flip(-1), c.flip(-1)
        out_sk.append(s)
        out_rgb.append(c)
    return torch.cat(out_sk), torch.cat(out_rgb)


def gumbel_hard(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """One-hot argmax of logits + Gumbel noise over channels, with softmax gradients."""
    g = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)))
    soft = torch.softmax((logits + g) / tau, 1)
    hard = F.one_hot(soft.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).to(soft.dtype)
    return hard - soft.detach() + soft


def region_hints(
    assign: torch.Tensor, rgb: torch.Tensor, counts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """assign (B,K,H,W) one-hot (0 on lines), counts (B,) -> hint (B,3,H,W), mask (B,1,H,W)."""
    k = assign.shape[1]
    sel = (torch.arange(k, device=assign.device)[None] < counts[:, None]).to(assign.dtype)
    area = assign.sum((2, 3))
    mean = torch.einsum("bkhw,bchw->bkc", assign, rgb) / (area[..., None] + 1e-6)
    chosen = assign * sel[..., None, None]
    hint = torch.einsum("bkhw,bkc->bchw", chosen, mean)
    return hint, chosen.sum(1, keepdim=True)


def point_hints(
    sketch: torch.Tensor, rgb: torch.Tensor, counts: np.ndarray, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 3x3 patches of the local mean colour at non-line pixels -> hint, mask."""
    b, _, h, w = sketch.shape
    centers = torch.zeros(b, 1, h, w)
    paper = (sketch[:, 0] >= LINE_THRESHOLD).cpu().numpy()
    for i in range(b):
        ys, xs = np.nonzero(paper[i])
        if counts[i] and len(ys):
            pick = rng.integers(0, len(ys), counts[i])
            centers[i, 0, ys[pick], xs[pick]] = 1.0
    centers = centers.to(sketch.device)
    local = F.avg_pool2d(rgb, 3, 1, 1, count_include_pad=False)
    cover = F.avg_pool2d(centers, 3, 1, 1) * 9
    mask = (cover > 0).float()
    hint = F.avg_pool2d(local * centers, 3, 1, 1) * 9 / cover.clamp(min=1.0)
    return hint, mask


def neighbour_l1(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean |x(p) - x(q)| over horizontally/vertically adjacent pixel pairs both valid."""
    vx = valid[..., :, 1:] * valid[..., :, :-1]
    vy = valid[..., 1:, :] * valid[..., :-1, :]
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs() * vx
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs() * vy
    return (dx.sum() + dy.sum()) / ((vx.sum() + vy.sum()) * x.shape[1] + 1e-6)


def area_hints(
    sketch: torch.Tensor, rgb: torch.Tensor, counts: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first counts[i] regions the engine would number (closed areas in priority order),
    each filled with its ground-truth mean colour -> hint (B,3,H,W), mask (B,1,H,W)."""
    hint, mask = torch.zeros_like(rgb), torch.zeros_like(sketch)
    for i in range(sketch.shape[0]):
        if counts[i] == 0:
            continue
        sk = sketch[i, 0].cpu().numpy()
        labels = torch.from_numpy(region_labels(sk)).to(sketch.device)
        for rid in range(1, int(counts[i]) + 1):
            sel = labels == rid
            if not sel.any():
                break
            hint[i][:, sel] = rgb[i][:, sel].mean(1, keepdim=True)
            mask[i, 0][sel] = 1.0
    return hint, mask


def hint_counts(
    b: int, regions: int, args: argparse.Namespace, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Region and point hint counts per sample (truncated geometric each)."""
    counts = sample_hint_counts(b, regions, args.hint_p, rng)
    n_points = sample_hint_counts(b, args.max_points, args.hint_p, rng)
    with_points = rng.random(b) < args.point_frac
    n_points[~with_points] = 0
    # Next to region hints, points barely change the loss, so the colorizer would learn to
    # ignore them; some samples get points alone.
    counts[with_points & (rng.random(b) < args.points_only)] = 0
    return counts, n_points


def add_points(
    hint: torch.Tensor,
    mask: torch.Tensor,
    sketch: torch.Tensor,
    rgb: torch.Tensor,
    n_points: np.ndarray,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random point hints laid over the region hints."""
    p_hint, p_mask = point_hints(sketch, rgb, n_points, rng)
    return hint * (1 - p_mask) + p_hint * p_mask, torch.maximum(mask, p_mask)


def train_step(
    nets: LineartNets,
    sketch: torch.Tensor,
    rgb: torch.Tensor,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Joint training (Gumbel regions + colorizer), or with --colorizer-from the colorizer
    alone on the engine's own regions, its loss on unhinted pixels only (the engine paints
    hinted regions exactly their hint colour)."""
    paper = (sketch >= LINE_THRESHOLD).float()
    b = sketch.shape[0]
    if args.colorizer_from is not None:
        counts, n_points = hint_counts(b, MAX_REGIONS, args, rng)
        hint, mask = area_hints(sketch, rgb, counts)
        hint, mask = add_points(hint, mask, sketch, rgb, n_points, rng)
        pred = nets.colorize(sketch, hint, mask)
        free = 1 - mask
        rec = ((pred * sketch - rgb).abs() * free).sum() / (free.sum() * 3 + 1e-6)
        tv = neighbour_l1(pred, paper)
        return {"loss": rec + args.tv * tv, "rec": rec, "tv": tv}
    logits = nets.segment(sketch)
    assign = gumbel_hard(logits, args.tau) * paper
    counts, n_points = hint_counts(b, nets.config["max_regions"], args, rng)
    hint, mask = region_hints(assign, rgb, torch.from_numpy(counts).to(sketch.device))
    hint, mask = add_points(hint, mask, sketch, rgb, n_points, rng)
    pred = nets.colorize(sketch, hint, mask)
    rec = (pred * sketch - rgb).abs().mean()
    tv = neighbour_l1(pred, paper)
    smooth = neighbour_l1(torch.softmax(logits, 1), paper)
    total = rec + args.tv * tv + args.smooth * smooth
    return {"loss": total, "rec": rec, "tv": tv, "smooth": smooth}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    ap.add_argument("--out", type=pathlib.Path, default=REPO / "runs" / "lineart")
    ap.add_argument("--minutes", type=float, default=55.0, help="wall-clock budget of this run")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--size", type=int, default=128, help="training crop/resize side")
    ap.add_argument("--load-size", type=int, default=256, help="resolution kept in memory")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--crop-frac", type=float, default=0.25)
    ap.add_argument("--hint-p", type=float, default=0.125)
    ap.add_argument("--max-points", type=int, default=30)
    ap.add_argument("--point-frac", type=float, default=0.5, help="samples with point hints")
    ap.add_argument("--points-only", type=float, default=0.5, help="of those, without regions")
    ap.add_argument("--tau", type=float, default=1.0)
    ap.add_argument("--tv", type=float, default=0.01)
    ap.add_argument("--smooth", type=float, default=0.01)
    ap.add_argument("--max-regions", type=int, default=DEFAULT_CONFIG["max_regions"])
    ap.add_argument("--working-size", type=int, default=DEFAULT_CONFIG["working_size"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--limit", type=int, default=None, help="use only this many samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--colorizer-from",
        type=pathlib.Path,
        default=None,
        help="fine-tune only the colorizer of these weights, on the engine's closed-area regions",
    )
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.out / "checkpoint.pt"

    config = dict(DEFAULT_CONFIG, max_regions=args.max_regions, working_size=args.working_size)
    step, done_s = 0, 0.0
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True) if args.resume else None
    if state is not None:
        config = state["config"]
    nets = LineartNets(config).to(device)
    if args.colorizer_from is not None and state is None:
        nets = load_nets(args.colorizer_from).to(device)
        config = nets.config
    tune = args.colorizer_from is not None
    opt = torch.optim.Adam(nets.color.parameters() if tune else nets.parameters(), lr=args.lr)
    if state is not None:
        nets.load_state_dict(state["nets"])
        opt.load_state_dict(state["opt"])
        step, done_s = state["step"], state["seconds"]
        rng = np.random.default_rng(args.seed + step)
    total_s = done_s + args.minutes * 60

    t_load = time.time()
    data = load_lineart(args.data, "train", size=args.load_size, limit=args.limit)
    print(f"loaded {len(data.names)} drawings in {time.time() - t_load:.0f}s", flush=True)

    def checkpoint() -> None:
        meta = {"config": config, "step": step, "seconds": done_s}
        torch.save({**meta, "nets": nets.state_dict(), "opt": opt.state_dict()}, ckpt_path)
        save(nets, args.out / "lineart_net.safetensors")

    start = time.time() - done_s
    last_ckpt = time.time()
    log: dict[str, float] = {}
    nets.train()
    while done_s < total_s:
        # Linear warm-up, then cosine decay over the whole (resumed) time budget.
        frac = done_s / total_s
        lr = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        sketch, rgb = make_batch(data, args.size, args.batch, args.crop_frac, rng)
        sketch, rgb = sketch.to(device), rgb.to(device)
        terms = train_step(nets, sketch, rgb, args, rng)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        step += 1
        done_s = time.time() - start
        for k, v in terms.items():
            log[k] = log.get(k, 0.0) + v.item()
        if step % 50 == 0:
            means = " ".join(f"{k} {v / 50:.4f}" for k, v in log.items())
            print(f"step {step} {done_s / 60:.1f}min lr {lr:.2e} {means}", flush=True)
            log.clear()
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
    checkpoint()
    print(f"done: {step} steps, {done_s / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
