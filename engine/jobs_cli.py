"""The `chromahint` commands that run one job on an engine: colorize, recommend.

Each uses the engine at --endpoint, or starts a private one for the job and stops it after.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from chromahint_client import Client, EngineAuthError, EngineError
from chromahint_client import protocol as P
from chromahint_client.hints import Hints, extract
from chromahint_client.launcher import is_running, start_engine

from .cli import client_keys

# PIL mode -> protocol pixel format
_PIL_FORMATS = {"L": "gray8", "I;16": "gray16", "RGB": "rgb8", "RGBA": "rgba8"}


def image_message(path: Path) -> P.Image:
    from PIL import Image

    img = Image.open(path)
    if img.mode == "I" or img.mode.startswith("I;16"):
        img = img.convert("I;16") if img.mode == "I" else img
        fmt = "gray16"
        data = img.tobytes("raw", "I;16")
    else:
        if img.mode not in _PIL_FORMATS:
            img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
        fmt = _PIL_FORMATS[img.mode]
        data = img.tobytes()
    return P.Image(img.width, img.height, fmt, data)


def read_hints(path: Path, size: tuple[int, int]) -> Hints:
    from PIL import Image

    img = Image.open(path).convert("RGBA")
    if img.size != size:
        raise SystemExit(
            f"error: the hints image is {img.size[0]}x{img.size[1]}, "
            f"the photo {size[0]}x{size[1]}; they must match"
        )
    return extract(img.tobytes(), img.width, img.height)


def global_hints(palette: str | None, saturation: float | None) -> P.GlobalHints | None:
    """--palette "#rrggbb,…" and --saturation as the protocol's global hints."""
    entries = []
    for item in (palette or "").split(",") if palette else []:
        h = item.strip().lstrip("#")
        if len(h) != 6:
            raise SystemExit(f"error: palette colours are #rrggbb, got {item!r}")
        r, g, b = (float(int(h[i : i + 2], 16)) for i in (0, 2, 4))
        entries.append((r, g, b, 1.0))
    if not entries and saturation is None:
        return None
    return P.GlobalHints(tuple(entries), saturation)


def print_swatches(hints: Hints, rows: list[list[P.Swatch]]) -> None:
    """One row per painted blob, in reading order (top to bottom, then left to right)."""
    for i, (blob, row) in enumerate(zip(hints.blobs, rows, strict=True), start=1):
        colors = " ".join("#{:02x}{:02x}{:02x}({:.2f})".format(*s.rgb, s.p) for s in row)
        print(f"swatches at hint {i} ({blob.x:.0f}, {blob.y:.0f}): {colors}")


def _free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class StartError(Exception):
    """No engine could be reached or started for the job."""


@contextlib.contextmanager
def engine_client(args: argparse.Namespace, serve_args: Sequence[str] = ()) -> Iterator[Client]:
    """A client of the engine at --endpoint, or of a private one started for this job (with
    `serve_args`) and stopped afterwards."""
    keys = client_keys(args)
    endpoint, proc = args.endpoint, None
    try:
        running = is_running(endpoint, keys, auth_errors=True)
    except EngineAuthError as e:
        raise StartError(str(e)) from None
    if running is None and keys is not None:
        raise StartError(f"no engine answers at {endpoint}")
    if running is None:
        endpoint = _free_endpoint()
        print("no engine running; starting one for this job…", file=sys.stderr)
        command = " ".join([f"{sys.executable} -m chromahint serve", *map(shlex.quote, serve_args)])
        proc, _ = start_engine(command, endpoint, detach=False)
    try:
        with Client(endpoint, timeout=args.timeout, keys=keys) as c:
            yield c
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)


def top_reference(c: Client, image: P.Image, folder: Path) -> P.Image:
    """The folder's best recommendation for `image`, read as a reference (it says which)."""
    ranking = c.recommend_references(
        P.RecommendReferencesRequest(image, folder=str(folder), limit=1)
    ).ranking
    path = ranking[0].path if ranking else None
    if path is None:
        raise StartError(f"no readable pictures in {folder}")
    print(f"reference: {path} (the best of the folder, score {ranking[0].score:.3f})")
    return image_message(Path(path))


def _cmd_colorize(args: argparse.Namespace) -> int:
    from PIL import Image

    image = image_message(args.input)
    hints = read_hints(args.hints, (image.width, image.height)) if args.hints else Hints()
    mode = P.Mode(args.mode)
    glob = global_hints(args.palette, args.saturation)
    reference = image_message(args.reference) if args.reference else None
    folder = args.reference_from.resolve() if args.reference_from else None
    if (reference is not None or folder is not None) and mode is not P.Mode.PHOTO:
        raise SystemExit("error: --reference and --reference-from are for photos (--mode photo)")
    request = P.ColorizeRequest(
        image,
        tuple(hints.points),
        mode,
        global_hints=glob,
        reference=reference,
        reference_mode=P.ReferenceMode(args.reference_mode),
    )

    try:
        # A private engine may read just the folder; a running one must allow it already.
        with engine_client(args, ["--reference-root", str(folder)] if folder else []) as c:
            if folder is not None:
                request = replace(request, reference=top_reference(c, image, folder))
            reply = c.colorize(request)
            rows = []
            if args.swatches and hints.blobs and mode is P.Mode.PHOTO:
                spots = tuple(P.Spot(b.x, b.y) for b in hints.blobs)
                ask = P.SwatchesRequest(
                    image, spots, args.swatches, tuple(hints.points), mode, glob
                )
                rows = c.swatches(ask).swatches
    except (EngineError, StartError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    layer = reply.layer
    out = Image.frombytes("RGBA", (layer.width, layer.height), layer.data)
    if image.format in ("gray8", "gray16", "rgb8"):
        out = out.convert("RGB")
    out.save(args.output)
    print(
        f"wrote {args.output} ({len(hints.blobs)} hints as {len(hints.points)} points, "
        f"{sum(reply.timing_ms.values()):.0f} ms in the engine)"
    )
    if reply.reference_confidence is not None:
        print(f"reference fit {reply.reference_confidence:.2f} (0-1; low: it does not match)")
    if rows:  # asked for with --swatches
        print_swatches(hints, rows)
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    image = image_message(args.input)
    folder = args.folder.resolve()
    request = P.RecommendReferencesRequest(image, folder=str(folder), limit=args.limit)
    try:
        # A private engine may read just this folder; a running one must allow it already.
        with engine_client(args, ["--reference-root", str(folder)]) as c:
            reply = c.recommend_references(request)
    except (EngineError, StartError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for rank, item in enumerate(reply.ranking, start=1):
        print(f"{rank:3d}  {item.score:.3f}  {item.path}")
    extra = f", {reply.skipped} unreadable files skipped" if reply.skipped else ""
    print(
        f"({len(reply.ranking)} best of the folder; {reply.indexed} pictures indexed now{extra})",
        file=sys.stderr,
    )
    return 0


def register(sub, client_key_options: Callable[[argparse.ArgumentParser], None]) -> None:
    c = sub.add_parser("colorize", help="colorize an image file")
    c.add_argument("input", type=Path)
    c.add_argument("-o", "--output", type=Path, required=True)
    c.add_argument("--hints", type=Path, help="transparent PNG of the same size with painted hints")
    c.add_argument("--mode", default="photo", choices=["photo", "lineart"])
    c.add_argument("--swatches", type=int, default=0, help="also print k swatches per hint")
    c.add_argument("--palette", help="global hint: comma-separated #rrggbb colours")
    c.add_argument("--saturation", type=float, help="global hint: saturation in 0-1")
    which = c.add_mutually_exclusive_group()
    which.add_argument("--reference", type=Path, help="a colour picture whose colours to follow")
    which.add_argument(
        "--reference-from",
        type=Path,
        metavar="FOLDER",
        help="fully automatic: the folder's best recommendation is the reference",
    )
    c.add_argument(
        "--reference-mode",
        default=P.ReferenceMode.REGIONS.value,
        choices=[m.value for m in P.ReferenceMode],
        help="regions: match it part by part (default); palette: only its colours",
    )
    c.add_argument("--endpoint", default=P.default_endpoint())
    c.add_argument("--timeout", type=float, default=120.0)
    client_key_options(c)
    c.set_defaults(func=_cmd_colorize)

    r = sub.add_parser("recommend", help="rank a folder's pictures as colour references")
    r.add_argument("input", type=Path, help="the photo to colorize")
    r.add_argument("folder", type=Path, help="a folder of colour pictures")
    r.add_argument("--limit", type=int, default=P.DEFAULT_RANKED)
    r.add_argument("--endpoint", default=P.default_endpoint())
    r.add_argument("--timeout", type=float, default=600.0)
    client_key_options(r)
    r.set_defaults(func=_cmd_recommend)
