#!/usr/bin/env python3
"""Chromahint for GIMP 3: colorize a grayscale layer from painted hints, suggest swatches,
and show which line-art regions to hint next, using the resident Chromahint engine.

Filters ▸ Colors ▸ Chromahint. This file only registers the procedures; what they do is in
the `chromahint_gimp` package beside it (`procedures`, `layers`, `dialog`, `runner`). Every
procedure also runs non-interactively with all its parameters as arguments (scripts, batch
mode). The plug-in stays thin: the standard library, GIMP's introspection bindings and the
shared `chromahint_client` (pyzmq and msgpack); the engine does all the image work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
# Our folder first (the client copy and our package), then wheels the installer vendored
# for a GIMP whose Python lacks pyzmq or msgpack.
sys.path[0:0] = [HERE, os.path.join(HERE, "vendor")]

# GIMP's gi bindings ship no stubs, so pyright cannot resolve them.
import gi  # noqa: E402  # pyright: ignore[reportMissingImports]

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from chromahint_gimp import names, runner  # noqa: E402
from gi.repository import Gegl, Gimp, GObject  # noqa: E402  # pyright: ignore[reportMissingImports]

RW = GObject.ParamFlags.READWRITE


# -- arguments ------------------------------------------------------------------------------
def hint_layer_argument(proc: Gimp.Procedure) -> None:
    proc.add_layer_argument(
        "hint-layer",
        "_Hint layer",
        f"Transparent layer with painted hints (default: the layer named "
        f"'{names.HINT_LAYER_NAME}')",
        True,
        RW,
    )


def mode_argument(proc: Gimp.Procedure) -> None:
    choice = Gimp.Choice.new()
    choice.add("photo", 0, "Photo", "A grayscale photograph")
    choice.add("lineart", 1, "Line art", "Black line drawing on a light background")
    proc.add_choice_argument("mode", "_Mode", "What the picture is", choice, "photo", RW)


def reference_mode_argument(proc: Gimp.Procedure) -> None:
    choice = Gimp.Choice.new()
    choice.add("regions", 0, "Match regions", "Follow the reference part by part")
    choice.add("palette", 1, "Palette only", "Use only the reference's colours")
    proc.add_choice_argument(
        "reference-mode", "Reference mo_de", "How to use the reference", choice, "regions", RW
    )


def colorize_arguments(proc: Gimp.Procedure) -> None:
    hint_layer_argument(proc)
    mode_argument(proc)
    # A flag, not just an optional palette: GIMP's palette chooser always holds one (the
    # context's), so "no palette" must be said separately.
    proc.add_boolean_argument(
        "use-palette",
        "_Use a global palette",
        "Send the palette below: colours the whole picture should use",
        False,
        RW,
    )
    proc.add_palette_argument(
        "palette", "Pale_tte", "The global palette (with use-palette)", True, None, False, RW
    )
    proc.add_drawable_argument(
        "reference",
        "Reference la_yer",
        "A colour picture to take colours from, matched part by part: a layer of any open "
        "image (optional)",
        True,
        RW,
    )
    proc.add_file_argument(
        "reference-file",
        "Reference _file",
        "A colour picture file to take colours from, matched part by part (optional)",
        Gimp.FileChooserAction.OPEN,
        True,
        None,
        RW,
    )
    reference_mode_argument(proc)
    proc.add_layer_return_value("layer", "Colorized layer", "The new layer", False, RW)


def suggest_arguments(proc: Gimp.Procedure) -> None:
    hint_layer_argument(proc)
    mode_argument(proc)
    proc.add_int_argument(
        "count", "Colours _per place", "Swatches per hint blob or selection", 1, 32, 5, RW
    )
    proc.add_palette_return_value("palette", "Palette", "The suggestions", RW)


def regions_arguments(proc: Gimp.Procedure) -> None:
    hint_layer_argument(proc)
    proc.add_int_argument(
        "count", "Number of re_gions", "How many regions to show", 1, names.MAX_REGIONS, 5, RW
    )
    proc.add_layer_return_value("layer", "Guide layer", "The new layer", False, RW)


# -- the procedures -------------------------------------------------------------------------
class Procedure(NamedTuple):
    label: str  # menu label
    blurb: str
    help: str
    arguments: Callable[[Gimp.Procedure], None]
    work: str  # the function in chromahint_gimp.procedures
    fields: list[str]  # what the dialog shows
    summary: str  # the dialog's summary line: "hints" or "source"


PROCEDURES = {
    names.COLORIZE: Procedure(
        "_Colorize from Hints…",
        "Colorize a grayscale layer from painted colour hints",
        "Colorizes the selected layer (or the layer below the hint layer) with the Chromahint "
        "engine. Hints are dots or strokes painted on a transparent layer named "
        f"'{names.HINT_LAYER_NAME}' (or the one chosen); the result is a new layer "
        f"'{names.RESULT_LAYER_NAME}' above the source, in one undo step. A grayscale image "
        "is converted to RGB in that same step.",
        colorize_arguments,
        "colorize",
        [
            "hint-layer",
            "mode",
            "use-palette",
            "palette",
            "reference",
            "reference-file",
            "reference-mode",
        ],
        "hints",
    ),
    names.REFERENCE: Procedure(
        "Colorize from _Reference…",
        "Colorize a grayscale layer like a colour reference picture",
        "Colorizes the selected layer with the colours of a reference: another open image's "
        "layer or a picture file. The engine matches the reference to the photo part by part "
        "('Match regions') or uses only its colours ('Palette only'); hints painted on the "
        f"'{names.HINT_LAYER_NAME}' layer, if any, win where they disagree. The result is a "
        f"new layer '{names.RESULT_LAYER_NAME}', in one undo step.",
        colorize_arguments,
        "colorize_from_reference",
        ["reference", "reference-file", "reference-mode", "hint-layer"],
        "source",
    ),
    names.SUGGEST: Procedure(
        "_Suggest Colors…",
        "Suggest colours at each hint and at the selection",
        "Asks the engine for the most likely colours at each hint blob and at the selection's "
        f"centre, and puts them into the palette '{names.PALETTE_NAME}' (replaced on each "
        "run), one row per place: the hint blobs in reading order, then the selection.",
        suggest_arguments,
        "suggest_colors",
        ["hint-layer", "mode", "count"],
        "hints",
    ),
    names.REGIONS: Procedure(
        "_Guide Regions…",
        "Show the line-art regions worth hinting next",
        "Asks the engine which regions of a line drawing most need a hint and adds a layer "
        f"'{names.REGIONS_LAYER_NAME}' with them tinted and numbered by priority.",
        regions_arguments,
        "guide_regions",
        ["hint-layer", "count"],
        "source",
    ),
}


class Chromahint(Gimp.PlugIn):
    def do_set_i18n(self, _name):
        return False

    def do_query_procedures(self):
        return list(PROCEDURES)

    def do_create_procedure(self, name):
        spec = PROCEDURES.get(name)
        if spec is None:
            return None
        Gegl.init(None)
        run = runner.make_run(spec.work, spec.fields, spec.summary)
        proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        proc.set_menu_label(spec.label)
        proc.set_documentation(spec.blurb, spec.help, name)
        spec.arguments(proc)
        proc.set_image_types("RGB*, GRAY*")
        proc.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES
        )
        proc.set_attribution("Chromahint", "Chromahint contributors", "2025")
        proc.add_menu_path(names.MENU)
        return proc


if __name__ == "__main__":
    Gimp.main(Chromahint.__gtype__, sys.argv)
