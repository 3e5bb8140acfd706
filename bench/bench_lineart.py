"""Time lineart-net `regions` and `colorize` at working size; prints a markdown snippet.

    python bench/bench_lineart.py [--weights weights/lineart_net.safetensors] [--runs 7]

The engine resizes a 1024x1024 sketch to the model's working size before calling the model,
so the input here is a working-size drawing (a 1024 px synthetic sketch resized the same way).
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import statistics
import time

import numpy as np
import torch

from chromahint.models.lineart_net import load
from chromahint.pipeline import resize_plane

REPO = pathlib.Path(__file__).resolve().parents[1]


def synthetic_sketch(side: int = 1024) -> np.ndarray:
    """Concentric rings and a grid of boxes: many closed regions, like a busy drawing."""
    y, x = np.mgrid[:side, :side].astype(np.float32)
    r = np.hypot(y - side / 2, x - side / 2)
    lines = (r % (side / 8)) < side / 200
    lines |= ((x % (side / 5)) < side / 200) | ((y % (side / 5)) < side / 200)
    return np.where(lines, 0.0, 1.0).astype(np.float32)


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up: allocator and kernel selection
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--weights", type=pathlib.Path, default=REPO / "weights/lineart_net.safetensors"
    )
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = load(args.weights, "cpu")
    ws = model.working_size
    sketch = resize_plane(synthetic_sketch(1024), ws, ws)
    labels, order = model.regions(sketch, model.max_regions)
    hints = {r: (200.0, 40.0 * i % 255, 90.0) for i, r in enumerate(order[:5])}
    points = [(ws * 0.3, ws * 0.6, (20.0, 180.0, 60.0), 3.0)]

    t_regions = median_ms(lambda: model.regions(sketch, model.max_regions), args.runs)
    t_color = median_ms(lambda: model.colorize(sketch, labels, hints, points), args.runs)
    t_both = median_ms(lambda: model.colorize(sketch, None, hints, points), args.runs)
    print(
        f"`{model.name}`, 1024x1024 sketch -> working size {ws}x{ws}, CPU "
        f"({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"{args.threads} threads, median of {args.runs}:\n"
    )
    print("| call | median ms |")
    print("|---|---|")
    print(f"| `regions` | {t_regions:.1f} |")
    print(f"| `colorize` (labels given, 5 region + 1 point hints) | {t_color:.1f} |")
    print(f"| `colorize` (labels=None: regions computed inside) | {t_both:.1f} |")


if __name__ == "__main__":
    main()
