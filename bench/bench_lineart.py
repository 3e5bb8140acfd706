"""Line-art `regions` and `colorize`, and photo `suggest_points`, at 1024² through a real engine.

    python bench/bench_lineart.py [--repeats 7] [--threads 0]

Round trips on loopback (what a plug-in waits for), medians. The sketch is a busy synthetic
drawing (concentric rings over a grid of boxes); the photo is scikit-image's astronaut at
1024², gray8. "New image" requests change one pixel each time, so nothing comes from the
engine's image cache; "cached" sends the same image again (by id, regions kept).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
from bench_engine import engine_process, print_table
from PIL import Image
from skimage import data as skdata

from chromahint_client import Client
from chromahint_client import protocol as P


def synthetic_sketch(side: int = 1024) -> np.ndarray:
    y, x = np.mgrid[:side, :side].astype(np.float32)
    r = np.hypot(y - side / 2, x - side / 2)
    lines = (r % (side / 8)) < side / 200
    lines |= ((x % (side / 5)) < side / 200) | ((y % (side / 5)) < side / 200)
    return np.where(lines, 0, 255).astype(np.uint8)


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="engine CPU threads (0: its default)")
    args = ap.parse_args()
    raw = bytearray(synthetic_sketch().tobytes())
    photo_raw = bytearray(
        Image.fromarray(skdata.astronaut()).convert("L").resize((1024, 1024)).tobytes()
    )
    count = [0]

    def fresh(data: bytearray) -> P.Image:
        """A picture the engine has not seen (one corner pixel differs): no cached work."""
        count[0] += 1
        data[0] = count[0] % 256
        return P.Image(1024, 1024, "gray8", bytes(data))

    sketch = fresh(raw)
    rows = []
    with engine_process(["--threads", str(args.threads)]) as (_, endpoint, info):
        with Client(endpoint, timeout=600, retries=0) as c:
            reply = c.regions(P.RegionsRequest(sketch))
            hints = tuple(
                P.RegionHint(r, (200.0, 40.0 * i % 255, 90.0))
                for i, r in enumerate(reply.order[:5])
            )
            point = (P.Point(300.0, 600.0, (20, 180, 60), 3),)
            n = len(np.unique(np.frombuffer(reply.labels.data, "<u2")))

            def lineart(image: P.Image, labels: P.Image | None) -> P.ColorizeRequest:
                return P.ColorizeRequest(
                    image, point, mode=P.Mode.LINEART, region_hints=hints, labels=labels
                )

            cases = [
                (
                    f"`regions` ({n - 1} regions), new image",
                    lambda: c.regions(P.RegionsRequest(fresh(raw))),
                    500,
                ),
                (
                    "`regions`, the same image again (cached)",
                    lambda: c.regions(P.RegionsRequest(sketch)),
                    500,
                ),
                (
                    "line-art `colorize`, new image, labels sent, 5 region + 1 point hints",
                    lambda: c.colorize(lineart(fresh(raw), reply.labels)),
                    500,
                ),
                (
                    "line-art `colorize`, new image, labels recomputed",
                    lambda: c.colorize(lineart(fresh(raw), None)),
                    500,
                ),
                (
                    "photo `suggest_points` (k = 5), new image",
                    lambda: c.suggest_points(P.SuggestPointsRequest(fresh(photo_raw), k=5)),
                    300,
                ),
            ]
            for name, fn, goal in cases:
                rows.append((name, median_ms(fn, args.repeats), goal))
    art = info.model(P.Mode.LINEART)
    print_table(
        f"device {info.device}; line-art model {art.name if art else 'none'}; Python "
        f"{platform.python_version()}; 1024x1024 gray8, {args.repeats} repeats, median round "
        "trip.",
        ("call", "median ms", "goal ms"),
        [(name, f"{ms:.0f}", f"≤ {goal}") for name, ms, goal in rows],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
