"""Hint extraction speed: a 4000x3000 hint layer with 300 anti-aliased blobs, pure Python.

    python bench/bench_hints.py [--repeats 5]

The plug-ins run `chromahint_client.hints.extract` inside the editor; target <= 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from chromahint_client.hints import extract


def painted_layer(w: int = 4000, h: int = 3000, blobs: int = 300, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 4), np.uint8)
    for _ in range(blobs):
        cx, cy, r = rng.integers(50, w - 50), rng.integers(50, h - 50), rng.integers(5, 25)
        ys, xs = np.mgrid[cy - r - 2 : cy + r + 2, cx - r - 2 : cx + r + 2]
        cover = np.clip(r - np.hypot(ys - cy, xs - cx) + 0.5, 0, 1)
        sel = cover > 0
        patch = img[cy - r - 2 : cy + r + 2, cx - r - 2 : cx + r + 2]
        patch[sel, :3] = rng.integers(0, 256, 3)
        patch[sel, 3] = (cover[sel] * 255).astype(np.uint8)
    return img.tobytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    data = painted_layer()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        hints = extract(data, 4000, 3000)
        times.append(time.perf_counter() - t0)
    print(
        f"| 4000x3000 layer, 300 blobs | median {statistics.median(times) * 1e3:.0f} ms "
        f"(min {min(times) * 1e3:.0f}) | {len(hints.points)} points, {len(hints.blobs)} blobs, "
        f"cell {hints.cell} px |"
    )


if __name__ == "__main__":
    main()
