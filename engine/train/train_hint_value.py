"""Train the hint-value head (models/hint_value.py): which place a hint helps most.

    python -m chromahint.train.train_hint_value --out runs/hint_value [--minutes 10] [--resume]

Samples: training photos (--images of each of --shards) at the engine's working size (long side
256), each with 0-9 hints (Zhang's centre-biased draw or uniform places, each a 6x6 patch of
the ground truth's mean ab, as the evaluation gives), go through the shipped photo model;
then each of CANDIDATES places (a 4x4 grid, jittered) gets one more such hint and the true
gain is measured with the model itself: the drop of the mean squared ab error. The head's
inputs and the gains are kept in --out/samples-*.pt, so a resumed run does not make them
again. Loss: listwise — the softmax of the head's scores at the places against the softmax
of the gains (each photo's gains over their spread). Tuning photos: the first --tune of
photos-train-002.tar (never trained on), scored by regret: the gain of the best place minus
that of the place the head ranks first (the hand-made score's regret beside it). The
checkpoint with the lowest tuning regret is --out/hint_value.safetensors (fp16); copy it
into weights/ only when evaluate_suggest shows it better.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F

from chromahint import suggest
from chromahint.models.base import rasterize_hints
from chromahint.models.hint_value import EXTRA_CHANNELS, STRIDE, HintValueNet, head_inputs
from chromahint.models.registry import load_models
from chromahint.pipeline import Prepared, plane_lookup
from chromahint.train.data import default_data_dir, read_tar_images
from chromahint.train.evaluate_photo import PATCH, split_lab, sweep_hints
from chromahint.train.evaluate_suggest import at_working_size, patch_hint

MAX_HINTS = 9
GRID = 4  # CANDIDATES = GRID x GRID places per photo
Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def uniform_hints(ab: np.ndarray, n: int, rng: np.random.Generator) -> list:
    _, h, w = ab.shape
    return [
        patch_hint(
            ab,
            float(rng.uniform(PATCH / 2, w - PATCH / 2)),
            float(rng.uniform(PATCH / 2, h - PATCH / 2)),
        )
        for _ in range(n)
    ]


def candidate_places(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(GRID * GRID, 2) x, y: one uniform place in each cell of a GRID x GRID grid."""
    cells = [(i, j) for i in range(GRID) for j in range(GRID)]
    return np.array(
        [((j + rng.random()) * w / GRID, (i + rng.random()) * h / GRID) for i, j in cells]
    )


@torch.inference_mode()
def gains(model, L: np.ndarray, ab: np.ndarray, hints: list, places: np.ndarray, enc) -> np.ndarray:
    """The drop of the mean squared ab error when each place gets its ground-truth hint."""
    h, w = L.shape
    rasters = [rasterize_hints([*hints, patch_hint(ab, x, y)], h, w) for x, y in places]
    n = len(rasters)
    out, _ = model.net(
        model._lightness(L).expand(n, -1, -1, -1),
        torch.from_numpy(np.stack([r[0] for r in rasters])),
        torch.from_numpy(np.stack([r[1] for r in rasters])),
        model.global_input(None)[None].expand(n, -1),
        [f.expand(n, -1, -1, -1) for f in enc],
    )
    truth = torch.from_numpy(ab)[None]
    return ((out.float() - truth) ** 2).sum(1).mean(dim=(1, 2)).numpy()


def sample(model, rgb8: np.ndarray, rng: np.random.Generator) -> Sample:
    """(inputs (1, C, h, w) fp16, places' stride-4 cells (K, 2) as (row, col), their gains
    (K,), the hand-made score at those cells (K,))."""
    L, ab = split_lab(at_working_size(rgb8, model.working_size))
    n = int(rng.integers(0, MAX_HINTS + 1))
    hints = (sweep_hints if rng.random() < 0.5 else uniform_hints)(ab, n, rng)
    enc = model.encode(L)
    pred = model.predict(L, hints, encoded=enc)
    prep = Prepared(plane_lookup(L), L, pred, hints, 1.0, 1.0)
    made = suggest.hand_made(prep)
    x = head_inputs(L, pred, made.expected, made.reached, made.gathered)
    gathered = made.gathered[0, 0]
    places = candidate_places(L.shape[0], L.shape[1], rng)
    before = float(((pred.ab - ab) ** 2).sum(0).mean())
    gain = before - gains(model, L, ab, hints, places, enc)
    h4, w4 = x.shape[-2:]
    cells = np.stack(
        [np.minimum(places[:, 1] // STRIDE, h4 - 1), np.minimum(places[:, 0] // STRIDE, w4 - 1)], 1
    ).astype(np.int64)
    sy = np.minimum(places[:, 1] // 2, gathered.shape[0] - 1).astype(np.int64)
    sx = np.minimum(places[:, 0] // 2, gathered.shape[1] - 1).astype(np.int64)
    hand = gathered[sy, sx]
    return x.half(), torch.from_numpy(cells), torch.from_numpy(gain.astype(np.float32)), hand


def make_samples(model, path: pathlib.Path, limit: int, seed: int) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    t0 = time.perf_counter()
    for i, (_, rgb) in enumerate(read_tar_images(path, limit)):
        out.append(sample(model, rgb, rng))
        if (i + 1) % 100 == 0:
            seconds = time.perf_counter() - t0
            print(f"  {i + 1} samples from {path.name}, {seconds:.0f} s", flush=True)
    return out


def at_cells(net: HintValueNet, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    return net(x.float())[0, 0][cells[:, 0], cells[:, 1]]


def listwise_loss(scores: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    target = F.softmax(gain / gain.std().clamp_min(1e-6), dim=0)
    return -(target * F.log_softmax(scores, dim=0)).sum()


def regret(ranked: torch.Tensor, gain: torch.Tensor) -> float:
    return float(gain.max() - gain[int(torch.argmax(ranked))])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=pathlib.Path, default=default_data_dir())
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/hint_value"))
    ap.add_argument("--shards", nargs="+", default=["photos-train-000.tar", "photos-train-001.tar"])
    ap.add_argument("--images", type=int, default=1000, help="photos per shard")
    ap.add_argument("--tune", type=int, default=150)
    ap.add_argument("--epochs", type=int, default=16, help="the learning rate's cosine length")
    ap.add_argument("--minutes", type=float, default=30.0, help="stop sooner, resumable")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=8, help="samples per step (accumulated)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / "last.pt"
    model = None

    def samples(tar: str, limit: int, seed: int) -> list[Sample]:
        nonlocal model
        cache = args.out / f"samples-{pathlib.Path(tar).stem}-{limit}.pt"
        if cache.is_file():
            return torch.load(cache, weights_only=True)
        if model is None:
            model = load_models("cpu").photo
            if model is None or not model.learned:
                raise SystemExit("the hint-value head needs the learned photo model in weights/")
        made = make_samples(model, args.data / tar, limit, seed)
        torch.save(made, cache)
        return made

    train = [s for i, tar in enumerate(args.shards) for s in samples(tar, args.images, 2 * i)]
    tune = samples("photos-train-002.tar", args.tune, 1)
    net = HintValueNet(train[0][0].shape[1] - EXTRA_CHANNELS)
    hand = float(np.mean([regret(h, g) for _, _, g, h in tune]))
    chance = float(np.mean([float(g.max() - g.mean()) for _, _, g, _ in tune]))
    print(f"tuning regret: hand-made score {hand:.3f}, a random place {chance:.3f}", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    epoch, best, curve = 0, float("inf"), []
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        epoch, best, curve = state["epoch"], state["best"], state["curve"]
    rng = np.random.default_rng(args.seed + epoch)
    deadline = time.monotonic() + 60 * args.minutes
    while epoch < args.epochs and time.monotonic() < deadline:
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / args.epochs))
        net.train()
        total = 0.0
        for step, i in enumerate(rng.permutation(len(train)), 1):
            x, cells, gain, _ = train[i]
            loss = listwise_loss(at_cells(net, x, cells), gain)
            (loss / args.batch).backward()
            total += float(loss.detach())
            if step % args.batch == 0 or step == len(train):
                opt.step()
                opt.zero_grad()
        net.eval()
        with torch.no_grad():
            tuned = float(np.mean([regret(at_cells(net, x, c), g) for x, c, g, _ in tune]))
        epoch += 1
        curve.append((epoch, total / len(train), tuned))
        print(f"epoch {epoch}: train {total / len(train):.5f}  tune {tuned:.5f}", flush=True)
        if tuned < best:
            best = tuned
            from safetensors.torch import save_file

            state = {k: v.half().contiguous() for k, v in net.state_dict().items()}
            save_file(state, str(args.out / "hint_value.safetensors"))
        state = {"net": net.state_dict(), "opt": opt.state_dict(), "epoch": epoch}
        torch.save({**state, "best": best, "curve": curve}, ckpt)
    print("curve (epoch, train, tune):", curve)


if __name__ == "__main__":
    main()
