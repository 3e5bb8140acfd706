"""The procedures' dialog: GIMP's generated one, plus a line saying what the run would use."""

from __future__ import annotations

from collections.abc import Callable

# GIMP's gi bindings ship no stubs, so pyright cannot resolve them.
from gi.repository import Gimp, GimpUi  # pyright: ignore[reportMissingImports]

from . import layers
from .errors import PluginError
from .names import HINT_LAYER_NAME

Summary = Callable[[Gimp.Image, list, Gimp.ProcedureConfig], str]


def source_summary(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> str:
    """Which layer the run would use."""
    try:
        source = layers.source_layer(image, drawables, layers.hint_layer_of(image, config))
    except PluginError as e:
        return str(e)
    return f"Layer: '{source.get_name()}'."


def hint_summary(image: Gimp.Image, drawables: list, config: Gimp.ProcedureConfig) -> str:
    """The hint blobs and points the run would send, and for which layer."""
    hint = layers.hint_layer_of(image, config)
    if hint is None:
        return f"No layer named '{HINT_LAYER_NAME}': choose the hint layer, or run without hints."
    try:
        source = layers.source_layer(image, drawables, hint)
        found = layers.read_hints(hint, source)
    except PluginError as e:
        return str(e)
    return (
        f"{len(found.blobs)} hint blob(s), {len(found.points)} hint point(s) on "
        f"'{hint.get_name()}', for layer '{source.get_name()}'."
    )


SUMMARIES: dict[str, Summary] = {"hints": hint_summary, "source": source_summary}


def accepted(
    procedure: Gimp.Procedure,
    image: Gimp.Image,
    drawables: list,
    config: Gimp.ProcedureConfig,
    fields: list[str],
    summary: str,
) -> bool:
    """Show the dialog with `fields` and the `summary` line (kept current as the hint layer
    changes); True when the user pressed OK."""
    summarize = SUMMARIES[summary]
    GimpUi.init("chromahint")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    label = dialog.get_label("hint-summary", summarize(image, drawables, config), False, False)
    config.connect(
        "notify::hint-layer",
        lambda *_: label.set_text(summarize(image, drawables, config)),
    )
    if "use-palette" in fields:
        dialog.set_sensitive("palette", True, config, "use-palette", False)
    dialog.fill(fields + ["hint-summary"])
    ok = dialog.run()
    dialog.destroy()
    return ok
