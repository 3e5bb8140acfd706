"""Reference recommendation (issue 11): retrieval by caltech101 category, and colorizing from
the top-1 recommendation, printed as markdown.

    python -m chromahint.train.evaluate_retrieval [--targets 200] [--val 200]

The index is every photo of photos-train-000 and -001, described as `recommend_references`
does (engine/references.py). Retrieval: the caltech101 photos of photos-train-002 (not in
the index) as targets; the share of their top-5 recommendations from the same category
(the member name carries it), beside chance (the share of indexed caltech101 photos in the
target's category). Colorization: photos-val at 256², no point hints, automatic vs the
top-1 recommendation as the reference (regions mode), as evaluate_exemplar scores it.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
from PIL import Image as PILImage

from chromahint import references
from chromahint.train.data import default_data_dir, read_tar_images
from chromahint.train.evaluate_exemplar import learned_photo, score
from chromahint_client import protocol as P

INDEX_SHARDS = ("photos-train-000.tar", "photos-train-001.tar")
TARGET_SHARD = "photos-train-002.tar"


def plane(rgb8: np.ndarray) -> np.ndarray:
    return references.picture_plane(PILImage.fromarray(rgb8))


def category(name: str) -> str | None:
    """caltech101/<category>_image_0001.jpg -> <category>; None for other sources."""
    if not name.startswith("caltech101/"):
        return None
    return name.split("/", 1)[1].rsplit("_image_", 1)[0]


def load_index(
    model, data: pathlib.Path, cache: pathlib.Path | None
) -> tuple[list[str], list[np.ndarray], np.ndarray, float]:
    """The index's member names, photos and descriptors (from `cache` when it is there),
    and the seconds it took."""
    t0 = time.perf_counter()
    names, photos = [], []
    for shard in INDEX_SHARDS:
        for name, rgb in read_tar_images(data / shard):
            names.append(name)
            photos.append(rgb)
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            table = z["table"]
    else:
        table = references.describe(model, [plane(p) for p in photos])
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, table=table)
    return names, photos, table, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--targets", type=int, default=200, help="caltech101 retrieval targets")
    ap.add_argument("--val", type=int, default=200, help="photos-val images to colorize")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--cache", type=pathlib.Path, default=None, help="keep the index's descriptors here"
    )
    ap.add_argument(
        "--colorize-from",
        choices=("val", "train"),
        default="val",
        help="colorize photos-val (default) or the non-caltech photos of photos-train-002 "
        "(for choosing settings without touching photos-val)",
    )
    args = ap.parse_args()
    model = learned_photo(args.threads)
    data = default_data_dir()
    names, photos, table, index_s = load_index(model, data, args.cache)
    cats = [category(n) for n in names]

    targets = [(n, rgb) for n, rgb in read_tar_images(data / TARGET_SHARD) if category(n)]
    targets = targets[: args.targets]
    hits, chance = [], []
    for name, rgb in targets:
        want = category(name)
        top = np.argsort(-references.scores(references.describe(model, [plane(rgb)])[0], table))
        hits.append(np.mean([cats[i] == want for i in top[:5]]))
        chance.append(np.mean([c == want for c in cats if c is not None]))

    if args.colorize_from == "val":
        val = [rgb for _, rgb in read_tar_images(data / "photos-val.tar", args.val)]
    else:
        square = references.DESCRIBE_SIDE * 2
        val = [
            np.asarray(PILImage.fromarray(rgb).resize((square, square)))
            for n, rgb in read_tar_images(data / TARGET_SHARD)
            if category(n) is None
        ][: args.val]
    auto, top1, conf = [], [], []
    for rgb in val:
        best = int(np.argmax(references.scores(references.describe(model, [plane(rgb)])[0], table)))
        auto.append(score(model, rgb, None, P.ReferenceMode.REGIONS)[0])
        p, c = score(model, rgb, photos[best], P.ReferenceMode.REGIONS)
        top1.append(p)
        conf.append(c)
    print(
        f"Index: {len(names)} photos ({', '.join(INDEX_SHARDS)}) described in {index_s:.0f} s "
        f"({1000 * index_s / len(names):.1f} s per 1,000 photos); `{model.name}`.\n"
    )
    print(
        f"Retrieval, {len(hits)} caltech101 targets from {TARGET_SHARD}: top-5 share the "
        f"target's category {100 * np.mean(hits):.1f} % (chance {100 * np.mean(chance):.1f} %)."
    )
    print(
        f"\nColorization, first {len(val)} {args.colorize_from} images: automatic "
        f"{np.mean(auto):.2f} dB, "
        f"top-1 recommendation as the reference {np.mean(top1):.2f} dB "
        f"({np.mean(top1) - np.mean(auto):+.2f}), mean reference_confidence {np.mean(conf):.3f}."
    )


if __name__ == "__main__":
    main()
