"""Every call into Krita's API, so the rest of the plug-in never touches it. GUI thread only.

Reading: layers come out as sRGB-encoded BGRA bytes (pixels.LayerPixels). Colour spaces
that byte shuffling cannot handle (floats, linear or wide-gamut profiles, CMYK, Lab) go
through Krita's own colour management in a hidden scratch document: converting a detached
layer of the artist's document would land on that document's undo stack.

Writing: Krita 5.1's scripting API records adding and removing layers on the undo stack but
not `setPixelData`. So a result layer that is new is filled before it is added (one undo
step), an explicit re-run replaces the layer by a filled duplicate (undo brings the previous
result back), and live updates write in place (the artist's own strokes stay the undo steps).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from krita import (
    Canvas,
    DockWidget,
    DockWidgetFactory,
    DockWidgetFactoryBase,
    Document,
    Krita,
    ManagedColor,
    Node,
)
from PyQt5.QtCore import QByteArray
from PyQt5.QtGui import QColor

from chromahint_client import protocol as P
from chromahint_client.hints import to_8bit
from chromahint_client.regions import RegionMap

from . import pixels
from .overlay import overlay_rgba8
from .pixels import LayerPixels, Rect
from .reference_files import image_of

HINTS_NAME = "Hints"
RESULT_NAME = "Colorized"
OVERLAY_NAME = "Chromahint regions"
OUR_LAYERS = (HINTS_NAME, RESULT_NAME, OVERLAY_NAME)
LINEART_WORDS = ("line", "ink", "sketch", "lineart")


# -- Krita itself ---------------------------------------------------------------------------
def add_docker(docker_id: str, docker_class: type[DockWidget]) -> None:
    factory = DockWidgetFactory(docker_id, DockWidgetFactoryBase.DockRight, docker_class)
    Krita.instance().addDockWidgetFactory(factory)


def canvas_document(canvas: Canvas | None) -> Document | None:
    """The document a docker's canvas shows (None when no view is open)."""
    view = canvas.view() if canvas is not None else None
    return view.document() if view is not None else None


def active_document() -> Document | None:
    return Krita.instance().activeDocument()


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


def other_documents(doc: Document | None) -> list[tuple[str, str]]:
    """(key, name) of the open documents other than `doc`."""
    key = document_key(doc) if doc is not None else None
    return [
        (document_key(d), d.name() or d.fileName() or "Untitled")
        for d in Krita.instance().documents()
        if document_key(d) != key
    ]


def layer_rows(doc: Document) -> list[tuple[str, str]]:
    """(id, name) of the document's paint layers, topmost first."""
    return [(uid(n), n.name()) for n in paint_layers(doc)]


def node_id(node: Node | None) -> str | None:
    return uid(node) if node is not None else None


def default_source(doc: Document, mode: P.Mode) -> Node | None:
    """The active paint layer unless it is one of ours; in line-art mode a line-art layer."""
    layers = [n for n in paint_layers(doc) if n.name() not in OUR_LAYERS]
    if mode is P.Mode.LINEART:
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


def result_space(doc: Document) -> pixels.ColorSpace:
    """The colour space the result will be written in: the existing result layer's, else
    the document's (RGB for a grayscale document, which is converted first)."""
    existing = find_named(doc, RESULT_NAME)
    if existing is not None:
        return color_space(existing)
    space = document_space(doc)
    return rgb_space_for(space) if space.is_gray else space


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


def read_pixels(node: Node, rect: Rect, eight_bit: bool = False) -> LayerPixels:
    """A node's pixels over an image rectangle as sRGB BGRA (8 bits when asked)."""
    space = color_space(node)
    raw = bytes(node.pixelData(rect.x, rect.y, rect.w, rect.h))
    if space.direct:
        bgra, sample_bytes = pixels.to_bgra(raw, space), space.sample_bytes
    else:
        target = pixels.RGBA8_SRGB if eight_bit else pixels.RGBA16_SRGB
        bgra, sample_bytes = convert(raw, rect.w, rect.h, space, target), target.sample_bytes
    if eight_bit and sample_bytes == 2:
        bgra, sample_bytes = to_8bit(bgra), 1
    return LayerPixels(bgra, rect, sample_bytes)


def node_rect(node: Node) -> Rect:
    b = node.bounds()
    return Rect(b.x(), b.y(), b.width(), b.height())


def document_rect(doc: Document) -> Rect:
    return Rect(0, 0, doc.width(), doc.height())


def selection_center(doc: Document) -> tuple[float, float] | None:
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return None
    return sel.x() + sel.width() / 2.0, sel.y() + sel.height() / 2.0


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


def hint_pixels(doc: Document, hint_layer: Node | None, source: Node) -> tuple[LayerPixels, ...]:
    """The painted hints: the hint layer, plus key strokes of Colorize Masks on the source.

    Krita 5.1's API has no Colorize Mask class; a mask's pixelData is its key-stroke device
    (what the artist sees while editing key strokes), which is read as more hints.
    """
    layers = []
    if hint_layer is not None:
        r = node_rect(hint_layer)
        if r.w > 0 and r.h > 0:
            layers.append(read_pixels(hint_layer, r, eight_bit=True))
    for child in source.childNodes():
        if child.type() == "colorizemask":
            layers.append(read_pixels(child, document_rect(doc), eight_bit=True))
    return tuple(layers)


def fingerprint(node: Node | None) -> tuple:
    """Cheap identity of a layer's content, for noticing new hint strokes."""
    if node is None:
        return ()
    r = node_rect(node)
    if r.w <= 0 or r.h <= 0:
        return (r,)
    return (r, zlib.crc32(bytes(node.pixelData(r.x, r.y, r.w, r.h))))


def thumbnail_image(target: Document | Node, max_side: int = 512) -> P.Image:
    """A reference image for the engine: the document's or layer's picture, small."""
    if isinstance(target, Document):
        w, h = target.width(), target.height()
    else:
        r = node_rect(target)
        w, h = max(1, r.w), max(1, r.h)
    scale = min(1.0, max_side / max(w, h))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    return image_of(target.thumbnail(tw, th))


# -- writing --------------------------------------------------------------------------------
def _raw_for(rgba8: bytes, raw: bytes | None, rect: Rect, space: pixels.ColorSpace) -> bytes:
    if raw is not None and len(raw) == rect.w * rect.h * space.pixel_bytes:
        return raw
    if space.writable:
        return pixels.rgba8_for(rgba8, space)
    return convert(pixels.rgba8_to_bgra(rgba8, 1), rect.w, rect.h, pixels.RGBA8_SRGB, space)


def _new_paint_layer(doc: Document, name: str) -> Node:
    """A new paint layer, not in the layer stack yet."""
    node = doc.createNode(name, "paintlayer")
    if node is None:  # Krita gives None when the document has no image to make it for
        raise RuntimeError(f"Krita could not create the paint layer {name!r}")
    return node


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
        node = _new_paint_layer(doc, name)
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
    node = _new_paint_layer(doc, HINTS_NAME)
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


def write_overlay(doc: Document, region_map: RegionMap, rect: Rect) -> Node:
    """The numbered regions on their own layer (`OVERLAY_NAME`), written in place."""
    rgba8 = overlay_rgba8(region_map, rect)
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
