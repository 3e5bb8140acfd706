"""The GUI-thread halves of the jobs: what each reads from the document before it runs
(engine_work.py does the rest off the GUI thread), and what a colorize run writes back.

Krita is reached through kritadoc.py only; the model (model.py) decides when to run what.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chromahint_client import protocol as P
from chromahint_client.hints import Blob
from chromahint_client.session import reference_note

from . import engine_work, kritadoc
from .engine_work import ColorizeOutcome, ColorizeSnapshot, RegionsOutcome
from .jobs import ColorizeContext, Job, RegionsContext, SwatchesContext
from .swatches import Place

if TYPE_CHECKING:  # Krita's types, for annotations; Krita is called through kritadoc
    from krita import Document, Node


def colorize_job(
    doc: Document,
    source: Node,
    hint_layer: Node | None,
    mode: P.Mode,
    reference: P.Image | None,
    regions: tuple[RegionsOutcome, dict[int, tuple[int, int, int]]] | None,
    live: bool,
    in_place: bool,
) -> tuple[Job, bool]:
    """A colorize job over the selection's bounds (else the image), and whether region
    colours had to be left out (they belong to the whole image's labels)."""
    rect, mask = kritadoc.work_area(doc)
    region_hints: tuple[P.RegionHint, ...] = ()
    labels = None
    dropped = False
    if regions is not None:
        state, colours = regions
        if state.rect == rect:
            region_hints = tuple(P.RegionHint(rid, rgb) for rid, rgb in sorted(colours.items()))
            labels = state.labels
        else:
            dropped = True
    snap = ColorizeSnapshot(
        source=kritadoc.read_pixels(source, rect),
        hints=kritadoc.hint_pixels(doc, hint_layer, source),
        mode=mode,
        target=kritadoc.result_space(doc),
        reference=reference,
        region_hints=region_hints,
        labels=labels,
    )
    context = ColorizeContext(
        doc_key=kritadoc.document_key(doc),
        source_id=kritadoc.uid(source),
        snapshot=snap,
        mask=mask,
        live=live,
        in_place=in_place,
        hint_print=kritadoc.fingerprint(hint_layer),
        started=time.monotonic(),
    )
    return Job(context, lambda client: engine_work.colorize(client, snap)), dropped


def swatches_job(
    doc: Document,
    source: Node,
    hint_layer: Node | None,
    places: Sequence[Place],
    heading: str,
    k: int,
    key: frozenset | None = None,
    snap: ColorizeSnapshot | None = None,
) -> Job:
    """Colours at `places` (image coordinates): from `snap` when it covers the whole image,
    else from a fresh read of the whole image."""
    if snap is not None:
        src, hints = snap.source, snap.hints
    else:
        src = kritadoc.read_pixels(source, kritadoc.document_rect(doc))
        hints = kritadoc.hint_pixels(doc, hint_layer, source)
    places = tuple(places)
    context = SwatchesContext(heading, places, key)
    return Job(context, lambda client: engine_work.swatches(client, src, hints, places, k))


def blobs_of_image(
    doc: Document, source: Node, hint_layer: Node | None, out: ColorizeOutcome
) -> tuple[list[Blob], bool]:
    """The hint blobs of the whole image in reading order, and whether the run `out` came
    from covered the whole image (else they were read again, so numbers stay the same)."""
    full = kritadoc.document_rect(doc)
    if out.rect == full:
        return list(out.blobs), True
    hints = kritadoc.hint_pixels(doc, hint_layer, source)
    return engine_work.collect_hints(hints, full)[1], False


def regions_job(doc: Document, source: Node, max_regions: int, top: int) -> Job:
    src = kritadoc.read_pixels(source, kritadoc.document_rect(doc))
    context = RegionsContext(kritadoc.document_key(doc))
    return Job(context, lambda client: engine_work.regions(client, src, max_regions, top))


def write_colorized(
    doc: Document, ctx: ColorizeContext, out: ColorizeOutcome
) -> tuple[Node | None, dict, str]:
    """Write a colorize result into the `Colorized` layer; return the source layer, what
    was written (for the tests and the log) and the message for people."""
    source = kritadoc.find_node(doc, ctx.source_id)
    converted = kritadoc.ensure_rgb(doc)
    # Photos get the result above the source; line art below it, so lines stay on top
    # (an opaque line scan would hide anything below, so it gets it above).
    above = ctx.snapshot.mode is P.Mode.PHOTO or out.opaque_source
    place = (source, above) if source is not None else None
    kritadoc.write_layer(
        doc,
        kritadoc.RESULT_NAME,
        out.rgba8,
        out.raw,
        out.rect,
        ctx.mask,
        place,
        replace=not ctx.in_place,
    )
    ms = (time.monotonic() - ctx.started) * 1000
    engine_ms = sum(out.timing_ms.values())
    text = f"Colorized in {ms:.0f} ms ({len(out.points)} hint points"
    text += f", engine {engine_ms:.0f} ms)." if engine_ms else ")."
    if converted:
        text += " The grayscale document was converted to RGB so colours can show."
    text += reference_note(out.reference_confidence)
    written = {
        "layer": kritadoc.RESULT_NAME,
        "live": ctx.live,
        "ms": ms,
        "points": len(out.points),
        "rect": out.rect,
    }
    return source, written, text
