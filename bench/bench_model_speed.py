"""CPU speed of photo-net vs a same-shape stand-in of Zhang et al. 2017 (siggraph17).

    OMP_WAIT_POLICY=PASSIVE python bench/bench_model_speed.py [--threads 2] [--repeats 7]

On a CPU shared with other jobs, OpenMP's default spin-waiting makes 2-thread torch
10-25x slower; OMP_WAIT_POLICY=PASSIVE (set before Python starts) avoids that.

The stand-in has the conv layers of Zhang et al.'s SIGGRAPHGenerator with random weights
(speed does not depend on them). Both run float32 under torch.inference_mode at the same
size; the median of --repeats runs after warm-up is reported, as a markdown snippet.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import time
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
from torch import nn

from chromahint.train.evaluate_photo import load_photo

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights"


def convs(cin: int, cout: int, n: int, dilation: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, dilation, dilation), nn.ReLU()]
    return layers + [nn.BatchNorm2d(cout)]


class ZhangStandIn(nn.Module):
    """Zhang et al. 2017's network: conv1-7 encoder (conv5/6 dilated), conv8-10 decoder
    with transposed-conv upsampling and shortcuts, a 529-way class head and ab output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*convs(4, 64, 2))
        self.conv2 = nn.Sequential(*convs(64, 128, 2))
        self.conv3 = nn.Sequential(*convs(128, 256, 3))
        self.conv4 = nn.Sequential(*convs(256, 512, 3))
        self.conv5 = nn.Sequential(*convs(512, 512, 3, dilation=2))
        self.conv6 = nn.Sequential(*convs(512, 512, 3, dilation=2))
        self.conv7 = nn.Sequential(*convs(512, 512, 3))
        self.up8, self.short3 = nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.Conv2d(256, 256, 3, 1, 1)
        self.conv8 = nn.Sequential(nn.ReLU(), *convs(256, 256, 2))
        self.up9, self.short2 = nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.Conv2d(128, 128, 3, 1, 1)
        self.conv9 = nn.Sequential(nn.ReLU(), *convs(128, 128, 1))
        self.up10, self.short1 = nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.Conv2d(64, 128, 3, 1, 1)
        self.conv10 = nn.Sequential(nn.ReLU(), nn.Conv2d(128, 128, 3, 1, 1), nn.LeakyReLU(0.2))
        self.classify = nn.Conv2d(256, 529, 1)
        self.out = nn.Sequential(nn.Conv2d(128, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c1 = self.conv1(x)
        c2 = self.conv2(c1[:, :, ::2, ::2])
        c3 = self.conv3(c2[:, :, ::2, ::2])
        c4 = self.conv4(c3[:, :, ::2, ::2])
        c7 = self.conv7(self.conv6(self.conv5(c4)))
        c8 = self.conv8(self.up8(c7) + self.short3(c3))
        c9 = self.conv9(self.up9(c8) + self.short2(c2))
        c10 = self.conv10(self.up10(c9) + self.short1(c1))
        return self.out(c10), self.classify(c8)


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--weights",
        type=pathlib.Path,
        default=WEIGHTS / "photo_net_v2.safetensors",
        help="photo-net v1 or v2 weights",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    s = args.size

    colorizer = load_photo(args.weights, "cpu")
    net = colorizer.net  # a BatchNorm-folded copy
    zhang = ZhangStandIn().eval()
    glob = torch.zeros(1, cast(int, net.glob_dim))
    L, ab, mask = torch.rand(1, 1, s, s) * 100, torch.zeros(1, 2, s, s), torch.zeros(1, 1, s, s)
    mask[..., s // 2 - 3 : s // 2 + 3, s // 2 - 3 : s // 2 + 3] = 1.0
    x = torch.cat([L / 100, ab, mask], dim=1)
    L_np = L[0, 0].numpy().astype(np.float32)

    with torch.inference_mode():
        ours = median_ms(lambda: net(L, ab, mask, glob), args.repeats)
        theirs = median_ms(lambda: zhang(x), args.repeats)
    full = median_ms(lambda: colorizer.predict(L_np, []), args.repeats)

    print(
        f"Forward pass at {s}x{s}, float32, CPU, torch {torch.__version__}, "
        f"{args.threads} threads, median of {args.repeats} after warm-up:\n"
    )
    print("| network | parameters | forward (ms) |")
    print("|---|---|---|")
    print(
        f"| Zhang et al. 2017 stand-in (random weights) | {params(zhang) / 1e6:.1f} M | "
        f"{theirs:.0f} |"
    )
    print(f"| {colorizer.name} (BatchNorm folded) | {params(net) / 1e6:.2f} M | {ours:.0f} |")
    print(
        f"\nSpeed-up: {theirs / ours:.1f}x. Full `predict()` including the "
        f"{len(colorizer.bins)}-bin distribution upsampled to {s}x{s}: {full:.0f} ms."
    )


if __name__ == "__main__":
    main()
