"""The docker's state and behaviour, apart from its widgets: a QObject with signals.

The widgets (docker.py) only render this state and call its methods, so the tests can drive
the same code paths the buttons do. Lives on Krita's GUI thread; engine work goes through
the Worker, whose results come back here as queued signals.
"""

from __future__ import annotations

import time

from krita import Document, Krita, Node
from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from chromahint_client import EngineError, EngineNotRunning, EngineReplyError, EngineTimeout

from . import jobs, kritadoc
from .jobs import ColorizeSnapshot, Rect
from .regions import Region
from .settings import Settings
from .worker import Job, Worker

PHOTO, LINEART = "photo", "lineart"
POLL_MS = 100  # how often live mode looks at the hint layer
DEBOUNCE_MS = 150  # quiet time after the last change before re-colorizing
DEFAULT_MAX_REGIONS = 20  # until the engine's info names its line-art model's maximum


class ChromahintModel(QObject):
    engine_changed = pyqtSignal(str, str)  # state ("unknown", "ready", "busy", "offline"), text
    busy_changed = pyqtSignal(bool, str)  # busy, what it is doing
    message_changed = pyqtSignal(str, str)  # level ("info", "warning", "error"), text
    layers_changed = pyqtSignal()  # the document, its layers or the choices changed
    swatches_changed = pyqtSignal(str, list)  # title, [((r, g, b), p)] most probable first
    regions_changed = pyqtSignal(list)  # [Region] numbered on the overlay
    live_changed = pyqtSignal(bool)
    mode_changed = pyqtSignal(str)
    result_written = pyqtSignal(dict)  # what a run wrote (layer, timing, points, live)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.worker = Worker(settings, self)
        self.worker.finished.connect(self._on_finished)
        self.worker.engine_info.connect(self._on_engine_info)
        self.worker.progress.connect(lambda job, text: self._set_engine("busy", text))
        self.mode = PHOTO
        self.live = False
        self.engine_state, self.engine_text = "unknown", "Engine: not checked yet"
        self.engine_models: list[str] = []
        self.max_regions = DEFAULT_MAX_REGIONS  # the line-art model's, once the engine said
        self.message = ("info", "")
        self.swatches: list[tuple[tuple[int, int, int], float]] = []
        self.swatch_title = ""
        self.regions: list[Region] = []
        self._doc_key: str | None = None
        self._source_id: str | None = None
        self._source_pinned = False  # the artist picked it (else it follows the mode's default)
        self._hints_id: str | None = None
        self._reference: tuple[str, str] | None = None  # ("document" | "layer", key)
        self._region_state: jobs.RegionsOutcome | None = None
        self._region_hints: dict[int, tuple[int, int, int]] = {}
        self._inflight: Job | None = None
        self._rerun_live = False
        self._seen_blobs: set[tuple] = set()
        self._hint_print: tuple = ()
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_hints)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self._start_colorize(live=True))

    # -- state ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._inflight is not None

    def document(self) -> Document | None:
        return kritadoc.find_document(self._doc_key) or Krita.instance().activeDocument()

    def set_document(self, doc: Document | None) -> None:
        key = kritadoc.document_key(doc) if doc is not None else None
        if key == self._doc_key:
            self.layers_changed.emit()
            return
        self._doc_key = key
        self._source_id = self._hints_id = None
        self._source_pinned = False
        self._reference = None
        self._clear_regions()
        self._seen_blobs = set()
        self._hint_print = ()
        self._set_swatches("", [])
        self.layers_changed.emit()

    def layers(self) -> list[tuple[str, str]]:
        """(id, name) of the document's paint layers, topmost first."""
        doc = self.document()
        if doc is None:
            return []
        return [(kritadoc.uid(n), n.name()) for n in kritadoc.paint_layers(doc)]

    def source(self) -> Node | None:
        doc = self.document()
        if doc is None:
            return None
        node = kritadoc.find_node(doc, self._source_id)
        if node is None:
            node = kritadoc.default_source(doc, self.mode)
            self._source_id = kritadoc.uid(node) if node is not None else None
        return node

    def hint_layer(self) -> Node | None:
        doc = self.document()
        if doc is None:
            return None
        node = kritadoc.find_node(doc, self._hints_id)
        if node is None:
            node = kritadoc.find_named(doc, kritadoc.HINTS_NAME)
            self._hints_id = kritadoc.uid(node) if node is not None else None
        return node

    def set_source(self, node_id: str | None) -> None:
        self._source_pinned = node_id is not None
        if node_id != self._source_id:
            self._source_id = node_id
            self._clear_regions()
            self.layers_changed.emit()

    def set_hint_layer(self, node_id: str | None) -> None:
        if node_id != self._hints_id:
            self._hints_id = node_id
            self._hint_print = ()
            self.layers_changed.emit()

    def set_mode(self, mode: str) -> None:
        if mode not in (PHOTO, LINEART) or mode == self.mode:
            return
        self.mode = mode
        if not self._source_pinned:
            self._source_id = None  # the default differs: line art prefers a line-art layer
        self._clear_regions()
        self._set_swatches("", [])
        self.mode_changed.emit(mode)
        self.layers_changed.emit()

    def reference_choices(self) -> list[tuple[str, tuple[str, str] | None]]:
        """(label, key) for the reference picker: other open documents, then layers."""
        choices: list[tuple[str, tuple[str, str] | None]] = [("No reference", None)]
        doc = self.document()
        for other in Krita.instance().documents():
            if doc is None or kritadoc.document_key(other) != kritadoc.document_key(doc):
                name = other.name() or other.fileName() or "Untitled"
                choices.append((f"Document: {name}", ("document", kritadoc.document_key(other))))
        for node_id, name in self.layers():
            choices.append((f"Layer: {name}", ("layer", node_id)))
        return choices

    @property
    def reference(self) -> tuple[str, str] | None:
        return self._reference

    def set_reference(self, key: tuple[str, str] | None) -> None:
        self._reference = key

    def set_live(self, on: bool) -> None:
        if on == self.live:
            return
        self.live = on
        if on:
            self._hint_print = kritadoc.fingerprint(self.hint_layer())
            self._poll.start()
            self._start_colorize(live=True)
        else:
            self._poll.stop()
            self._debounce.stop()
            self._rerun_live = False
        self.live_changed.emit(on)

    # -- actions --------------------------------------------------------------------------
    def check_engine(self) -> None:
        """Ask the engine how it is, without starting it (that happens on first use)."""
        self._set_engine("busy", "Engine: checking…")
        self.worker.start(Job("info", lambda client: None, start_engine=False))

    def colorize(self) -> None:
        self._start_colorize(live=False)

    def cancel(self) -> None:
        if self._inflight is not None:
            self._inflight.cancelled = True
            self._inflight = None
            self._rerun_live = False
            self.busy_changed.emit(False, "")
            self.say("info", "Cancelled.")

    def add_hint_layer(self) -> None:
        doc = self.document()
        if doc is None:
            self.say("warning", "Open a document first.")
            return
        node = kritadoc.add_hint_layer(doc, self.source())
        self._hints_id = kritadoc.uid(node)
        self._hint_print = kritadoc.fingerprint(node)
        self.layers_changed.emit()
        self.say("info", "Paint colour hints on the Hints layer, then Colorize.")

    def pick_swatch(self, rgb: tuple[int, int, int]) -> None:
        if kritadoc.set_foreground(rgb):
            self.say("info", "Foreground colour set to #{:02x}{:02x}{:02x}.".format(*rgb))
        else:
            self.say("warning", "No canvas is open to set the foreground colour on.")

    def swatches_at_selection(self) -> None:
        """Suggested colours for the pixel at the centre of the current selection."""
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            self.say("warning", "Open a document and pick a source layer first.")
            return
        if self.mode != PHOTO:
            self.say("info", "Suggested colours come from the photo model; switch to Photo.")
            return
        sel = doc.selection()
        if sel is None or sel.width() <= 0:
            self.say("info", "Select a small area first: its centre is the point asked about.")
            return
        at = (sel.x() + sel.width() / 2.0, sel.y() + sel.height() / 2.0)
        full = kritadoc.document_rect(doc)
        src = kritadoc.read_raster(source, full)
        hints = kritadoc.hint_rasters(doc, self.hint_layer(), source)
        k = self.settings.swatch_count
        title = f"At ({at[0]:.0f}, {at[1]:.0f})"
        self._start(
            Job("swatches", lambda c: jobs.swatches_at(c, src, hints, at, k), {"title": title})
        )

    def next_regions(self) -> None:
        """Ask the engine which regions of the line art most need a colour; number them."""
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            self.say("warning", "Open a document and pick the line-art layer first.")
            return
        rect = kritadoc.document_rect(doc)
        src = kritadoc.read_raster(source, rect)
        top, most = self.settings.regions_shown, self.max_regions or DEFAULT_MAX_REGIONS
        self._start(Job("regions", lambda c: jobs.regions(c, src, most, top), {"doc": doc}))

    def color_region(self, region: Region, rgb: tuple[int, int, int] | None = None) -> None:
        """Give a region a colour (the foreground colour by default) and re-colorize."""
        if self._region_state is None:
            return
        color = rgb or kritadoc.foreground_rgb()
        if color is None:
            self.say("warning", "No canvas is open to take the foreground colour from.")
            return
        self._region_hints[region.id] = color
        self._start_colorize(live=False, in_place=True)

    # -- running --------------------------------------------------------------------------
    def _start(self, job: Job) -> None:
        if self._inflight is not None:  # a newer request supersedes the older one
            self._inflight.cancelled = True
        self._inflight = job
        self._rerun_live = False
        self.busy_changed.emit(True, job.kind)
        self.worker.start(job)

    def _snapshot(self, doc: Document, source: Node) -> tuple[ColorizeSnapshot, bytes | None]:
        """Everything a colorize run needs from Krita, read now on the GUI thread."""
        rect, mask = kritadoc.work_area(doc)
        existing = kritadoc.find_named(doc, kritadoc.RESULT_NAME)
        if existing is not None:
            target = kritadoc.color_space(existing)
        else:
            target = kritadoc.document_space(doc)
            if target.is_gray:
                target = kritadoc.rgb_space_for(target)
        snap = ColorizeSnapshot(
            source=kritadoc.read_raster(source, rect),
            hints=kritadoc.hint_rasters(doc, self.hint_layer(), source),
            mode=self.mode,
            target=target,
        )
        snap.reference = self._reference_image(doc)
        state = self._region_state
        if self.mode == LINEART and self._region_hints and state is not None:
            if state.rect == rect:
                snap.region_hints = dict(self._region_hints)
                snap.labels = state.labels
            else:
                self.say("warning", "Region colours belong to the whole image; clear the "
                          "selection to use them.")  # fmt: skip
        return snap, mask

    def _reference_image(self, doc: Document) -> dict | None:
        if self._reference is None:
            return None
        kind, key = self._reference
        target = kritadoc.find_document(key) if kind == "document" else kritadoc.find_node(doc, key)
        if target is None:
            self._reference = None
            self.layers_changed.emit()
            return None
        return kritadoc.thumbnail_image(target)

    def _start_colorize(self, live: bool, in_place: bool | None = None) -> None:
        doc, source = self.document(), self.source()
        if doc is None or source is None:
            if not live:
                self.say("warning", "Open a document with a paint layer to colorize.")
            return
        if live and self._inflight is not None and self._inflight.kind != "swatches":
            self._rerun_live = True  # coalesce: one request in flight, the newest waits
            return
        snap, mask = self._snapshot(doc, source)
        context = {
            "doc": doc,
            "mask": mask,
            "live": live,
            "in_place": live if in_place is None else in_place,
            "print": kritadoc.fingerprint(self.hint_layer()),
            "source": kritadoc.uid(source),
            "started": time.monotonic(),
            "snapshot": snap,
        }
        self._start(Job("colorize", lambda c: jobs.colorize(c, snap), context))
        self._rerun_live = False

    def _poll_hints(self) -> None:
        if self.document() is None:
            return
        started = time.monotonic()
        current = kritadoc.fingerprint(self.hint_layer())
        # Reading a big hint layer takes a while: look less often so painting stays smooth.
        cost_ms = (time.monotonic() - started) * 1000
        self._poll.setInterval(max(POLL_MS, int(10 * cost_ms)))
        if current != self._hint_print:
            self._hint_print = current
            self._debounce.start()  # restarts while the stroke goes on

    # -- results --------------------------------------------------------------------------
    def _on_finished(self, job: Job, result: object, error: Exception | None) -> None:
        if job.kind == "info":  # a status check, never in flight
            if isinstance(error, EngineNotRunning):
                self._set_engine("offline", "Engine: not running; it starts on first use")
            elif error is not None:
                self._set_engine("offline", f"Engine: {error}")
            return
        if job.cancelled or job is not self._inflight:
            return  # superseded or cancelled: a stale reply
        self._inflight = None
        self.busy_changed.emit(False, "")
        if error is not None:
            self._on_error(job, error)
        elif job.kind == "colorize":
            self._on_colorized(job, result)
        elif job.kind == "swatches":
            rows = [(tuple(s["rgb"]), float(s.get("p", 0))) for s in result]
            self._set_swatches(job.context["title"], rows)
        elif job.kind == "regions":
            self._on_regions(job, result)
        if self._rerun_live and self.live:
            self._rerun_live = False
            self._start_colorize(live=True)

    def _on_colorized(self, job: Job, out: jobs.ColorizeOutcome) -> None:
        doc = job.context["doc"]
        if kritadoc.find_document(kritadoc.document_key(doc)) is None:
            return  # closed meanwhile
        if job.context["live"] and kritadoc.fingerprint(self.hint_layer()) != job.context["print"]:
            self._rerun_live = True  # the hints changed while the engine worked: stale
            return
        source = kritadoc.find_node(doc, job.context["source"])
        converted = kritadoc.ensure_rgb(doc)
        place = (source, self.mode == PHOTO or out.opaque_source) if source is not None else None
        kritadoc.write_layer(
            doc,
            kritadoc.RESULT_NAME,
            out.rgba8,
            out.raw,
            out.rect,
            job.context["mask"],
            place,
            replace=not job.context["in_place"],
        )
        ms = (time.monotonic() - job.context["started"]) * 1000
        engine_ms = sum(out.timing_ms.values())
        text = f"Colorized in {ms:.0f} ms ({len(out.points)} hint points"
        text += f", engine {engine_ms:.0f} ms)." if engine_ms else ")."
        if converted:
            text += " The grayscale document was converted to RGB so colours can show."
        self.say("info", text)
        self.result_written.emit(
            {
                "layer": kritadoc.RESULT_NAME,
                "live": job.context["live"],
                "ms": ms,
                "points": len(out.points),
                "rect": out.rect,
            }
        )
        self._swatches_for_last_hint(out, job.context["snapshot"])

    def _swatches_for_last_hint(self, out: jobs.ColorizeOutcome, snap: ColorizeSnapshot) -> None:
        """Ask for swatches at the last hint placed: a blob that was not there the run before."""
        seen = self._seen_blobs
        self._seen_blobs = {(b.bbox, b.rgb) for b in out.blobs}
        if self.mode != PHOTO or not out.blobs:
            return
        fresh = [b for b in out.blobs if (b.bbox, b.rgb) not in seen]
        if not fresh and self.swatches:
            return
        blob = (fresh or out.blobs)[-1]
        at = (blob.x + out.rect.x, blob.y + out.rect.y)  # blobs are in the work area's frame
        title = f"Last hint at ({at[0]:.0f}, {at[1]:.0f})"
        k = self.settings.swatch_count
        self._start(
            Job(
                "swatches",
                lambda c: jobs.swatches_at(c, snap.source, snap.hints, at, k),
                {"title": title},
            )
        )

    def _on_regions(self, job: Job, out: jobs.RegionsOutcome) -> None:
        doc = job.context["doc"]
        if kritadoc.find_document(kritadoc.document_key(doc)) is None:
            return
        self._region_state = out
        self._region_hints = {}
        kritadoc.write_overlay(doc, out.map, out.rect)
        self.regions = list(out.map.regions)
        self.regions_changed.emit(self.regions)
        if self.regions:
            self.say("info", "Pick a colour, then click a region's number to fill it.")
        else:
            self.say("info", "The engine found no regions in this line art.")

    def _on_error(self, job: Job, error: Exception) -> None:
        if isinstance(error, EngineReplyError) and error.code == "unsupported":
            if job.kind == "colorize" and self._reference is not None:
                self._reference = None  # so the next run works without it
                self.layers_changed.emit()
                self.say("warning", f"This engine cannot use a reference image yet: {error}. "
                          "The reference was turned off.")  # fmt: skip
                return
            if job.kind == "colorize" and self._region_hints:
                self._region_hints = {}
                self.say("warning", f"This engine cannot colour regions yet: {error}.")
                return
            what = {
                "regions": "suggest regions",
                "swatches": "suggest colours",
                "colorize": f"colorize in {self.mode.replace('lineart', 'line-art')} mode",
            }.get(job.kind, "do this")
            self.say("warning", f"This engine cannot {what} yet: {error}.")
            return
        if isinstance(error, (EngineNotRunning, EngineTimeout)):
            self._set_engine("offline", f"Engine: {error}")
        if isinstance(error, EngineError):
            self.say("error", str(error))
        else:
            self.say("error", f"Chromahint plug-in error: {type(error).__name__}: {error}")

    def _on_engine_info(self, info: dict) -> None:
        self.engine_models = [m.get("mode", "") for m in info.get("models", [])]
        lineart = [m for m in info.get("models", []) if m.get("mode") == LINEART]
        self.max_regions = int(lineart[0].get("max_regions") or self.max_regions) if lineart else 0
        modes = " + ".join(self.engine_models) or "no models"
        self._set_engine("ready", f"Engine ready · {info.get('device', '?')} · {modes}")

    # -- helpers --------------------------------------------------------------------------
    def _clear_regions(self) -> None:
        self._region_state = None
        self._region_hints = {}
        if self.regions:
            self.regions = []
            self.regions_changed.emit([])

    def _set_swatches(self, title: str, rows: list) -> None:
        self.swatch_title, self.swatches = title, rows
        self.swatches_changed.emit(title, rows)

    def _set_engine(self, state: str, text: str) -> None:
        self.engine_state, self.engine_text = state, text
        self.engine_changed.emit(state, text)

    def say(self, level: str, text: str) -> None:
        self.message = (level, text)
        self.message_changed.emit(level, text)


__all__ = ["ChromahintModel", "LINEART", "PHOTO", "Rect"]
