"""Reference speed through a real engine: `colorize` with a reference at 1024², and
`recommend_references` over a 1,000-picture folder (indexing, then once indexed).

    python bench/bench_reference.py [--pictures 1000] [--repeats 5]

The folder is made in a temporary directory from the first photos of
../shared/data/photos-train-002.tar (read at run time, deleted afterwards); the index goes to
a temporary cache directory. Medians of round trips on loopback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_engine import _cores, cpu_name, engine_process
from PIL import Image
from skimage import data as skdata

from chromahint.train.data import default_data_dir, read_tar_images
from chromahint_client import Client
from chromahint_client import protocol as P


def rgb_image(rgb: np.ndarray) -> P.Image:
    rgb = np.ascontiguousarray(rgb)
    return P.Image(rgb.shape[1], rgb.shape[0], "rgb8", rgb.tobytes())


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pictures", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    photo = np.asarray(Image.fromarray(skdata.astronaut()).resize((1024, 1024)))
    target = rgb_image(photo)
    reference = rgb_image(np.asarray(Image.fromarray(photo[:, ::-1]).resize((512, 512))))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "refs"
        folder.mkdir()
        shard = default_data_dir() / "photos-train-002.tar"
        for i, (_, rgb) in enumerate(read_tar_images(shard, args.pictures)):
            Image.fromarray(rgb).save(folder / f"{i:05d}.jpg", quality=90)
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        with engine_process(["--reference-root", str(folder)]) as (_, endpoint, info):
            with Client(endpoint, timeout=600, retries=0) as c:
                with_ref = P.ColorizeRequest(target, reference=reference)
                plain = P.ColorizeRequest(target)
                c.colorize(with_ref)  # warm-up
                times, plain_times = [], []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    c.colorize(with_ref)
                    times.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    c.colorize(plain)
                    plain_times.append(time.perf_counter() - t)
                ask = P.RecommendReferencesRequest(rgb_image(photo), folder=str(folder))
                t = time.perf_counter()
                first = c.recommend_references(ask)
                index_s = time.perf_counter() - t
                ranked = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    c.recommend_references(ask)
                    ranked.append(time.perf_counter() - t)
    print(
        f"Machine: {cpu_name()}, {_cores()} cores; device {info.device}; "
        f"{args.repeats} repeats, medians of round trips.\n"
    )
    print("| request | seconds | goal |")
    print("|---|---|---|")
    print(
        f"| `colorize` 1024² rgb8 with a 512² reference (regions) | "
        f"{statistics.median(times):.2f} (without: {statistics.median(plain_times):.2f}) | ≤ 1 |"
    )
    print(
        f"| `recommend_references`, {args.pictures}-picture folder, first call (indexing "
        f"{first.indexed}, skipped {first.skipped}) | {index_s:.1f} | ≤ 60 |"
    )
    print(
        f"| `recommend_references`, the same folder once indexed | "
        f"{statistics.median(ranked):.2f} | ≤ 2 |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
