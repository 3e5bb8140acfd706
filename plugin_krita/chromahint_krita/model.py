"""The docker's state and behaviour, apart from its widgets: a QObject with signals.

The widgets (docker.py) only render this state and call its methods, so the tests drive
the buttons' code paths; no widgets here, and Krita only through kritadoc.py. GUI thread;
engine work (engine_work.py) runs on the Worker's threads, results come back as signals.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PyQt5.QtCore import QObject, pyqtSignal

from chromahint_client import EngineNotRunning, EngineReplyError, EngineTimeout
from chromahint_client import protocol as P
from chromahint_client import settings as plugin_settings
from chromahint_client.regions import Region
from chromahint_client.settings import Settings, SettingsError

from . import engine_work, kritadoc, runs
from .choices import Choices, ReferenceKey
from .engine_work import ColorizeOutcome
from .jobs import (
    ColorizeContext,
    EngineState,
    InfoContext,
    Job,
    JobKind,
    Level,
    RegionsContext,
    SwatchesContext,
    failure_message,
)
from .live import HintWatch
from .recommend import Recommender
from .swatches import SwatchSet, are_swatch_rows, blob_key, blob_places, selection_place
from .worker import Worker

if TYPE_CHECKING:  # Krita's types, for annotations; Krita is called through kritadoc
    from krita import Document

PLUGIN_FOLDER = os.path.dirname(os.path.abspath(__file__))  # chromahint.json lives here
DEFAULT_MAX_REGIONS = 20  # until the engine's info names its line-art model's maximum


class ChromahintModel(QObject):
    engine_changed = pyqtSignal(object, str)  # EngineState, text
    busy_changed = pyqtSignal(bool, str)  # busy, what it is doing
    message_changed = pyqtSignal(object, str)  # Level, text
    layers_changed = pyqtSignal()  # the document, its layers or the choices changed
    swatches_changed = pyqtSignal(object)  # SwatchSet
    regions_changed = pyqtSignal(list)  # [Region] numbered on the overlay
    live_changed = pyqtSignal(bool)
    mode_changed = pyqtSignal(object)  # protocol.Mode
    result_written = pyqtSignal(dict)  # what a run wrote (layer, timing, points, live)

    def __init__(self, folder: str = PLUGIN_FOLDER, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.settings: Settings | None = None
        self.worker = Worker(self)
        self.worker.finished.connect(self._on_finished)
        self.worker.engine_info.connect(self._on_engine_info)
        self.worker.progress.connect(lambda job, text: self._set_engine(EngineState.BUSY, text))
        self.choices = Choices()
        # What the docker works on (the choices look each up by key every time).
        self.document, self.source = self.choices.document, self.choices.source
        self.hint_layer = self.choices.hint_layer
        self.live = False
        self.engine_state, self.engine_text = EngineState.UNKNOWN, "Engine: not checked yet"
        self.engine_models: list[str] = []
        self.max_regions = DEFAULT_MAX_REGIONS  # the line-art model's, once the engine said
        self.message: tuple[Level, str] = (Level.INFO, "")
        self.swatch_set = SwatchSet("")
        self.regions: list[Region] = []
        self._region_state: engine_work.RegionsOutcome | None = None
        self._region_hints: dict[int, tuple[int, int, int]] = {}
        self._inflight: Job | None = None
        self._rerun_live = False
        self._swatch_key: frozenset | None = None  # the blobs the swatch rows are for
        self._watch = HintWatch(self.choices.hint_fingerprint, self)
        self._watch.settled.connect(lambda: self._start_colorize(live=True))
        self.recommender = Recommender(self)
        self.reload_settings()

    # -- state ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._inflight is not None

    def reload_settings(self) -> Settings | None:
        """Read chromahint.json again and return its settings; an unusable file is an error
        on show (and None here), never the defaults."""
        try:
            self.settings = plugin_settings.load(self.folder)
        except SettingsError as e:
            self.settings = None
            self._set_engine(EngineState.OFFLINE, "Engine: the settings file is unusable")
            self.say(Level.ERROR, f"{e}. Fix the file, then click ↻.")
        return self.settings

    @property
    def mode(self) -> P.Mode:
        return self.choices.mode

    @property
    def reference(self) -> ReferenceKey | None:
        return self.choices.reference

    def set_document(self, doc: Document | None) -> None:
        if self.choices.set_document(doc):
            self._clear_regions()
            self._watch.forget()
            self._set_swatches()
            self.recommender.forget()
        self.layers_changed.emit()

    def set_source(self, node_id: str | None) -> None:
        if self.choices.set_source(node_id):
            self._clear_regions()
            self.recommender.forget()
            self.layers_changed.emit()

    def set_hint_layer(self, node_id: str | None) -> None:
        if self.choices.set_hint_layer(node_id):
            self._watch.forget()
            self.layers_changed.emit()

    def set_mode(self, mode: P.Mode | str) -> None:
        mode = P.Mode(mode)
        if self.choices.set_mode(mode):
            self._clear_regions()
            self._set_swatches()
            self.mode_changed.emit(mode)
            self.layers_changed.emit()

    def set_reference(self, key: ReferenceKey | None) -> None:
        if key != self.choices.reference:
            self.choices.reference = key
            self.layers_changed.emit()
            if self.live:
                self._start_colorize(live=True)

    def set_live(self, on: bool) -> None:
        if on == self.live:
            return
        self.live = on
        if on:
            self._watch.start()
            self._start_colorize(live=True)
        else:
            self._watch.stop()
            self._rerun_live = False
        self.live_changed.emit(on)

    # -- actions --------------------------------------------------------------------------
    def check_engine(self) -> None:
        """Read the settings again and ask the engine how it is, without starting it (that
        happens on first use)."""
        settings = self.reload_settings()
        if settings is None:
            return
        self._set_engine(EngineState.BUSY, "Engine: checking…")
        job = Job(InfoContext(), lambda client: None, start_engine=False)
        self.worker.start(job, settings)

    def colorize(self) -> None:
        self._start_colorize(live=False)

    def cancel(self) -> None:
        if self._inflight is not None:
            self.worker.abandon(self._inflight, self.settings)
            self._inflight = None
            self._rerun_live = False
            self.busy_changed.emit(False, "")
            self.say(Level.INFO, "Cancelled.")

    def add_hint_layer(self) -> None:
        doc = self.document()
        if doc is None:
            self.say(Level.WARNING, "Open a document first.")
            return
        node = kritadoc.add_hint_layer(doc, self.source())
        self.choices.hints_key = kritadoc.node_id(node)
        self._watch.last = kritadoc.fingerprint(node)
        self.layers_changed.emit()
        self.say(Level.INFO, "Paint colour hints on the Hints layer, then Colorize.")

    def pick_swatch(self, rgb: tuple[int, int, int]) -> None:
        if kritadoc.set_foreground(rgb):
            self.say(Level.INFO, "Foreground colour set to #{:02x}{:02x}{:02x}.".format(*rgb))
        else:
            self.say(Level.WARNING, "No canvas is open to set the foreground colour on.")

    def swatches_at_selection(self) -> None:
        """Suggested colours for the pixel at the centre of the current selection."""
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            self.say(Level.WARNING, "Open a document and pick a source layer first.")
            return
        if self.mode is not P.Mode.PHOTO:
            self.say(Level.INFO, "Suggested colours come from the photo model; switch to Photo.")
            return
        at = kritadoc.selection_center(doc)
        if at is None:
            self.say(Level.INFO, "Select a small area first: its centre is the point asked about.")
            return
        full = kritadoc.document_rect(doc)
        self._ask_swatches(doc, source, *selection_place(*at, full.w, full.h))

    def next_regions(self) -> None:
        """Ask the engine which regions of the line art most need a colour; number them."""
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            self.say(Level.WARNING, "Open a document and pick the line-art layer first.")
            return
        settings = self.usable_settings()
        if settings is not None:
            top, most = settings.regions_shown, self.max_regions or DEFAULT_MAX_REGIONS
            self._start(runs.regions_job(doc, source, most, top))

    def color_region(self, region: Region, rgb: tuple[int, int, int] | None = None) -> None:
        """Give a region a colour (the foreground colour by default) and re-colorize."""
        if self._region_state is None:
            return
        color = rgb or kritadoc.foreground_rgb()
        if color is None:
            self.say(Level.WARNING, "No canvas is open to take the foreground colour from.")
            return
        self._region_hints[region.id] = color
        self._start_colorize(live=False, in_place=True)

    # -- running --------------------------------------------------------------------------
    def usable_settings(self) -> Settings | None:
        """The settings, read again when unusable (nothing runs on defaults nobody chose)."""
        return self.settings or self.reload_settings()

    def _start(self, job: Job) -> None:
        settings = self.usable_settings()
        if settings is None:
            return
        if self._inflight is not None:  # a newer request supersedes the older one
            self.worker.abandon(self._inflight, settings)
        self._inflight = job
        self._rerun_live = False
        self.busy_changed.emit(True, job.kind.value)
        self.worker.start(job, settings)

    def _start_colorize(self, live: bool, in_place: bool | None = None) -> None:
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            if not live:
                self.say(Level.WARNING, "Open a document with a paint layer to colorize.")
            return
        if live and self._inflight is not None and self._inflight.kind is not JobKind.SWATCHES:
            self._rerun_live = True  # coalesce: one request in flight, the newest waits
            return
        if self.usable_settings() is None:
            return
        reference, dropped = self.choices.reference_image(doc)
        if dropped:  # its document or layer is gone
            self.layers_changed.emit()
        regions = None
        if self.mode is P.Mode.LINEART and self._region_hints and self._region_state:
            regions = (self._region_state, dict(self._region_hints))
        job, dropped = runs.colorize_job(
            doc,
            source,
            self.hint_layer(),
            self.mode,
            reference,
            regions,
            live,
            live if in_place is None else in_place,
        )
        if dropped:
            self.say(Level.WARNING, "Region colours belong to the whole image; clear the "
                      "selection to use them.")  # fmt: skip
        self._start(job)
        self._rerun_live = False

    def _ask_swatches(self, doc, source, places, heading, key=None, snap=None) -> None:
        settings = self.usable_settings()
        if settings is not None:
            k = settings.swatch_count
            hints = self.hint_layer()
            self._start(runs.swatches_job(doc, source, hints, places, heading, k, key, snap))

    # -- results --------------------------------------------------------------------------
    def _on_finished(self, job: Job, result: object, error: Exception | None) -> None:
        if job.kind is JobKind.INFO:  # a status check, never in flight
            if isinstance(error, EngineNotRunning):
                self._set_engine(EngineState.OFFLINE, "Engine: not running; it starts on first use")
            elif error is not None:
                self._set_engine(EngineState.OFFLINE, f"Engine: {error}")
            return
        if job.cancelled or job is not self._inflight:
            return  # superseded or cancelled: a stale reply
        self._inflight = None
        self.busy_changed.emit(False, "")
        ctx = job.context
        if error is not None:
            self._on_error(job, error)
        elif isinstance(ctx, ColorizeContext) and isinstance(result, ColorizeOutcome):
            self._on_colorized(ctx, result)
        elif isinstance(ctx, SwatchesContext) and are_swatch_rows(result):
            self._set_swatches(SwatchSet(ctx.heading, result), ctx.blob_key)
        elif isinstance(ctx, RegionsContext) and isinstance(result, engine_work.RegionsOutcome):
            self._on_regions(ctx, result)
        else:  # a job handed back what its kind never returns: a bug of ours
            self._on_error(job, TypeError(f"a {job.kind.value} job returned {type(result)}"))
        if self._rerun_live and self.live:
            self._rerun_live = False
            self._start_colorize(live=True)

    def _on_colorized(self, ctx: ColorizeContext, out: ColorizeOutcome) -> None:
        doc = kritadoc.find_document(ctx.doc_key)
        if doc is None:
            return  # closed meanwhile
        if ctx.live and kritadoc.fingerprint(self.hint_layer()) != ctx.hint_print:
            self._rerun_live = True  # the hints changed while the engine worked: stale
            return
        source, written, text = runs.write_colorized(doc, ctx, out)
        self.say(Level.INFO, text)
        self.result_written.emit(written)
        photo = ctx.snapshot.mode is P.Mode.PHOTO and self.mode is P.Mode.PHOTO
        if photo and source is not None:
            self._swatches_per_blob(doc, source, out, ctx.snapshot)

    def _swatches_per_blob(self, doc, source, out: ColorizeOutcome, snap) -> None:
        """One row of suggested colours per painted blob (numbered over the whole image, in
        reading order), asked again only when the blobs changed."""
        blobs, whole = runs.blobs_of_image(doc, source, self.hint_layer(), out)
        key = blob_key(blobs)
        if key == self._swatch_key and not self.swatch_set.empty:
            return
        if not blobs:
            self._set_swatches()
            return
        places, heading = blob_places(blobs)
        self._ask_swatches(doc, source, places, heading, key, snap if whole else None)

    def _on_regions(self, ctx: RegionsContext, out: engine_work.RegionsOutcome) -> None:
        doc = kritadoc.find_document(ctx.doc_key)
        if doc is None:
            return
        self._region_state = out
        self._region_hints = {}
        kritadoc.write_overlay(doc, out.map, out.rect)
        self.regions = list(out.map.regions)
        self.regions_changed.emit(self.regions)
        if self.regions:
            self.say(Level.INFO, "Pick a colour, then click a region's number to fill it.")
        else:
            self.say(Level.INFO, "The engine found no regions in this line art.")

    def _on_error(self, job: Job, error: Exception) -> None:
        ctx = job.context
        if isinstance(error, EngineReplyError) and error.unsupported:
            if isinstance(ctx, ColorizeContext) and ctx.snapshot.reference is not None:
                self.choices.reference = None  # so the next run works without it
                self.layers_changed.emit()
            elif isinstance(ctx, ColorizeContext) and ctx.snapshot.region_hints:
                self._region_hints = {}
        elif isinstance(error, (EngineNotRunning, EngineTimeout)):
            self._set_engine(EngineState.OFFLINE, f"Engine: {error}")
        self.say(*failure_message(job, error, self.settings or Settings()))

    def _on_engine_info(self, info: P.InfoReply) -> None:
        self.engine_models = [m.mode for m in info.models]
        lineart = info.model(P.Mode.LINEART)
        self.max_regions = (lineart.max_regions or self.max_regions) if lineart else 0
        modes = " + ".join(self.engine_models) or "no models"
        self._set_engine(EngineState.READY, f"Engine ready · {info.device or '?'} · {modes}")

    # -- helpers --------------------------------------------------------------------------
    def _clear_regions(self) -> None:
        self._region_state = None
        self._region_hints = {}
        if self.regions:
            self.regions = []
            self.regions_changed.emit([])

    def _set_swatches(self, rows: SwatchSet | None = None, key: frozenset | None = None) -> None:
        """Show `rows` (none: clear them), asked for the blobs `key`."""
        self._swatch_key, self.swatch_set = key, rows or SwatchSet("")
        self.swatches_changed.emit(self.swatch_set)

    def _set_engine(self, state: EngineState, text: str) -> None:
        self.engine_state, self.engine_text = state, text
        self.engine_changed.emit(state, text)

    def say(self, level: Level, text: str) -> None:
        self.message = (level, text)
        self.message_changed.emit(level, text)
