"""Layers in GIMP: finding the source and hint layers, reading their pixels as protocol
images and hints, adding a result layer, and the selection."""

from __future__ import annotations

# GIMP's gi bindings ship no stubs, so pyright cannot resolve them.
from gi.repository import Gegl, Gimp  # pyright: ignore[reportMissingImports]

from chromahint_client import hints, images
from chromahint_client import protocol as P

from . import pixel_formats
from .errors import PluginError
from .names import HINT_LAYER_NAME


def find_layer(image: Gimp.Image, name: str) -> Gimp.Layer | None:
    """The topmost layer called `name`, looking inside layer groups too."""
    pending = list(image.get_layers())
    while pending:
        layer = pending.pop(0)
        if layer.get_name() == name:
            return layer
        if layer.is_group():
            pending[0:0] = list(layer.get_children())
    return None


def hint_layer_of(image: Gimp.Image, config: Gimp.ProcedureConfig) -> Gimp.Layer | None:
    return config.get_property("hint-layer") or find_layer(image, HINT_LAYER_NAME)


def siblings_of(image: Gimp.Image, layer: Gimp.Layer) -> list[Gimp.Layer]:
    parent = layer.get_parent()
    return list(parent.get_children() if parent is not None else image.get_layers())


def layer_below(image: Gimp.Image, layer: Gimp.Layer) -> Gimp.Layer | None:
    siblings = siblings_of(image, layer)
    i = [s.get_id() for s in siblings].index(layer.get_id())
    return siblings[i + 1] if i + 1 < len(siblings) else None


def source_layer(
    image: Gimp.Image, drawables: list[Gimp.Drawable], hint: Gimp.Layer | None
) -> Gimp.Layer:
    """The selected layer, or, when only the hint layer is selected, the layer below it."""
    candidates = []
    for drawable in drawables:
        if drawable.is_layer_mask():
            drawable = Gimp.Layer.from_mask(drawable)
        if not drawable.is_layer():
            raise PluginError(
                "Chromahint colorizes layers: select the grayscale layer, not a channel."
            )
        if hint is None or drawable.get_id() != hint.get_id():
            candidates.append(drawable)
    if len(candidates) > 1:
        raise PluginError(
            f"{len(candidates)} layers are selected: select the one layer to colorize."
        )
    if candidates:
        return candidates[0]
    if hint is None:
        raise PluginError("Select the layer to colorize.")
    below = layer_below(image, hint)
    if below is None:
        raise PluginError(
            f"There is no layer below the hint layer '{hint.get_name()}': "
            "select the layer to colorize."
        )
    return below


def offsets(drawable: Gimp.Drawable) -> tuple[int, int]:
    _, x, y = drawable.get_offsets()
    return x, y


def size_of(drawable: Gimp.Drawable) -> tuple[int, int]:
    return drawable.get_width(), drawable.get_height()


def read_pixels(drawable: Gimp.Drawable, babl: str) -> bytes:
    w, h = size_of(drawable)
    rect = Gegl.Rectangle.new(0, 0, w, h)
    return bytes(drawable.get_buffer().get(rect, 1.0, babl, Gegl.AbyssPolicy.NONE))


def layer_image(drawable: Gimp.Drawable) -> P.Image:
    """A drawable as a protocol image, in the format closest to how GIMP holds it."""
    precision = drawable.get_image().get_precision().value_nick
    fmt = pixel_formats.source_format(precision, drawable.is_rgb(), drawable.has_alpha())
    w, h = size_of(drawable)
    # Babl hands out RGBA order and native-endian samples.
    return images.layer_image(read_pixels(drawable, fmt.babl), w, h, fmt.protocol)


def read_hints(hint: Gimp.Layer | None, source: Gimp.Layer) -> hints.Hints:
    """Hint points and blobs (reading order) in the source layer's pixel coordinates."""
    if hint is None:
        return hints.Hints()
    if not hint.has_alpha():
        raise PluginError(
            f"The hint layer '{hint.get_name()}' has no transparency, so all of it would be "
            "one big hint: paint hints on a transparent layer (Layer ▸ Transparency ▸ Add "
            "Alpha Channel)."
        )
    data = read_pixels(hint, pixel_formats.HINTS.babl)
    (hx, hy), (sx, sy) = offsets(hint), offsets(source)
    return hints.extract(
        data,
        hint.get_width(),
        hint.get_height(),
        order="RGBA",
        offset=(hx - sx, hy - sy),
        image_size=size_of(source),
    )


def add_layer_above(
    image: Gimp.Image, below: Gimp.Layer, name: str, rgba: bytes, position: int | None = None
) -> Gimp.Layer:
    """A new RGBA layer with `rgba` (8-bit, the size of `below`) at `below`'s offsets, just
    above it or at `position` in its parent. Call inside an undo group."""
    w, h = size_of(below)
    layer = Gimp.Layer.new(
        image, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL
    )
    where = image.get_item_position(below) if position is None else position
    image.insert_layer(layer, below.get_parent(), where)
    layer.set_offsets(*offsets(below))
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), pixel_formats.RESULT.babl, rgba)
    buffer.flush()
    layer.update(0, 0, w, h)
    return layer


def selection_center(image: Gimp.Image, source: Gimp.Layer) -> tuple[float, float] | None:
    """The selection's centre in the source layer's pixels; None without a selection."""
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    if not non_empty:
        return None
    sx, sy = offsets(source)
    return (x1 + x2) / 2.0 - sx, (y1 + y2) / 2.0 - sy
