"""The work that runs off Krita's GUI thread: building requests and talking to the engine.

Nothing here touches Krita's API (it is not thread-safe); the GUI thread hands over plain
bytes in snapshots (kritadoc.py reads them) and gets plain results back. QImage is used for
compositing line art over white, which Qt allows outside the GUI thread.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from PyQt5.QtGui import QImage, QPainter

from chromahint_client import Client, EngineNotRunning, EngineTimeout
from chromahint_client import hints as hint_points
from chromahint_client.launcher import ensure_engine

from . import pixels
from .regions import RegionMap, summarize
from .settings import Settings

ENGINE_LOG = os.path.join(tempfile.gettempdir(), "chromahint-engine.log")


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass
class Raster:
    """Pixels read from Krita as sRGB-encoded BGRA, 8 or 16 bits per sample."""

    bgra: bytes
    rect: Rect  # where they lie in the image
    sample_bytes: int


@dataclass
class ColorizeSnapshot:
    source: Raster
    hints: list[Raster]  # the hint layer and Colorize Mask key strokes, 8-bit
    mode: str  # "photo" or "lineart"
    target: pixels.ColorSpace | None  # the result layer's colour space, when known
    reference: dict | None = None
    region_hints: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    labels: dict | None = None


@dataclass
class ColorizeOutcome:
    rgba8: bytes  # the engine's layer for the snapshot's source rectangle
    raw: bytes | None  # the same, already in the target colour space when it is direct
    rect: Rect
    opaque_source: bool
    points: list[dict]
    blobs: list[hint_points.Blob]
    timing_ms: dict[str, float]


@dataclass
class RegionsOutcome:
    map: RegionMap
    labels: dict  # the engine's gray16 label image, sent back with region hints
    rect: Rect


def engine_info(settings: Settings, progress: Callable[[str], None]) -> dict | None:
    """The engine's info, starting it when nothing listens; None when it is busy.

    A busy engine (serving someone's long request) is there: starting a second one on the
    same endpoint would fail, so only a refused connection leads to a start.
    """
    with Client(settings.endpoint, timeout=2.0, retries=0) as c:
        try:
            return c.info()
        except EngineTimeout:
            return None
        except EngineNotRunning:
            pass
    progress(f"Starting the engine ({settings.engine_command})…")
    return ensure_engine(
        settings.endpoint, settings.engine_command, progress=None, log_path=ENGINE_LOG
    )


def _flatten_on_white(raster: Raster) -> bytes:
    """Composite BGRA over white: transparent line art must read as paper, not as black."""
    r, sb = raster.rect, raster.sample_bytes
    # Compositing treats the colour channels alike, so BGRA can pose as RGBA here.
    fmt = QImage.Format_ARGB32 if sb == 1 else QImage.Format_RGBA64
    src = QImage(raster.bgra, r.w, r.h, 4 * sb * r.w, fmt)
    out = QImage(r.w, r.h, fmt)
    out.fill(0xFFFFFFFF)
    painter = QPainter(out)
    painter.drawImage(0, 0, src)
    painter.end()
    ptr = out.constBits()
    ptr.setsize(out.sizeInBytes())
    return bytes(ptr)


def source_image(raster: Raster, mode: str) -> tuple[dict, bool]:
    """The engine's image for the source, and whether the source was fully opaque."""
    opaque = pixels.is_opaque(raster.bgra, raster.sample_bytes)
    bgra = raster.bgra
    if mode == "lineart" and not opaque:
        bgra = _flatten_on_white(raster)
    r = raster.rect
    return pixels.image_message(bgra, r.w, r.h, raster.sample_bytes), opaque


def collect_hints(rasters: list[Raster], area: Rect) -> tuple[list[dict], list]:
    """Hint points and blobs from painted rasters, in the coordinates of `area`."""
    points: list[dict] = []
    blobs: list = []
    for raster in rasters:
        r = raster.rect
        if r.w <= 0 or r.h <= 0:
            continue
        found = hint_points.extract(
            raster.bgra,
            r.w,
            r.h,
            order="BGRA",
            offset=(r.x - area.x, r.y - area.y),
            image_size=(area.w, area.h),
        )
        points += found.points
        blobs += found.blobs
    return points, blobs


def colorize(client: Client, snap: ColorizeSnapshot) -> ColorizeOutcome:
    image, opaque = source_image(snap.source, snap.mode)
    area = snap.source.rect
    points, blobs = collect_hints(snap.hints, area)
    # No `swatches` here: the engine computes them for every hint point, and a painted blob
    # gives hundreds of points; the docker asks the `swatches` op about the last hint only.
    fields: dict = {}
    if snap.reference is not None:
        fields["reference"] = snap.reference
    if snap.region_hints:
        fields["region_hints"] = [
            {"region": rid, "rgb": list(rgb)} for rid, rgb in sorted(snap.region_hints.items())
        ]
        if snap.labels is not None:
            fields["labels"] = snap.labels
    reply = client.colorize(image, points, mode=snap.mode, **fields)
    layer = reply["layer"]
    if layer.get("format") != "rgba8" or (layer["width"], layer["height"]) != (area.w, area.h):
        raise ValueError(
            f"the engine answered a {layer.get('width')}x{layer.get('height')} "
            f"{layer.get('format')} layer for a {area.w}x{area.h} image"
        )
    raw = None
    if snap.target is not None and snap.target.writable:
        raw = pixels.rgba8_for(layer["data"], snap.target)
    return ColorizeOutcome(
        rgba8=layer["data"],
        raw=raw,
        rect=area,
        opaque_source=opaque,
        points=points,
        blobs=blobs,
        timing_ms=reply.get("timing_ms") or {},
    )


def swatches_at(
    client: Client, source: Raster, hints: list[Raster], at: tuple[float, float], k: int
) -> list[dict]:
    """The k most probable colours at one image point, given the painted hints."""
    image, _ = source_image(source, "photo")
    area = source.rect
    points, _ = collect_hints(hints, area)
    where = {"x": at[0] - area.x, "y": at[1] - area.y}
    reply = client.swatches(image, [where], k=k, hints=points)
    rows = reply.get("swatches") or [[]]
    return rows[0]


def regions(client: Client, source: Raster, max_regions: int, top: int) -> RegionsOutcome:
    """The engine's priority regions for line art, with the first `top` placed for numbers."""
    image, _ = source_image(source, "lineart")
    reply = client.request("regions", image=image, max_regions=max_regions)
    labels = reply["labels"]
    r = source.rect
    region_map = summarize(labels["data"], r.w, r.h, list(reply.get("order") or []), top)
    return RegionsOutcome(region_map, labels, r)
