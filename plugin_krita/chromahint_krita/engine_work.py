"""The work that runs off Krita's GUI thread: typed requests to the engine, typed results.

Nothing here touches Krita's API (it is not thread-safe): the GUI thread hands over plain
bytes in snapshots (kritadoc.py reads them) and gets plain results back. Requests and
replies are the protocol's types (chromahint_client.protocol); images are built by
chromahint_client.images. Qt's QImage composites transparent line art over white (Qt
allows that outside the GUI thread); it is imported where it is used, so the rest of this
module loads in plain Python too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from chromahint_client import BadReply, Client
from chromahint_client import hints as hint_points
from chromahint_client import protocol as P
from chromahint_client.images import layer_image
from chromahint_client.regions import RegionMap, region_map

from . import pixels
from .pixels import LayerPixels, Rect
from .swatches import Place, SwatchRow, rows_for

ENGINE_LOG = os.path.join(tempfile.gettempdir(), "chromahint-engine.log")
REGION_GRID = 512  # labels sampled on at most this many cells on the long side


@dataclass(frozen=True)
class ColorizeSnapshot:
    """Everything a colorize run needs from Krita, read on the GUI thread beforehand."""

    source: LayerPixels
    hints: tuple[LayerPixels, ...]  # the hint layer and Colorize Mask key strokes, 8-bit
    mode: P.Mode
    target: pixels.ColorSpace | None  # the result layer's colour space, when known
    reference: P.Image | None = None
    region_hints: tuple[P.RegionHint, ...] = ()
    labels: P.Image | None = None  # the `regions` reply's labels, sent with region hints


@dataclass(frozen=True)
class ColorizeOutcome:
    rgba8: bytes  # the engine's layer for the snapshot's source rectangle
    raw: bytes | None  # the same, already in the target colour space when it is direct
    rect: Rect
    opaque_source: bool
    points: tuple[P.Point, ...]
    blobs: tuple[hint_points.Blob, ...]  # in reading order, in the rectangle's frame
    timing_ms: dict[str, float] = field(default_factory=dict)
    reference_confidence: float | None = None  # with a reference: how well it matched


@dataclass(frozen=True)
class RegionsOutcome:
    map: RegionMap
    labels: P.Image  # the engine's gray16 label image, sent back with region hints
    rect: Rect


def _flatten_on_white(layer: LayerPixels) -> bytes:
    """Composite BGRA over white: transparent line art must read as paper, not as black."""
    from PyQt5.QtGui import QImage, QPainter

    r, sb = layer.rect, layer.sample_bytes
    # Compositing treats the colour channels alike, so BGRA can pose as RGBA here.
    fmt = QImage.Format_ARGB32 if sb == 1 else QImage.Format_RGBA64
    src = QImage(layer.bgra, r.w, r.h, 4 * sb * r.w, fmt)
    out = QImage(r.w, r.h, fmt)
    out.fill(0xFFFFFFFF)
    painter = QPainter(out)
    painter.drawImage(0, 0, src)
    painter.end()
    return out.constBits().asstring(out.sizeInBytes())


def source_image(layer: LayerPixels, mode: P.Mode) -> tuple[P.Image, bool]:
    """The engine's image for the source, and whether the source was fully opaque."""
    opaque = pixels.is_opaque(layer.bgra, layer.sample_bytes)
    bgra = layer.bgra
    if mode is P.Mode.LINEART and not opaque:
        bgra = _flatten_on_white(layer)
    r = layer.rect
    return layer_image(bgra, r.w, r.h, layer.format, order="BGRA"), opaque


def collect_hints(
    layers: Sequence[LayerPixels], area: Rect
) -> tuple[list[P.Point], list[hint_points.Blob]]:
    """Hint points and blobs (in reading order) from painted layers, in `area`'s frame."""
    points: list[P.Point] = []
    blobs: list[hint_points.Blob] = []
    for layer in layers:
        r = layer.rect
        if r.w <= 0 or r.h <= 0:
            continue
        found = hint_points.extract(
            layer.bgra,
            r.w,
            r.h,
            order="BGRA",
            offset=(r.x - area.x, r.y - area.y),
            image_size=(area.w, area.h),
        )
        points += found.points
        blobs += found.blobs
    blobs.sort(key=lambda b: (b.bbox[1], b.bbox[0]))  # several layers: one reading order
    return points, blobs


def colorize_request(snap: ColorizeSnapshot) -> tuple[P.ColorizeRequest, bool, list]:
    """The typed request for a snapshot, whether the source was opaque, and the blobs."""
    image, opaque = source_image(snap.source, snap.mode)
    points, blobs = collect_hints(snap.hints, snap.source.rect)
    # No `swatches` here: the engine computes them for every hint point, and a painted blob
    # gives hundreds of points; the docker asks the `swatches` op once per blob instead.
    request = P.ColorizeRequest(
        image,
        tuple(points),
        snap.mode,
        region_hints=snap.region_hints,
        labels=snap.labels if snap.region_hints else None,
        reference=snap.reference if snap.mode is P.Mode.PHOTO else None,
    )
    return request, opaque, blobs


def colorize(client: Client, snap: ColorizeSnapshot) -> ColorizeOutcome:
    request, opaque, blobs = colorize_request(snap)
    area = snap.source.rect
    reply = client.colorize(request)
    layer = reply.layer
    if layer.format != "rgba8" or (layer.width, layer.height) != (area.w, area.h):
        raise BadReply(
            f"the engine answered a {layer.width}x{layer.height} {layer.format} layer "
            f"for a {area.w}x{area.h} image"
        )
    raw = None
    if snap.target is not None and snap.target.writable:
        raw = pixels.rgba8_for(layer.data, snap.target)
    return ColorizeOutcome(
        rgba8=layer.data,
        raw=raw,
        rect=area,
        opaque_source=opaque,
        points=request.points,
        blobs=tuple(blobs),
        timing_ms=reply.timing_ms,
        reference_confidence=reply.reference_confidence,
    )


def swatches_request(
    source: LayerPixels, hints: Sequence[LayerPixels], places: Sequence[Place], k: int
) -> P.SwatchesRequest:
    """Colours for each place (spots in the source's frame), given the painted hints."""
    image, _ = source_image(source, P.Mode.PHOTO)
    points, _ = collect_hints(hints, source.rect)
    return P.SwatchesRequest(
        image, tuple(place.spot for place in places), k, tuple(points), P.Mode.PHOTO
    )


def swatches(
    client: Client,
    source: LayerPixels,
    hints: Sequence[LayerPixels],
    places: Sequence[Place],
    k: int,
) -> tuple[SwatchRow, ...]:
    """The k most probable colours at each place: one row per place, in order."""
    reply = client.swatches(swatches_request(source, hints, places, k))
    try:
        return rows_for(places, reply.swatches)
    except ValueError as e:
        raise BadReply(str(e)) from None


def regions(client: Client, source: LayerPixels, max_regions: int, top: int) -> RegionsOutcome:
    """The engine's priority regions for line art, with the first `top` placed for numbers."""
    image, _ = source_image(source, P.Mode.LINEART)
    reply = client.regions(P.RegionsRequest(image, max_regions))
    r = source.rect
    labels = reply.labels
    if (labels.width, labels.height) != (r.w, r.h):
        raise BadReply(
            f"the engine answered {labels.width}x{labels.height} labels for a {r.w}x{r.h} image"
        )
    placed = region_map(labels.data, r.w, r.h, list(reply.order), top, grid=REGION_GRID)
    return RegionsOutcome(placed, labels, r)
