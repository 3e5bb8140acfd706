"""The three procedures: Colorize from Hints, Suggest Colors, Guide Regions.

Each reads what it needs from GIMP, sends one typed protocol request through the shared
client (in a worker thread, see engine_job) and turns the typed reply into a layer or a
palette, in one undo step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

# GIMP's gi bindings ship no stubs, so pyright cannot resolve them.
from gi.repository import Babl, Gegl, Gimp, GLib  # pyright: ignore[reportMissingImports]

from chromahint_client import Client
from chromahint_client import protocol as P
from chromahint_client.session import reference_note

from . import engine_job, layers, pixel_formats, region_overlay, swatch_palette
from .errors import PluginError
from .names import PALETTE_NAME, REGIONS_LAYER_NAME, RESULT_LAYER_NAME

# chromahint.json lies beside chromahint-gimp.py, one folder up.
PLUGIN_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = TypeVar("T")


def ask_engine(busy_text: str, what: str, call: Callable[[Client], T]) -> T:
    """Send one request from a worker thread while the progress bar shows its progress."""
    settings = engine_job.load_settings(PLUGIN_FOLDER)
    log_path = os.path.join(Gimp.directory(), "chromahint-engine.log")
    Gimp.progress_init(busy_text)

    def pulse(text: str | None, done: float | None) -> None:
        if text:
            Gimp.progress_set_text(text)
        if done is None:
            Gimp.progress_pulse()
        else:
            Gimp.progress_update(done)

    try:
        return engine_job.run_in_background(
            lambda report, fraction: engine_job.ask(
                settings, call, what, report, log_path, fraction
            ),
            pulse,
        )
    finally:
        Gimp.progress_end()


def checked(image: P.Image, fmt: str, size: tuple[int, int], what: str) -> bytes:
    try:
        return pixel_formats.reply_pixels(image, fmt, size, what)
    except ValueError as e:
        raise PluginError(f"Chromahint: {e}.") from None


# -- Colorize from Hints --------------------------------------------------------------------
def reference_picture(config: Gimp.ProcedureConfig) -> P.Image | None:
    """The colour reference to follow: a layer of an open image, or a picture file."""
    layer, gfile = config.get_property("reference"), config.get_property("reference-file")
    if layer is None and gfile is None:
        return None
    if layer is not None and gfile is not None:
        raise PluginError("Choose a reference layer or a reference file, not both.")
    if gfile is None:
        return layers.layer_image(layer)
    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    except GLib.Error as e:
        raise PluginError(
            f"Cannot open the reference file {gfile.get_path()}: {e.message}"
        ) from None
    try:
        return layers.layer_image(loaded.flatten())
    finally:
        loaded.delete()


def global_hints(config: Gimp.ProcedureConfig) -> P.GlobalHints | None:
    if not config.get_property("use-palette"):
        return None
    palette = config.get_property("palette")
    if palette is None:
        raise PluginError("'use-palette' is on but no palette is chosen.")
    srgb8 = Babl.format("R'G'B' u8")
    colors = [tuple(c.get_bytes(srgb8).get_data()) for c in palette.get_colors()]
    if not colors:
        raise PluginError(f"The palette '{palette.get_name()}' has no colours.")
    return P.GlobalHints(palette=tuple((r, g, b, 1.0) for r, g, b in colors))


def colorize(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> Gimp.Layer:
    hint = layers.hint_layer_of(image, config)
    source = layers.source_layer(image, drawables, hint)
    found = layers.read_hints(hint, source)
    mode = P.Mode(config.get_property("mode"))
    reference = reference_picture(config)
    if reference is not None and mode is not P.Mode.PHOTO:
        raise PluginError("A reference picture is for photos: set the mode to 'photo'.")
    request = P.ColorizeRequest(
        layers.layer_image(source),
        tuple(found.points),
        mode,
        global_hints=global_hints(config),
        reference=reference,
        reference_mode=P.ReferenceMode(config.get_property("reference-mode")),
    )
    with_ref = " and a reference" if reference is not None else ""
    reply = ask_engine(
        f"Chromahint: colorizing '{source.get_name()}' with {len(found.points)} hint points"
        f"{with_ref}…",
        f"colorize in {mode.value} mode",
        lambda client: client.colorize(request),
    )
    confidence = reply.reference_confidence
    if confidence is not None and confidence < P.REFERENCE_FIT_LOW:
        Gimp.message("Chromahint:" + reference_note(confidence))
    rgba = checked(reply.layer, pixel_formats.RESULT.protocol, layers.size_of(source), "layer")
    image.undo_group_start()
    try:
        # A grayscale image cannot hold colour: convert it in the same undo step, so one
        # Undo brings back the grayscale image exactly as it was.
        if image.get_base_type() != Gimp.ImageBaseType.RGB:
            image.convert_rgb()
        return layers.add_layer_above(image, source, RESULT_LAYER_NAME, rgba)
    finally:
        image.undo_group_end()


def colorize_from_reference(
    image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig
) -> Gimp.Layer:
    if config.get_property("reference") is None and config.get_property("reference-file") is None:
        raise PluginError(
            "Choose a reference: a layer of an open image ('Reference layer') or a picture "
            "file ('Reference file')."
        )
    return colorize(image, drawables, config)


# -- Suggest Colors -------------------------------------------------------------------------
def replace_palette(entries: list[swatch_palette.Entry], columns: int) -> Gimp.Palette:
    """The `Chromahint` palette with exactly these entries (emptied, not recreated, so the
    Palettes dock keeps showing it)."""
    palette = Gimp.Palette.get_by_name(PALETTE_NAME)
    if palette is None or not palette.is_editable():
        palette = Gimp.Palette.new(PALETTE_NAME)
    else:
        for i in reversed(range(palette.get_color_count())):
            palette.delete_entry(i)
    palette.set_columns(columns)
    for entry in entries:
        palette.add_entry(entry.name, Gegl.Color.new(entry.hex))
    return palette


def suggest_colors(
    image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig
) -> Gimp.Palette:
    hint = layers.hint_layer_of(image, config)
    source = layers.source_layer(image, drawables, hint)
    found = layers.read_hints(hint, source)
    w, h = layers.size_of(source)
    # One place per blob, in reading order (top to bottom, then left to right).
    where = swatch_palette.places(
        [(b.x, b.y) for b in found.blobs], layers.selection_center(image, source), w, h
    )
    if not where:
        raise PluginError(
            "Nothing to suggest colours for: paint hints on the hint layer or select an area."
        )
    k = config.get_property("count")
    request = P.SwatchesRequest(
        layers.layer_image(source),
        tuple(P.Spot(p.x, p.y) for p in where),
        k=k,
        hints=tuple(found.points),
        mode=P.Mode(config.get_property("mode")),
    )
    reply = ask_engine(
        f"Chromahint: suggesting colours at {len(where)} places…",
        "suggest colours",
        lambda client: client.swatches(request),
    )
    try:
        entries = swatch_palette.entries(where, reply.swatches)
    except ValueError as e:
        raise PluginError(f"The engine's swatches reply is not usable: {e}") from None
    palette = replace_palette(entries, k)
    Gimp.message(
        f"Chromahint: {len(entries)} suggested colours are in the palette "
        f"'{palette.get_name()}' (Windows ▸ Dockable Dialogs ▸ Palettes)."
    )
    return palette


# -- Guide Regions --------------------------------------------------------------------------
def guide_regions(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> Gimp.Layer:
    # The hint layer only locates the drawing (the layer below it): regions come from the
    # lines alone.
    source = layers.source_layer(image, drawables, layers.hint_layer_of(image, config))
    count = config.get_property("count")
    request = P.RegionsRequest(layers.layer_image(source), max_regions=count)
    reply = ask_engine(
        "Chromahint: finding the regions to hint next…",
        "find the line-art regions to hint next",
        lambda client: client.regions(request),
    )
    w, h = layers.size_of(source)
    labels = checked(reply.labels, pixel_formats.LABELS, (w, h), "region labels")
    overlay = region_overlay.render(labels, w, h, reply.order, count)
    image.undo_group_start()
    try:
        old = layers.find_layer(image, REGIONS_LAYER_NAME)
        if old is not None:
            image.remove_layer(old)
        # On top of the source's stack, so the guide shows above the hints.
        return layers.add_layer_above(image, source, REGIONS_LAYER_NAME, overlay.rgba, position=0)
    finally:
        image.undo_group_end()
