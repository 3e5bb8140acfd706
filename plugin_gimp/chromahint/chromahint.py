#!/usr/bin/env python3
"""Chromahint for GIMP 3: colorize a grayscale layer from painted hints, suggest swatches,
and show which line-art regions to hint next, using the resident Chromahint engine.

Filters ▸ Colors ▸ Chromahint. Every procedure also runs non-interactively with all its
parameters as arguments (scripts, batch mode). The plug-in stays thin: the standard
library, GIMP's introspection bindings and the shared `chromahint_client` (pyzmq and
msgpack); the engine does all the image work.
"""

from __future__ import annotations

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
# Our folder first (the client copy and our modules), then wheels the installer vendored
# for a GIMP whose Python lacks pyzmq or msgpack.
sys.path[0:0] = [HERE, os.path.join(HERE, "vendor")]

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from chromahint_gimp import pixel_formats, region_overlay, swatch_palette  # noqa: E402
from chromahint_gimp.settings import Settings, SettingsError  # noqa: E402
from chromahint_gimp.settings import load as load_settings  # noqa: E402
from gi.repository import Babl, Gegl, Gimp, GimpUi, GLib, GObject  # noqa: E402

try:
    from chromahint_gimp import engine_job

    from chromahint_client import hints as hint_extraction
except ImportError as e:  # no pyzmq/msgpack: register anyway and say so when run
    IMPORT_ERROR: str | None = (
        f"Chromahint cannot talk to its engine from GIMP's Python ({e}). "
        "Run 'chromahint install --gimp' so it provides pyzmq and msgpack."
    )
else:
    IMPORT_ERROR = None

COLORIZE = "chromahint-colorize"
SUGGEST = "chromahint-suggest-colors"
REGIONS = "chromahint-guide-regions"
MENU = "<Image>/Filters/Colors/Chromahint"
HINT_LAYER_NAME = "Hints"
RESULT_LAYER_NAME = "Colorized"
REGIONS_LAYER_NAME = "Chromahint regions"
RW = GObject.ParamFlags.READWRITE


class PluginError(Exception):
    """Something the user can fix; str() is the message GIMP shows."""


# -- layers ---------------------------------------------------------------------------------
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


# -- pixels ---------------------------------------------------------------------------------
def read_pixels(drawable: Gimp.Drawable, babl: str) -> bytes:
    w, h = drawable.get_width(), drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, w, h)
    return bytes(drawable.get_buffer().get(rect, 1.0, babl, Gegl.AbyssPolicy.NONE))


def image_message(drawable: Gimp.Drawable) -> dict:
    """A drawable as the protocol's image map, in the format closest to how GIMP holds it."""
    precision = drawable.get_image().get_precision().value_nick
    fmt = pixel_formats.source_format(precision, drawable.is_rgb(), drawable.has_alpha())
    data = read_pixels(drawable, fmt.babl)
    return pixel_formats.image_message(data, drawable.get_width(), drawable.get_height(), fmt)


def read_hints(hint: Gimp.Layer | None, source: Gimp.Layer):
    """Hint points and blobs in the source layer's pixel coordinates."""
    if hint is None:
        return hint_extraction.Hints()
    if not hint.has_alpha():
        raise PluginError(
            f"The hint layer '{hint.get_name()}' has no transparency, so all of it would be "
            "one big hint: paint hints on a transparent layer (Layer ▸ Transparency ▸ Add "
            "Alpha Channel)."
        )
    data = read_pixels(hint, pixel_formats.HINTS.babl)
    (hx, hy), (sx, sy) = offsets(hint), offsets(source)
    return hint_extraction.extract(
        data,
        hint.get_width(),
        hint.get_height(),
        order="RGBA",
        offset=(hx - sx, hy - sy),
        image_size=(source.get_width(), source.get_height()),
    )


def palette_colors(palette: Gimp.Palette) -> list[list[int]]:
    srgb8 = Babl.format("R'G'B' u8")
    colors = [list(c.get_bytes(srgb8).get_data()) for c in palette.get_colors()]
    if not colors:
        raise PluginError(f"The palette '{palette.get_name()}' has no colours.")
    return colors


def reference_message(config: Gimp.ProcedureConfig) -> dict | None:
    """The reference picture, from a layer of any open image or from a file."""
    layer = config.get_property("reference")
    if layer is not None:
        return image_message(layer)
    gfile = config.get_property("reference-file")
    if gfile is None:
        return None
    try:
        ref = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    except GLib.Error as e:
        raise PluginError(
            f"Cannot open the reference image {gfile.get_path()}: {e.message}"
        ) from None
    if ref is None:
        raise PluginError(f"Cannot open the reference image {gfile.get_path()}.")
    try:
        return image_message(ref.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE))
    finally:
        ref.delete()


def add_layer_above(
    image: Gimp.Image, below: Gimp.Layer, name: str, rgba: bytes, position: int | None = None
) -> Gimp.Layer:
    """A new RGBA layer with `rgba` (8-bit, the size of `below`) at `below`'s offsets, just
    above it or at `position` in its parent. Call inside an undo group."""
    w, h = below.get_width(), below.get_height()
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


def reply_image(reply: dict, key: str, fmt: str, bytes_per_pixel: int, size: tuple[int, int]):
    """The pixels of the reply's image `key`, checked against what was asked for."""
    image = reply.get(key)
    if not isinstance(image, dict) or image.get("format") != fmt:
        raise PluginError(f"The engine's reply has no {fmt} image '{key}'.")
    if (image.get("width"), image.get("height")) != size:
        raise PluginError(
            f"The engine answered with a {image.get('width')}x{image.get('height')} image "
            f"for a {size[0]}x{size[1]} layer."
        )
    data = image.get("data")
    if not isinstance(data, bytes) or len(data) != size[0] * size[1] * bytes_per_pixel:
        raise PluginError(f"The engine's '{key}' image does not hold {size[0]}x{size[1]} pixels.")
    return data


# -- talking to the engine ------------------------------------------------------------------
def settings() -> Settings:
    try:
        return load_settings(HERE)
    except SettingsError as e:
        raise PluginError(str(e)) from None


def ask_engine(op: str, busy_text: str, **fields) -> dict:
    """Send one request from a worker thread while the progress bar pulses."""
    config = settings()
    log_path = os.path.join(Gimp.directory(), "chromahint-engine.log")
    Gimp.progress_init(busy_text)

    def pulse(text: str | None) -> None:
        if text:
            Gimp.progress_set_text(text)
        Gimp.progress_pulse()

    try:
        return engine_job.run_in_background(
            lambda report: engine_job.request(config, op, report, log_path, **fields), pulse
        )
    except engine_job.EngineFailure as e:
        raise PluginError(str(e)) from None
    finally:
        Gimp.progress_end()


# -- procedures -----------------------------------------------------------------------------
def colorize(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> Gimp.Layer:
    hint = hint_layer_of(image, config)
    source = source_layer(image, drawables, hint)
    found = read_hints(hint, source)
    fields: dict = {"mode": config.get_property("mode")}
    palette = config.get_property("palette")
    if config.get_property("use-palette"):
        if palette is None:
            raise PluginError("'use-palette' is on but no palette is chosen.")
        fields["palette"] = palette_colors(palette)
    reference = reference_message(config)
    if reference is not None:
        fields["reference"] = reference
    message = image_message(source)
    reply = ask_engine(
        "colorize",
        f"Chromahint: colorizing '{source.get_name()}' with {len(found.points)} hint points…",
        image=message,
        points=found.points,
        **fields,
    )
    rgba = reply_image(reply, "layer", pixel_formats.RESULT.protocol, 4, size_of(source))
    image.undo_group_start()
    try:
        # A grayscale image cannot hold colour: convert it in the same undo step, so one
        # Undo brings back the grayscale image exactly as it was.
        if image.get_base_type() != Gimp.ImageBaseType.RGB:
            image.convert_rgb()
        return add_layer_above(image, source, RESULT_LAYER_NAME, rgba)
    finally:
        image.undo_group_end()


def selection_center(image: Gimp.Image, source: Gimp.Layer) -> tuple[float, float] | None:
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    if not non_empty:
        return None
    sx, sy = offsets(source)
    return (x1 + x2) / 2.0 - sx, (y1 + y2) / 2.0 - sy


def replace_palette(entries: list, columns: int) -> Gimp.Palette:
    """The `Chromahint` palette with exactly these entries (emptied, not recreated, so the
    Palettes dock keeps showing it)."""
    palette = Gimp.Palette.get_by_name(swatch_palette.PALETTE_NAME)
    if palette is None or not palette.is_editable():
        palette = Gimp.Palette.new(swatch_palette.PALETTE_NAME)
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
    hint = hint_layer_of(image, config)
    source = source_layer(image, drawables, hint)
    found = read_hints(hint, source)
    where = swatch_palette.places(
        [(b.x, b.y) for b in found.blobs],
        selection_center(image, source),
        source.get_width(),
        source.get_height(),
    )
    if not where:
        raise PluginError(
            "Nothing to suggest colours for: paint hints on the hint layer or select an area."
        )
    k = config.get_property("count")
    reply = ask_engine(
        "swatches",
        f"Chromahint: suggesting colours at {len(where)} places…",
        image=image_message(source),
        points=[{"x": p.x, "y": p.y} for p in where],
        hints=found.points,
        k=k,
        mode=config.get_property("mode"),
    )
    try:
        entries = swatch_palette.entries(where, reply.get("swatches") or [])
    except (ValueError, KeyError, TypeError) as e:
        raise PluginError(f"The engine's swatches reply is not usable: {e}") from None
    palette = replace_palette(entries, k)
    Gimp.message(
        f"Chromahint: {len(entries)} suggested colours are in the palette "
        f"'{palette.get_name()}' (Windows ▸ Dockable Dialogs ▸ Palettes)."
    )
    return palette


def guide_regions(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> Gimp.Layer:
    # The hint layer only locates the drawing (the layer below it): regions come from the
    # lines alone.
    source = source_layer(image, drawables, hint_layer_of(image, config))
    count = config.get_property("count")
    reply = ask_engine(
        "regions",
        "Chromahint: finding the regions to hint next…",
        image=image_message(source),
        max_regions=count,
    )
    w, h = size_of(source)
    labels = reply_image(reply, "labels", "gray16", 2, (w, h))
    order = reply.get("order")
    if not isinstance(order, list) or not all(isinstance(r, int) for r in order):
        raise PluginError("The engine's regions reply has no 'order' list of region ids.")
    overlay = region_overlay.render(labels, w, h, order, count)
    image.undo_group_start()
    try:
        old = find_layer(image, REGIONS_LAYER_NAME)
        if old is not None:
            image.remove_layer(old)
        # On top of the source's stack, so the guide shows above the hints.
        return add_layer_above(image, source, REGIONS_LAYER_NAME, overlay.rgba, position=0)
    finally:
        image.undo_group_end()


# -- the dialog -----------------------------------------------------------------------------
def source_summary(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> str:
    """For the dialog: which layer the run would use."""
    try:
        source = source_layer(image, drawables, hint_layer_of(image, config))
    except PluginError as e:
        return str(e)
    return f"Layer: '{source.get_name()}'."


def hint_summary(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> str:
    """For the dialog: the hint blobs and points the run would send, and for which layer."""
    hint = hint_layer_of(image, config)
    if hint is None:
        return f"No layer named '{HINT_LAYER_NAME}': choose the hint layer, or run without hints."
    try:
        source = source_layer(image, drawables, hint)
        found = read_hints(hint, source)
    except PluginError as e:
        return str(e)
    return (
        f"{len(found.blobs)} hint blob(s), {len(found.points)} hint point(s) on "
        f"'{hint.get_name()}', for layer '{source.get_name()}'."
    )


def dialog_accepted(
    procedure: Gimp.Procedure,
    image: Gimp.Image,
    drawables: list,
    config: Gimp.ProcedureConfig,
    fields: list[str],
    summarize,
) -> bool:
    GimpUi.init("chromahint")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    text = summarize(image, drawables, config)
    summary = dialog.get_label("hint-summary", text, False, False)
    config.connect(
        "notify::hint-layer",
        lambda *_: summary.set_text(summarize(image, drawables, config)),
    )
    if "use-palette" in fields:
        dialog.set_sensitive("palette", True, config, "use-palette", False)
    dialog.fill(fields + ["hint-summary"])
    accepted = dialog.run()
    dialog.destroy()
    return accepted


# -- registration ---------------------------------------------------------------------------
def mode_choice() -> Gimp.Choice:
    choice = Gimp.Choice.new()
    choice.add("photo", 0, "Photo", "A grayscale photograph")
    choice.add("lineart", 1, "Line art", "Black line drawing on a light background")
    return choice


def run_procedure(work, fields: list[str], summarize=hint_summary):
    """Wrap a procedure body: dialog when interactive, and errors as messages, not tracebacks."""

    def failure(procedure: Gimp.Procedure, message: str) -> Gimp.ValueArray:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))

    def run(procedure, run_mode, image, drawables, config, _data):
        if IMPORT_ERROR:
            return failure(procedure, IMPORT_ERROR)
        if run_mode == Gimp.RunMode.INTERACTIVE and not dialog_accepted(
            procedure, image, drawables, config, fields, summarize
        ):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        try:
            result = work(image, drawables, config)
        except PluginError as e:
            return failure(procedure, str(e))
        except GLib.Error as e:  # GIMP refused a step
            return failure(procedure, f"Chromahint: GIMP reported an error: {e.message}")
        except Exception as e:  # a bug: the traceback goes to the terminal, words to the user
            traceback.print_exc()
            return failure(procedure, f"Chromahint failed unexpectedly: {type(e).__name__}: {e}")
        Gimp.displays_flush()
        return Gimp.ValueArray.new_from_values(
            [
                GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS),
                GObject.Value(type(result), result),
            ]
        )

    return run


class Chromahint(Gimp.PlugIn):
    def do_set_i18n(self, _name):
        return False

    def do_query_procedures(self):
        return [COLORIZE, SUGGEST, REGIONS]

    def do_create_procedure(self, name):
        Gegl.init(None)
        if name == COLORIZE:
            fields = ["hint-layer", "mode", "use-palette", "palette", "reference", "reference-file"]
            proc = Gimp.ImageProcedure.new(
                self, name, Gimp.PDBProcType.PLUGIN, run_procedure(colorize, fields), None
            )
            proc.set_menu_label("_Colorize from Hints…")
            proc.set_documentation(
                "Colorize a grayscale layer from painted colour hints",
                f"Colorizes the selected layer (or the layer below the hint layer) with the "
                f"Chromahint engine. Hints are dots or strokes painted on a transparent layer "
                f"named '{HINT_LAYER_NAME}' (or the one chosen); the result is a new layer "
                f"'{RESULT_LAYER_NAME}' above the source, in one undo step. A grayscale image "
                "is converted to RGB in that same step.",
                name,
            )
            self._hint_layer_argument(proc)
            self._mode_argument(proc)
            # A flag, not just an optional palette: GIMP's palette chooser always holds
            # one (the context's), so "no palette" must be said separately.
            proc.add_boolean_argument(
                "use-palette",
                "_Use a global palette",
                "Send the palette below: colours the whole picture should use",
                False,
                RW,
            )
            proc.add_palette_argument(
                "palette",
                "Pale_tte",
                "The global palette (with use-palette)",
                True,
                None,
                False,
                RW,
            )
            proc.add_drawable_argument(
                "reference",
                "Reference la_yer",
                "A colour picture to take colours from: a layer of any open image (optional)",
                True,
                RW,
            )
            proc.add_file_argument(
                "reference-file",
                "Reference _file",
                "A colour picture file to take colours from (optional)",
                Gimp.FileChooserAction.OPEN,
                True,
                None,
                RW,
            )
            proc.add_layer_return_value("layer", "Colorized layer", "The new layer", False, RW)
        elif name == SUGGEST:
            fields = ["hint-layer", "mode", "count"]
            proc = Gimp.ImageProcedure.new(
                self, name, Gimp.PDBProcType.PLUGIN, run_procedure(suggest_colors, fields), None
            )
            proc.set_menu_label("_Suggest Colors…")
            proc.set_documentation(
                "Suggest colours at each hint and at the selection",
                f"Asks the engine for the most likely colours at each hint blob and at the "
                f"selection's centre, and puts them into the palette "
                f"'{swatch_palette.PALETTE_NAME}' (replaced on each run), one row per place.",
                name,
            )
            self._hint_layer_argument(proc)
            self._mode_argument(proc)
            proc.add_int_argument(
                "count", "Colours _per place", "Swatches per hint blob or selection", 1, 32, 5, RW
            )
            proc.add_palette_return_value("palette", "Palette", "The suggestions", RW)
        elif name == REGIONS:
            fields = ["hint-layer", "count"]
            proc = Gimp.ImageProcedure.new(
                self,
                name,
                Gimp.PDBProcType.PLUGIN,
                run_procedure(guide_regions, fields, source_summary),
                None,
            )
            proc.set_menu_label("_Guide Regions…")
            proc.set_documentation(
                "Show the line-art regions worth hinting next",
                f"Asks the engine which regions of a line drawing most need a hint and adds a "
                f"layer '{REGIONS_LAYER_NAME}' with them tinted and numbered by priority.",
                name,
            )
            self._hint_layer_argument(proc)
            proc.add_int_argument(
                "count",
                "Number of re_gions",
                "How many regions to show",
                1,
                region_overlay.MAX_REGIONS,
                5,
                RW,
            )
            proc.add_layer_return_value("layer", "Guide layer", "The new layer", False, RW)
        else:
            return None
        proc.set_image_types("RGB*, GRAY*")
        proc.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES
        )
        proc.set_attribution("Chromahint", "Chromahint contributors", "2025")
        proc.add_menu_path(MENU)
        return proc

    @staticmethod
    def _hint_layer_argument(proc: Gimp.Procedure) -> None:
        proc.add_layer_argument(
            "hint-layer",
            "_Hint layer",
            f"Transparent layer with painted hints (default: the layer named '{HINT_LAYER_NAME}')",
            True,
            RW,
        )

    @staticmethod
    def _mode_argument(proc: Gimp.Procedure) -> None:
        proc.add_choice_argument("mode", "_Mode", "What the picture is", mode_choice(), "photo", RW)


if __name__ == "__main__":
    Gimp.main(Chromahint.__gtype__, sys.argv)
