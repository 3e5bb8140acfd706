"""Everything that touches Krita's document API. GUI thread only.

Reading: layers come out as sRGB-encoded BGRA bytes (jobs.Raster). Colour spaces that byte
shuffling cannot handle (floats, linear or wide-gamut profiles, CMYK, Lab) go through Krita's
own colour management in a hidden scratch document: converting a detached layer of the
artist's document would land on that document's undo stack.

Writing: Krita 5.1's scripting API records adding and removing layers on the undo stack but
not `setPixelData`. So a result layer that is new is filled before it is added (one undo
step), an explicit re-run replaces the layer by a filled duplicate (undo brings the previous
result back), and live updates write in place (the artist's own strokes stay the undo steps).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from krita import Document, Krita, ManagedColor, Node
from PyQt5.QtCore import QByteArray, QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPen

from . import pixels
from .jobs import Raster, Rect
from .regions import RegionMap

HINTS_NAME = "Hints"
RESULT_NAME = "Colorized"
OVERLAY_NAME = "Chromahint regions"
OUR_LAYERS = (HINTS_NAME, RESULT_NAME, OVERLAY_NAME)
LINEART_WORDS = ("line", "ink", "sketch", "lineart")
# Distinct tints for numbered regions on the overlay (alpha keeps the sketch readable).
REGION_TINTS = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
]  # fmt: skip


# -- finding things -------------------------------------------------------------------------
def walk(node: Node) -> Iterator[Node]:
    """All nodes below `node`, topmost first (the order of Krita's layer docker)."""
    for child in reversed(node.childNodes()):
        yield child
        yield from walk(child)


def uid(node: Node) -> str:
    return node.uniqueId().toString()


def paint_layers(doc: Document) -> list[Node]:
    return [n for n in walk(doc.rootNode()) if n.type() == "paintlayer"]


def find_node(doc: Document, node_id: str | None) -> Node | None:
    if not node_id:
        return None
    return next((n for n in walk(doc.rootNode()) if uid(n) == node_id), None)


def find_named(doc: Document, name: str) -> Node | None:
    return next((n for n in walk(doc.rootNode()) if n.name() == name), None)


def document_key(doc: Document) -> str:
    return uid(doc.rootNode())


def find_document(key: str | None) -> Document | None:
    if not key:
        return None
    return next((d for d in Krita.instance().documents() if document_key(d) == key), None)


def default_source(doc: Document, mode: str) -> Node | None:
    """The active paint layer unless it is one of ours; in line-art mode a line-art layer."""
    layers = [n for n in paint_layers(doc) if n.name() not in OUR_LAYERS]
    if mode == "lineart":
        named = [n for n in layers if any(w in n.name().lower() for w in LINEART_WORDS)]
        if named:
            return named[0]
    active = doc.activeNode()
    if active is not None and active.type() == "paintlayer" and active.name() not in OUR_LAYERS:
        return active
    return layers[0] if layers else None


def color_space(node: Node) -> pixels.ColorSpace:
    return pixels.ColorSpace(node.colorModel(), node.colorDepth(), node.colorProfile())


def document_space(doc: Document) -> pixels.ColorSpace:
    return pixels.ColorSpace(doc.colorModel(), doc.colorDepth(), doc.colorProfile())


def rgb_space_for(space: pixels.ColorSpace) -> pixels.ColorSpace:
    """The RGB colour space a grayscale document becomes so that colours can show."""
    if space.depth in ("U8", "U16"):
        return pixels.ColorSpace("RGBA", space.depth, pixels.SRGB_PROFILE)
    return pixels.ColorSpace("RGBA", space.depth, "sRGB-elle-V2-g10.icc")


# -- reading --------------------------------------------------------------------------------
def convert(raw: bytes, w: int, h: int, src: pixels.ColorSpace, dst: pixels.ColorSpace) -> bytes:
    """Krita's colour-managed conversion of raw pixels, in a hidden scratch document."""
    scratch = Krita.instance().createDocument(
        w, h, "chromahint-convert", src.model, src.depth, src.profile, 72.0
    )
    try:
        layer = scratch.rootNode().childNodes()[0]
        layer.setPixelData(QByteArray(raw), 0, 0, w, h)
        layer.setColorSpace(dst.model, dst.depth, dst.profile)
        scratch.waitForDone()
        return bytes(layer.pixelData(0, 0, w, h))
    finally:
        scratch.close()


def read_raster(node: Node, rect: Rect, eight_bit: bool = False) -> Raster:
    """A node's pixels over an image rectangle as sRGB BGRA (8 bits when asked)."""
    space = color_space(node)
    raw = bytes(node.pixelData(rect.x, rect.y, rect.w, rect.h))
    if space.direct:
        bgra, sample_bytes = pixels.to_bgra(raw, space), space.sample_bytes
    else:
        target = pixels.RGBA8_SRGB if eight_bit else pixels.RGBA16_SRGB
        bgra, sample_bytes = convert(raw, rect.w, rect.h, space, target), target.sample_bytes
    if eight_bit and sample_bytes == 2:
        bgra, sample_bytes = pixels.bgra16_to_8(bgra), 1
    return Raster(bgra, rect, sample_bytes)


def node_rect(node: Node) -> Rect:
    b = node.bounds()
    return Rect(b.x(), b.y(), b.width(), b.height())


def document_rect(doc: Document) -> Rect:
    return Rect(0, 0, doc.width(), doc.height())


def work_area(doc: Document) -> tuple[Rect, bytes | None]:
    """The rectangle to colorize (the selection's bounds, else the image) and its mask."""
    full = document_rect(doc)
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return full, None
    x0, y0 = max(0, sel.x()), max(0, sel.y())
    x1 = min(full.w, sel.x() + sel.width())
    y1 = min(full.h, sel.y() + sel.height())
    if x1 <= x0 or y1 <= y0:
        return full, None
    rect = Rect(x0, y0, x1 - x0, y1 - y0)
    return rect, bytes(sel.pixelData(rect.x, rect.y, rect.w, rect.h))


def hint_rasters(doc: Document, hint_layer: Node | None, source: Node) -> list[Raster]:
    """The painted hints: the hint layer, plus key strokes of Colorize Masks on the source.

    Krita 5.1's API has no Colorize Mask class; a mask's pixelData is its key-stroke device
    (what the artist sees while editing key strokes), which is read as more hints.
    """
    rasters = []
    if hint_layer is not None:
        r = node_rect(hint_layer)
        if r.w > 0 and r.h > 0:
            rasters.append(read_raster(hint_layer, r, eight_bit=True))
    for child in source.childNodes():
        if child.type() == "colorizemask":
            rasters.append(read_raster(child, document_rect(doc), eight_bit=True))
    return rasters


def fingerprint(node: Node | None) -> tuple:
    """Cheap identity of a layer's content, for noticing new hint strokes."""
    if node is None:
        return ()
    r = node_rect(node)
    if r.w <= 0 or r.h <= 0:
        return (r,)
    return (r, zlib.crc32(node.pixelData(r.x, r.y, r.w, r.h)))


def thumbnail_image(target: Document | Node, max_side: int = 512) -> dict:
    """A reference image for the engine: the document's or layer's picture, small."""
    if isinstance(target, Document):
        w, h = target.width(), target.height()
    else:
        r = node_rect(target)
        w, h = max(1, r.w), max(1, r.h)
    scale = min(1.0, max_side / max(w, h))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    img = target.thumbnail(tw, th).convertToFormat(QImage.Format_RGBA8888)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    data = bytes(ptr)
    stride, row = img.bytesPerLine(), 4 * img.width()
    if stride != row:
        data = b"".join(data[y * stride : y * stride + row] for y in range(img.height()))
    return {"width": img.width(), "height": img.height(), "format": "rgba8", "data": data}


# -- writing --------------------------------------------------------------------------------
def _raw_for(rgba8: bytes, raw: bytes | None, rect: Rect, space: pixels.ColorSpace) -> bytes:
    if raw is not None and len(raw) == rect.w * rect.h * space.pixel_bytes:
        return raw
    if space.writable:
        return pixels.rgba8_for(rgba8, space)
    return convert(pixels.rgba8_to_bgra(rgba8, 1), rect.w, rect.h, pixels.RGBA8_SRGB, space)


def _sibling_below(node: Node) -> Node | None:
    parent = node.parentNode()
    ids = [uid(n) for n in parent.childNodes()]  # bottom first
    i = ids.index(uid(node))
    return parent.childNodes()[i - 1] if i > 0 else None


def ensure_rgb(doc: Document) -> bool:
    """Grayscale documents cannot show colours: convert to RGB (one undo step)."""
    space = document_space(doc)
    if not space.is_gray:
        return False
    rgb = rgb_space_for(space)
    doc.setColorSpace(rgb.model, rgb.depth, rgb.profile)
    doc.waitForDone()
    return True


def write_layer(
    doc: Document,
    name: str,
    rgba8: bytes,
    raw: bytes | None,
    rect: Rect,
    mask: bytes | None,
    place: tuple[Node, bool] | None,
    replace: bool,
) -> Node:
    """Write the engine's rgba8 over `rect` into the layer called `name`, creating it when
    missing at `place` = (reference node, above it?). With `mask`, only selected pixels change.
    """
    existing = find_named(doc, name)
    space = color_space(existing) if existing is not None else document_space(doc)
    data = _raw_for(rgba8, raw, rect, space)
    if mask is not None:
        old = (
            bytes(existing.pixelData(rect.x, rect.y, rect.w, rect.h))
            if existing is not None
            else bytes(len(data))
        )
        spans = pixels.selected_spans(mask, rect.w, rect.h)
        data = pixels.merge_spans(data, old, spans, rect.w, space.pixel_bytes)
    if existing is not None and not replace:
        existing.setPixelData(QByteArray(data), rect.x, rect.y, rect.w, rect.h)
        doc.refreshProjection()
        return existing
    if existing is not None:
        node = existing.duplicate()  # keeps the artist's opacity, blending, masks
        node.setPixelData(QByteArray(data), rect.x, rect.y, rect.w, rect.h)
        parent, below = existing.parentNode(), _sibling_below(existing)
        if below is not None:
            existing.remove()
            parent.addChildNode(node, below)
        else:  # the bottom layer: there is nothing to add it above once it is gone
            parent.addChildNode(node, existing)
            existing.remove()
    else:
        node = doc.createNode(name, "paintlayer")
        node.setPixelData(QByteArray(data), rect.x, rect.y, rect.w, rect.h)
        if place is None:
            doc.rootNode().addChildNode(node, None)
        else:
            ref, above = place
            # addChildNode puts a node above its second argument; "below ref" means above
            # the layer under ref, or above ref when nothing is under it.
            anchor = ref if above else (_sibling_below(ref) or ref)
            ref.parentNode().addChildNode(node, anchor)
    doc.waitForDone()
    return find_named(doc, name) or node


def add_hint_layer(doc: Document, source: Node | None) -> Node:
    """A new `Hints` paint layer above the source (and above a Colorized layer next to it)."""
    node = doc.createNode(HINTS_NAME, "paintlayer")
    if source is None:
        doc.rootNode().addChildNode(node, None)
    else:
        parent = source.parentNode()
        siblings = parent.childNodes()
        ids = [uid(n) for n in siblings]
        i = ids.index(uid(source))
        above = source
        if i + 1 < len(siblings) and siblings[i + 1].name() == RESULT_NAME:
            above = siblings[i + 1]
        parent.addChildNode(node, above)
    doc.waitForDone()
    created = find_node(doc, uid(node)) or find_named(doc, HINTS_NAME) or node
    doc.setActiveNode(created)
    return created


def overlay_bgra(region_map: RegionMap, rect: Rect) -> bytes:
    """The numbered-regions overlay as 8-bit BGRA for `rect`: tints plus numbered badges."""
    gw, gh = region_map.grid_w, region_map.grid_h
    stride = (gw + 3) // 4 * 4  # QImage wants scan lines on 32-bit boundaries
    ranks = b"".join(
        region_map.ranks[y * gw : (y + 1) * gw].ljust(stride, b"\0") for y in range(gh)
    )
    tiles = QImage(ranks, gw, gh, stride, QImage.Format_Indexed8)
    table = [0] * 256
    for rank in range(1, 256):
        r, g, b = REGION_TINTS[(rank - 1) % len(REGION_TINTS)]
        table[rank] = (90 << 24) | (r << 16) | (g << 8) | b
    tiles.setColorTable(table)
    image = tiles.scaled(rect.w, rect.h, Qt.IgnoreAspectRatio, Qt.FastTransformation)
    image = image.convertToFormat(QImage.Format_ARGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    radius = max(9.0, min(rect.w, rect.h) / 40.0)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(radius * 1.2))
    painter.setFont(font)
    for region in region_map.regions:
        r, g, b = REGION_TINTS[(region.rank - 1) % len(REGION_TINTS)]
        centre = QPointF(region.x, region.y)
        painter.setPen(QPen(QColor(255, 255, 255), max(1.5, radius / 6)))
        painter.setBrush(QColor(r, g, b))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(QColor(255, 255, 255))
        box = QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
        painter.drawText(box, Qt.AlignCenter, str(region.rank))
    painter.end()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return bytes(ptr)  # ARGB32 on little-endian machines is B, G, R, A in memory


def write_overlay(doc: Document, region_map: RegionMap, rect: Rect) -> Node:
    bgra = overlay_bgra(region_map, rect)
    rgba8 = pixels.swap_red_blue(bgra, 1)
    return write_layer(doc, OVERLAY_NAME, rgba8, None, rect, None, None, replace=False)


# -- colours --------------------------------------------------------------------------------
def set_foreground(rgb: tuple[int, int, int]) -> bool:
    """Make an sRGB colour Krita's foreground colour, converted to the canvas's space."""
    window = Krita.instance().activeWindow()
    view = window.activeView() if window is not None else None
    if view is None:
        return False
    view.setForeGroundColor(ManagedColor.fromQColor(QColor(*rgb), view.canvas()))
    return True


def foreground_rgb() -> tuple[int, int, int] | None:
    window = Krita.instance().activeWindow()
    view = window.activeView() if window is not None else None
    if view is None:
        return None
    c = view.foregroundColor().colorForCanvas(view.canvas())
    return (c.red(), c.green(), c.blue())
