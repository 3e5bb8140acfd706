"""Scenarios that run inside a real Krita (via tests/krita_driver.py) for test_krita_plugin.

Runs in Krita's Python (the system python3), so: standard library, PyQt5 and krita only.
The docker is driven through its own widgets (buttons clicked, check boxes toggled, combo
items activated); hint strokes are painted with setPixelData, which is what a brush leaves
on the layer. CHROMAHINT_SCENARIO picks "main", "autostart" or "faults".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import struct
import sys
import threading
import time

from krita import Krita, Selection
from PyQt5.QtCore import QByteArray, QTimer

W, H = 256, 192
# Flat grey regions of the source photo: (x0, y0, x1, y1, grey).
REGIONS = [(0, 0, 128, 136, 110), (128, 0, 256, 136, 150), (0, 136, 256, 192, 90)]
# Hint blobs: centre, half size, sRGB colour (lightness near the grey under them).
BLOB_A = ((64, 64), 18, (190, 60, 60))
BLOB_B = ((192, 64), 18, (100, 145, 225))
BLOB_C = ((128, 166), 14, (50, 105, 40))
BLOB_B2 = ((192, 64), 18, (200, 160, 40))
MAX_DELTA_E = 10.0
MAX_DELTA_L = 2.0


# -- colour maths (sRGB 0-255 -> CIELAB, D65) ------------------------------------------------
def _linear(c: float) -> float:
    c /= 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _encode(v: float) -> float:
    v = min(1.0, max(0.0, v))
    return 255.0 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055)


def lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (_linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def chroma_distance(a: tuple, b: tuple) -> float:
    """ΔE_ab between two colours' chroma (a*, b*): the engine keeps the source's lightness."""
    la, lb = lab(a), lab(b)
    return math.hypot(la[1] - lb[1], la[2] - lb[2])


# -- pixels in a document's format ------------------------------------------------------------
def pack(rgba: tuple[int, int, int, int], depth: str, model: str = "RGBA") -> bytes:
    r, g, b, a = rgba
    if model == "GRAYA":
        return bytes([r, a]) if depth == "U8" else struct.pack("<2H", r * 257, a * 257)
    if depth == "U8":
        return bytes([b, g, r, a])
    if depth == "U16":
        return struct.pack("<4H", b * 257, g * 257, r * 257, a * 257)
    lin = [_linear(c) for c in (r, g, b)]  # float documents here use a linear profile
    return struct.pack("<4f", *lin, a / 255.0)


def unpack(data: bytes, depth: str) -> tuple[float, float, float, float]:
    if depth == "U8":
        b, g, r, a = data[:4]
        return r, g, b, a
    if depth == "U16":
        b, g, r, a = struct.unpack("<4H", data[:8])
        return r / 257, g / 257, b / 257, a / 257
    r, g, b, a = struct.unpack("<4f", data[:16])
    return _encode(r), _encode(g), _encode(b), a * 255


def fill(node, rect: tuple[int, int, int, int], rgba, depth: str, model: str = "RGBA") -> None:
    x0, y0, x1, y1 = rect
    px = pack(rgba, depth, model)
    node.setPixelData(QByteArray(px * ((x1 - x0) * (y1 - y0))), x0, y0, x1 - x0, y1 - y0)


def paint_blob(node, blob, depth: str, model: str = "RGBA") -> None:
    (cx, cy), r, rgb = blob
    fill(node, (cx - r, cy - r, cx + r, cy + r), (*rgb, 255), depth, model)


def pixel(node, x: int, y: int) -> tuple[float, float, float, float]:
    return unpack(bytes(node.pixelData(x, y, 1, 1)), node.colorDepth())


def near(rgb, want, tol: float = 2.0) -> bool:
    return max(abs(a - b) for a, b in zip(rgb, want, strict=True)) <= tol


def grey_at(x: int, y: int) -> int:
    return next(g for x0, y0, x1, y1, g in REGIONS if x0 <= x < x1 and y0 <= y < y1)


# -- Krita helpers ----------------------------------------------------------------------------
class Recorder:
    """Collects what the model reports, so steps can wait for it."""

    def __init__(self, model) -> None:
        self.results: list[dict] = []
        self.messages: list[tuple[str, str]] = []
        model.result_written.connect(self.results.append)
        model.message_changed.connect(lambda level, text: self.messages.append((level, text)))

    def last_message(self) -> tuple[str, str]:
        return self.messages[-1] if self.messages else ("", "")


def names(doc) -> list[str]:
    return [n.name() for n in doc.rootNode().childNodes()]  # bottom first


def new_document(app, name: str, depth: str, profile: str = "", model: str = "RGBA"):
    doc = app.createDocument(W, H, name, model, depth, profile, 72.0)
    app.activeWindow().addView(doc)
    return doc


def paint_source(doc, depth: str, model: str = "RGBA"):
    bg = doc.rootNode().childNodes()[0]
    for x0, y0, x1, y1, grey in REGIONS:
        fill(bg, (x0, y0, x1, y1), (grey, grey, grey, 255), depth, model)
    doc.refreshProjection()
    return bg


def chroma_checks(ctx, prefix: str, result_node, blobs) -> None:
    for label, blob in blobs:
        (cx, cy), _, rgb = blob
        got = pixel(result_node, cx, cy)
        grey = grey_at(cx, cy)
        d_l = abs(lab(got[:3])[0] - lab((grey,) * 3)[0])
        d_e = chroma_distance(got[:3], rgb)
        detail = {
            "got": [round(v) for v in got],
            "hint": rgb,
            "dE": round(d_e, 2),
            "dL": round(d_l, 2),
        }
        ctx.check(f"{prefix}.lightness_{label}", d_l <= MAX_DELTA_L, detail)
        ctx.check(f"{prefix}.chroma_{label}", d_e <= MAX_DELTA_E, detail)


def wait_idle(model, rec: Recorder, count: int):
    def idle_with_result() -> bool:
        return not model.busy and len(rec.results) >= count

    return idle_with_result


def wait_message(model, rec: Recorder, count: int):
    def idle_with_message() -> bool:
        return not model.busy and len(rec.messages) >= count

    return idle_with_message


def within(predicate, seconds: float = 5.0):
    """A wait that ends when `predicate` holds or after `seconds`; the check that follows
    then reports what it sees (a plain predicate would fail the whole run on a timeout)."""
    deadline = time.monotonic() + seconds

    def settled() -> bool:
        return predicate() or time.monotonic() > deadline

    return settled


def find_docker(app):
    return next((d for d in app.dockers() if d.objectName() == "chromahint"), None)


def swatch_titles(model) -> list[str]:
    return [row.title for row in model.swatch_set.rows]


# -- the main scenario ------------------------------------------------------------------------
class Session:
    """What every flow uses: Krita, the docker's model and widgets, and a recorder."""

    def __init__(self, ctx, docker) -> None:
        self.app = Krita.instance()
        self.window = self.app.activeWindow()
        self.docker, self.model, self.panel = docker, docker.model, docker.panel
        self.rec = Recorder(self.model)
        ctx.results["messages"] = self.rec.messages  # the docker's messages, for failures

    def is_current(self, name: str):
        def document_is_current() -> bool:
            doc = self.model.document()
            return doc is not None and doc.name() == name

        return document_is_current

    def colorize(self):
        """Click Colorize and wait for its result (and the swatches that follow it)."""
        count = len(self.rec.results)
        self.panel.colorize_button.click()
        yield wait_idle(self.model, self.rec, count + 1)

    def undo(self):
        self.app.action("edit_undo").trigger()


def prepared(s: Session, name: str, depth: str, profile: str = "", model: str = "RGBA"):
    """A new document with the grey source, a Hints layer (added by the docker's button)
    and hint blobs A and B on it; the docker follows it. Returns the document."""
    doc = new_document(s.app, name, depth, profile, model)
    yield 600
    paint_source(doc, depth, model)
    yield s.is_current(name)
    s.panel.add_hints_button.click()
    yield within(lambda: doc.nodeByName("Hints") is not None)
    for blob in (BLOB_A, BLOB_B):
        paint_blob(doc.nodeByName("Hints"), blob, depth, model)
    return doc


def main(ctx):
    app = Krita.instance()
    docker = find_docker(app)
    ctx.check("docker_loaded", docker is not None, [d.objectName() for d in app.dockers()])
    if docker is None:
        return
    docker.setVisible(True)
    docker.raise_()
    s = Session(ctx, docker)
    # Krita loaded the plug-in as `chromahint_krita` (nothing named like the engine package).
    folder = s.model.folder
    loaded = sorted(m for m in sys.modules if m.split(".")[0].startswith("chromahint"))
    ok = os.path.basename(folder) == "chromahint_krita" and "chromahint" not in sys.modules
    ctx.check("plugin_package", ok and "chromahint_krita.model" in sys.modules, [folder, loaded])
    doc = yield from rgba8_flow(ctx, s)
    yield from live_flow(ctx, s, doc)
    yield from selection_flow(ctx, s, doc)
    yield from reference_flow(ctx, s)
    yield from recommend_flow(ctx, s)
    yield from other_models_flow(ctx, s)
    yield from lineart_flow(ctx, s)
    errors = [m for m in s.rec.messages if m[0] == "error"]
    ctx.check("no_errors_in_docker", not errors, errors)
    yield from recommend_forbidden(ctx, s)  # an error on purpose: after the check above
    yield from settings_flow(ctx, s)  # shows an error on purpose: after the check above


def rgba8_flow(ctx, s: Session):
    """8-bit RGBA: hint layer, Colorize, swatches, screenshot, undo and redo."""
    doc = new_document(s.app, "rgba8", "U8")
    yield 600
    paint_source(doc, "U8")
    yield s.is_current("rgba8")
    source = s.model.source()
    ctx.check("u8.source_default", source is not None and source.name() == "Background")
    s.panel.add_hints_button.click()
    yield within(lambda: doc.nodeByName("Hints") is not None)
    hints = doc.nodeByName("Hints")
    ctx.check("u8.hint_layer_added", hints is not None, names(doc))
    ctx.check("u8.hint_layer_above_source", names(doc) == ["Background", "Hints"], names(doc))
    paint_blob(hints, BLOB_A, "U8")
    paint_blob(hints, BLOB_B, "U8")
    s.panel.colorize_button.click()
    ctx.check("u8.busy_while_running", s.model.busy and s.panel.cancel_button.isEnabled())
    yield wait_idle(s.model, s.rec, 1)
    result = doc.nodeByName("Colorized")
    ctx.check("u8.colorized_created", result is not None, names(doc))
    ctx.check(
        "u8.colorized_above_source", names(doc)[:2] == ["Background", "Colorized"], names(doc)
    )
    chroma_checks(ctx, "u8", result, [("a", BLOB_A), ("b", BLOB_B)])
    ctx.results["u8_first_result"] = s.rec.results[-1]

    # Swatches: one row per hint blob, in reading order (A is left of B on the same rows);
    # clicking one sets Krita's foreground colour.
    rows = s.model.swatch_set.rows
    ctx.check("u8.swatches_shown", bool(rows), [s.model.swatch_set.heading, s.rec.messages])
    labels = [label.text() for label in s.panel.swatch_labels]
    ok = swatch_titles(s.model) == labels == ["Hint 1", "Hint 2"] and all(r.swatches for r in rows)
    ok = ok and "2 hints" in s.panel.swatch_title.text()
    ctx.check("u8.swatch_rows_per_hint", ok, [labels, s.panel.swatch_title.text()])
    buttons = sum(len(r.swatches) for r in rows)
    ctx.check("u8.swatch_buttons_per_row", len(s.panel.swatch_buttons) == buttons, buttons)
    if rows and rows[0].swatches:
        ctx.check("u8.swatch_button_enabled", s.panel.swatch_buttons[0].isEnabled())
        s.panel.swatch_buttons[0].click()
        yield 200
        view = s.window.activeView()
        fg = view.foregroundColor().colorForCanvas(view.canvas())
        want = rows[0].swatches[0].rgb
        got = (fg.red(), fg.green(), fg.blue())
        ok = all(abs(g - w) <= 1 for g, w in zip(got, want, strict=True))
        ctx.check("u8.swatch_sets_foreground", ok, {"fg": got, "swatch": want})

    # Screenshots of the docker and of the window around it, for review.
    yield 300
    if ctx.artifacts:
        s.docker.grab().save(os.path.join(ctx.artifacts, "krita_docker.png"))
        s.window.qwindow().grab().save(os.path.join(ctx.artifacts, "krita_window.png"))

    s.undo()
    yield within(lambda: doc.nodeByName("Colorized") is None)
    ctx.check("u8.undo_removes_result", doc.nodeByName("Colorized") is None, names(doc))
    s.app.action("edit_redo").trigger()
    yield within(lambda: doc.nodeByName("Colorized") is not None)
    ctx.check("u8.redo_restores_result", doc.nodeByName("Colorized") is not None, names(doc))
    return doc


def live_flow(ctx, s: Session, doc):
    """Live mode: a new hint stroke re-colorizes by itself, in place."""
    count = len(s.rec.results)
    s.panel.live_check.setChecked(True)
    yield wait_idle(s.model, s.rec, count + 1)
    count = len(s.rec.results)
    paint_blob(doc.nodeByName("Hints"), BLOB_C, "U8")
    started = time.monotonic()
    yield lambda: len(s.rec.results) > count  # the stroke's result, before its swatches
    ctx.results["live_latency_s"] = round(time.monotonic() - started, 3)
    yield wait_idle(s.model, s.rec, count + 1)
    live = s.rec.results[-1]
    ctx.check("live.result_is_live", live.get("live") is True, live)
    # The new blob C (below A and B) got its own row, the third in reading order.
    titles = swatch_titles(s.model)
    ctx.check("live.swatch_row_per_new_hint", titles == ["Hint 1", "Hint 2", "Hint 3"], titles)
    chroma_checks(ctx, "live", doc.nodeByName("Colorized"), [("c", BLOB_C), ("a", BLOB_A)])
    # The image went once: the engine named it, and live updates sent only its id.
    from chromahint_client import known_images as shared_client

    known = any(shared_client._known.values())
    ctx.check("live.image_sent_by_id", known, {k: list(v) for k, v in shared_client._known.items()})
    s.panel.live_check.setChecked(False)
    ctx.check("live.turned_off", not s.model.live)
    yield 200


def selection_flow(ctx, s: Session, doc):
    """A re-run limited to the selected right half; undo; swatches at the selection."""
    before_a = pixel(doc.nodeByName("Colorized"), 64, 64)
    paint_blob(doc.nodeByName("Hints"), BLOB_B2, "U8")
    sel = Selection()
    sel.select(128, 0, 128, 136, 255)
    doc.setSelection(sel)
    yield 200
    yield from s.colorize()
    result = doc.nodeByName("Colorized")
    after_a = pixel(result, 64, 64)
    ctx.check("sel.outside_unchanged", before_a == after_a, {"before": before_a, "after": after_a})
    chroma_checks(ctx, "sel", result, [("b2", BLOB_B2)])
    r = s.rec.results[-1]["rect"]
    ctx.check("sel.rect", (r.x, r.y, r.w, r.h) == (128, 0, 128, 136), repr(r))
    # Swatch rows stay numbered over the whole image after a run on a selection.
    titles = swatch_titles(s.model)
    ctx.check("sel.swatch_rows_whole_image", titles == ["Hint 1", "Hint 2", "Hint 3"], titles)
    s.undo()  # this run replaced the layer: undo removes it ...
    yield within(lambda: doc.nodeByName("Colorized") is None)
    ctx.check("sel.undo_removes_result", doc.nodeByName("Colorized") is None, names(doc))
    s.undo()  # ... and undo again brings the previous result back
    yield within(lambda: doc.nodeByName("Colorized") is not None)
    previous = doc.nodeByName("Colorized")
    ok = previous is not None and chroma_distance(pixel(previous, 192, 64)[:3], BLOB_B[2]) <= 10
    ctx.check("sel.second_undo_restores_previous", ok, names(doc))
    s.panel.swatch_here_button.click()  # the selection's centre is (192, 68)
    yield lambda: not s.model.busy
    heading, rows = s.model.swatch_set.heading, s.model.swatch_set.rows
    ok = heading == "At (192, 68)" and len(rows) == 1 and bool(rows[0].swatches)
    ctx.check("sel.swatches_at_selection", ok, [heading, repr(rows)])
    doc.setSelection(Selection())
    yield 200


def reference_flow(ctx, s: Session):
    """A reference image: the engine follows it and the message says how well it matched
    (or, for a reference without colours, says why it cannot)."""
    combo = s.panel.reference_combo
    choices = [combo.itemData(i) for i in range(combo.count())]
    layer_ref = next((i for i, key in enumerate(choices) if key and key[0] == "layer"), None)
    ctx.check("ref.choices_listed", layer_ref is not None, choices)
    if layer_ref is None:
        return
    combo.activated.emit(layer_ref)
    ctx.check("ref.selected", s.model.reference is not None)
    count, msgs = len(s.rec.results), len(s.rec.messages)
    s.panel.colorize_button.click()
    yield wait_message(s.model, s.rec, msgs + 1)
    level, text = s.rec.last_message()
    ctx.results["reference_message"] = [level, text]
    if len(s.rec.results) > count:
        ok = "Reference match" in text or "does not fit" in text
        ctx.check("ref.used_or_explained", ok, [level, text])
    else:
        ok = level == "error" and "gray" in text and "reference" in text
        ctx.check("ref.used_or_explained", ok, [level, text])


def recommend_flow(ctx, s: Session):
    """Recommend from folder…: a ranked list with thumbnails and scores (the broken file
    counted, not listed); clicking the best one makes it the reference, Colorize uses it."""
    folder = os.environ.get("CHROMAHINT_REFERENCE_FOLDER", "")
    ctx.check("recommend.folder_given", bool(folder), folder)
    if not folder:
        return
    rec, listing = s.model.recommender, s.panel.recommendations
    msgs = len(s.rec.messages)
    rec.recommend(folder)
    yield within(lambda: not rec.busy and len(s.rec.messages) > msgs + 1, 60)
    rows = list(listing.rows)
    scores = [r.score for r in rows]
    ctx.results["recommendations"] = [[os.path.basename(r.path), r.score] for r in rows]
    ok = len(rows) == 5 and scores == sorted(scores, reverse=True) and listing.isVisible()
    ctx.check("recommend.ranked", ok and listing.count() == 5, [s.rec.last_message(), scores])
    thumbs = [r.thumbnail for r in rows]
    ok = all(t is not None and 0 < max(t.width(), t.height()) <= 64 for t in thumbs)
    ctx.check("recommend.thumbnails", ok and not listing.item(0).icon().isNull())
    said = s.rec.last_message()
    ctx.check("recommend.skipped_counted", "1 picture could not be read" in said[1], said)
    s.docker.grab().save(os.path.join(ctx.artifacts, "krita_recommend.png"))
    if not rows:
        return
    listing.itemClicked.emit(listing.item(0))
    yield within(lambda: s.model.reference == ("file", rows[0].path))
    s.panel.refresh_layers()
    shown = s.panel.reference_combo.currentText()
    ctx.check("recommend.chosen", shown.startswith("File: "), [s.model.reference, shown])
    msgs = len(s.rec.messages)
    s.panel.colorize_button.click()
    yield wait_message(s.model, s.rec, msgs + 1)
    level, text = s.rec.last_message()
    ok = level == "info" and ("Reference match" in text or "does not fit" in text)
    ctx.check("recommend.colorized", ok, [level, text])
    s.model.set_reference(None)


def recommend_forbidden(ctx, s: Session):
    """A folder the engine may not read: its error, in words, and nothing listed anew."""
    msgs = len(s.rec.messages)
    s.model.set_mode("photo")
    s.model.recommender.recommend("/")
    yield within(lambda: not s.model.recommender.busy and len(s.rec.messages) > msgs + 1, 30)
    level, text = s.rec.last_message()
    ok = level == "error" and "forbidden" in text and "reference_folders" in text
    ctx.check("recommend.forbidden_explained", ok, [level, text])


def other_models_flow(ctx, s: Session):
    """16-bit integer, 32-bit float (linear profile: Krita converts) and grayscale."""
    doc16 = yield from prepared(s, "rgba16", "U16", "sRGB-elle-V2-srgbtrc.icc")
    yield from s.colorize()
    result16 = doc16.nodeByName("Colorized")
    ctx.check("u16.colorized_created", result16 is not None, names(doc16))
    if result16 is not None:
        ctx.check("u16.depth", result16.colorDepth() == "U16", result16.colorDepth())
        chroma_checks(ctx, "u16", result16, [("a", BLOB_A), ("b", BLOB_B)])
    s.undo()
    yield within(lambda: doc16.nodeByName("Colorized") is None)
    ctx.check("u16.undo_removes_result", doc16.nodeByName("Colorized") is None, names(doc16))

    docf = yield from prepared(s, "rgbaf32", "F32")  # Krita's default float profile: linear
    yield from s.colorize()
    resultf = docf.nodeByName("Colorized")
    ctx.check("f32.colorized_created", resultf is not None, names(docf))
    if resultf is not None:
        ctx.check("f32.depth", resultf.colorDepth() == "F32", resultf.colorDepth())
        chroma_checks(ctx, "f32", resultf, [("a", BLOB_A), ("b", BLOB_B)])

    docg = yield from prepared(s, "gray8", "U8", "", "GRAYA")  # grey hints: lightness only
    yield from s.colorize()
    ctx.check("gray.converted_to_rgb", docg.colorModel() == "RGBA", docg.colorModel())
    ctx.check("gray.colorized_created", docg.nodeByName("Colorized") is not None, names(docg))
    ctx.check("gray.message", "converted" in s.rec.last_message()[1], s.rec.last_message())


def lineart_flow(ctx, s: Session):
    """Regions and line-art colorizing; an engine without a line-art model says so."""
    doc = new_document(s.app, "lineart", "U8")
    yield 600
    line = doc.createNode("Line art", "paintlayer")
    for x0, y0, x1, y1 in ((20, 20, 120, 170), (140, 30, 236, 120)):
        edges = (
            (x0, y0, x1, y0 + 3),
            (x0, y1 - 3, x1, y1),
            (x0, y0, x0 + 3, y1),
            (x1 - 3, y0, x1, y1),
        )
        for rect in edges:
            fill(line, rect, (0, 0, 0, 255), "U8")
    doc.rootNode().addChildNode(line, None)
    yield s.is_current("lineart")
    s.panel.mode_lineart.setChecked(True)
    yield 200
    ctx.check("lineart.mode", s.model.mode == "lineart")
    source = s.model.source()
    ctx.check("lineart.source_default", source is not None and source.name() == "Line art")

    def lines_on_top() -> bool:
        layers = names(doc)
        return "Colorized" in layers and layers.index("Colorized") < layers.index("Line art")

    msgs = len(s.rec.messages)
    s.panel.regions_button.click()
    yield wait_message(s.model, s.rec, msgs + 1)
    has_lineart = "lineart" in s.model.engine_models
    level, text = s.rec.last_message()
    ctx.results["regions_message"] = [level, text, s.model.engine_models]
    if not has_lineart:
        ok = level == "warning" and "cannot suggest regions" in text and "lineart" in text
        ctx.check("regions.unsupported_message", ok, [level, text])
    else:
        ctx.check("regions.overlay", doc.nodeByName("Chromahint regions") is not None, names(doc))
        ctx.check("regions.buttons", len(s.panel.region_buttons) > 0, len(s.panel.region_buttons))
        ranks = [r.rank for r in s.model.regions]
        ctx.check("regions.numbered", ranks[:1] == [1], ranks)
        # Two closed boxes on a page: inside each box and the page around them.
        ctx.check("regions.three_for_two_boxes", ranks == [1, 2, 3], ranks)
        overlay = doc.nodeByName("Chromahint regions")
        if overlay is not None:
            # Full canvas resolution: the tint reaches the pixel beside the line, not the line.
            beside, on_line = pixel(overlay, 24, 100), pixel(overlay, 21, 100)
            inside = pixel(overlay, 70, 100)
            ok = beside[3] > 0 and on_line[3] == 0 and beside[:3] == inside[:3]
            ctx.check("regions.overlay_full_size", ok, [beside, on_line, inside])
        if ctx.artifacts:
            yield 300
            s.window.qwindow().grab().save(os.path.join(ctx.artifacts, "krita_regions.png"))
        if s.panel.region_buttons:
            s.model.pick_swatch((220, 180, 60))  # the foreground colour fills the region
            count, msgs = len(s.rec.results), len(s.rec.messages)
            s.panel.region_buttons[0].click()
            yield wait_message(s.model, s.rec, msgs + 1)
            level, text = s.rec.last_message()
            ok = len(s.rec.results) > count and level == "info" and "Colorized" in text
            ctx.check("regions.colour_applied", ok, [level, text])
            ctx.check("regions.colorized_below_lines", lines_on_top(), names(doc))
            first = s.model.regions[0]
            colorized = doc.nodeByName("Colorized")
            if colorized is not None:
                # One click fills the whole region with exactly the foreground colour.
                got = pixel(colorized, int(first.x), int(first.y))[:3]
                ok = near(got, (220, 180, 60))
                ctx.check("regions.filled_exactly", ok, [got, first])

    s.panel.add_hints_button.click()
    yield within(lambda: doc.nodeByName("Hints") is not None)
    paint_blob(doc.nodeByName("Hints"), ((70, 95), 12, (220, 180, 60)), "U8")
    count, msgs = len(s.rec.results), len(s.rec.messages)
    s.panel.colorize_button.click()
    yield wait_message(s.model, s.rec, msgs + 1)
    level, text = s.rec.last_message()
    ctx.results["lineart_colorize_message"] = [level, text]
    if has_lineart:
        ok = len(s.rec.results) > count and lines_on_top()
        ctx.check("lineart.colorized_below_lines", ok, names(doc))
        # A Colorize Mask's key stroke in the right box is a hint too: the box takes its colour.
        # Made the way the Layers docker does (creating one through createNode crashes 5.1).
        doc.setActiveNode(line)
        yield 200
        s.app.action("add_new_colorize_mask").trigger()
        yield within(lambda: any(c.type() == "colorizemask" for c in line.childNodes()))
        mask = next(c for c in line.childNodes() if c.type() == "colorizemask")
        paint_blob(mask, ((188, 60), 4, (40, 90, 200)), "U8")
        count, msgs = len(s.rec.results), len(s.rec.messages)
        s.panel.colorize_button.click()
        yield wait_message(s.model, s.rec, msgs + 1)
        colorized = doc.nodeByName("Colorized")
        got = pixel(colorized, 200, 100)[:3] if colorized is not None else None
        ok = got is not None and near(got, (40, 90, 200))
        ctx.check("lineart.colorize_mask_key_stroke", ok, [got, s.rec.last_message()])
    else:
        ok = level == "warning" and "line-art" in text and "lineart" in text
        ctx.check("lineart.unsupported_message", ok, [level, text])


def settings_flow(ctx, s: Session):
    """An unusable chromahint.json is an error in the docker, never silent defaults; fixing
    the file and clicking ↻ brings the docker back."""
    path = os.path.join(s.model.folder, "chromahint.json")
    with open(path, encoding="utf-8") as f:
        saved = f.read()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write("{not json")
        s.panel.engine_button.click()
        level, text = s.rec.last_message()
        ok = level == "error" and path in text and s.model.settings is None
        ok = ok and s.model.engine_state == "offline" and s.panel.message_label.text() == text
        ctx.check("settings.error_shown", ok, [level, text, s.model.engine_text])
        count, msgs = len(s.rec.results), len(s.rec.messages)
        s.panel.colorize_button.click()
        yield 300
        level, text = s.rec.last_message()
        ok = not s.model.busy and len(s.rec.results) == count and len(s.rec.messages) > msgs
        ctx.check("settings.nothing_runs", ok and level == "error" and path in text, [level, text])
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(saved)
    s.panel.engine_button.click()
    yield within(lambda: s.model.engine_state == "ready", 20)
    ok = s.model.settings is not None and s.model.engine_state == "ready"
    ctx.check("settings.recovered", ok, s.model.engine_text)


def gui_ticker(gaps: list[float]) -> QTimer:
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer()
    ticker.timeout.connect(tick)
    ticker.start(20)
    return ticker


# -- engine start-up and cancel ---------------------------------------------------------------
def autostart(ctx):
    """Nothing answers at the configured endpoint: the first run starts the engine."""
    app = Krita.instance()
    docker = find_docker(app)
    ctx.check("docker_loaded", docker is not None)
    if docker is None:
        return
    model, panel = docker.model, docker.panel
    rec = Recorder(model)
    ctx.timeout_s = 150
    yield lambda: model.engine_state == "offline"
    ctx.check("status_offline_before", "not running" in model.engine_text, model.engine_text)
    doc = new_document(app, "autostart", "U8")
    yield 600
    paint_source(doc, "U8")
    yield lambda: model.document() is not None
    panel.add_hints_button.click()
    yield within(lambda: doc.nodeByName("Hints") is not None)
    paint_blob(doc.nodeByName("Hints"), BLOB_A, "U8")
    # The GUI must stay responsive while the engine starts and works: measure timer gaps.
    gaps: list[float] = []
    ticker = gui_ticker(gaps)
    panel.colorize_button.click()
    yield wait_idle(model, rec, 1)
    ticker.stop()
    ctx.results["max_gui_gap_s"] = round(max(gaps), 3) if gaps else None
    ctx.check("gui_responsive", bool(gaps) and max(gaps) < 0.5, ctx.results["max_gui_gap_s"])
    ctx.check("engine_started_and_colorized", doc.nodeByName("Colorized") is not None, names(doc))
    ctx.check("status_ready_after", model.engine_state == "ready", model.engine_text)
    chroma_checks(ctx, "autostart", doc.nodeByName("Colorized"), [("a", BLOB_A)])

    # Cancel: the docker is free at once, and the late reply never lands in the document.
    # Big enough that the engine is still at work when its first progress message arrives.
    big = app.createDocument(3600, 2700, "big", "RGBA", "U8", "", 72.0)
    window = app.activeWindow()
    window.addView(big)
    yield 600
    yield lambda: model.document() is not None and model.document().name() == "big"
    panel.add_hints_button.click()
    yield within(lambda: big.nodeByName("Hints") is not None)
    paint_blob(big.nodeByName("Hints"), BLOB_A, "U8")
    count = len(rec.results)
    fractions: list[float] = []
    model.worker.fraction.connect(fractions.append)
    panel.colorize_button.click()
    # The engine's progress messages move the docker's bar (range 0-1000 once one came).
    yield within(lambda: bool(fractions), 15)
    bar = (panel.progress.maximum(), panel.progress.value())
    ctx.check(
        "cancel.progress_shown", bool(fractions) and bar[0] == 1000 and bar[1] > 0, [fractions, bar]
    )
    ctx.check("cancel.was_busy", model.busy)
    cancelled_at = time.monotonic()
    panel.cancel_button.click()
    ctx.check("cancel.idle_at_once", not model.busy and not panel.cancel_button.isEnabled())
    ctx.check("cancel.message", rec.last_message()[1] == "Cancelled.", rec.last_message())
    # Wait until the abandoned request's thread got its reply (or gave up), then look.
    yield lambda: not any(t.name.startswith("chromahint-colorize") for t in threading.enumerate())
    # The engine was asked to stop (the cancel op), so the request's thread ends soon after.
    ctx.results["cancel_thread_end_s"] = round(time.monotonic() - cancelled_at, 3)
    ctx.check(
        "cancel.stale_reply_dropped",
        big.nodeByName("Colorized") is None and len(rec.results) == count,
        names(big),
    )
    ctx.results["engine_text"] = model.engine_text


# -- an engine that hangs or dies mid-request ------------------------------------------------
def layer_state(doc) -> list[tuple[str, str]]:
    """Every layer's name and a digest of its pixels, bottom first."""
    return [
        (n.name(), hashlib.sha256(bytes(n.pixelData(0, 0, W, H))).hexdigest()[:16])
        for n in doc.rootNode().childNodes()
    ]


def failed_run(ctx, s: Session, doc, prefix: str, signals: list[tuple[float, int]]):
    """Colorize while the engine gets `signals` ((seconds, signal); 0 s: before the click):
    an error message, layers exactly as before, the GUI responsive throughout."""
    before = layer_state(doc)
    pid = int(os.environ["CHROMAHINT_ENGINE_PID"])
    for delay, sig in signals:
        if delay <= 0:
            os.kill(pid, sig)
        else:
            QTimer.singleShot(int(delay * 1000), lambda sig=sig: os.kill(pid, sig))
    gaps: list[float] = []
    ticker = gui_ticker(gaps)
    count = len(s.rec.messages)
    t0 = time.monotonic()
    s.panel.colorize_button.click()
    yield wait_message(s.model, s.rec, count + 1)
    elapsed = time.monotonic() - t0
    ticker.stop()
    level, text = s.rec.last_message()
    ctx.results[f"{prefix}.seconds"] = round(elapsed, 2)
    ctx.check(f"{prefix}.error_shown", level == "error" and "not respond" in text, [level, text])
    # The status check's 2 s, then the request's 3 s timeout, and some slack.
    ctx.check(f"{prefix}.within_timeout", elapsed < 2 + 3 + 3, elapsed)
    ctx.check(f"{prefix}.layers_unchanged", layer_state(doc) == before, [before, layer_state(doc)])
    ctx.check(f"{prefix}.gui_responsive", bool(gaps) and max(gaps) < 0.5, max(gaps or [0]))


def faults(ctx):
    docker = find_docker(Krita.instance())
    if docker is None:
        ctx.check("docker_loaded", False)
        return
    s = Session(ctx, docker)
    ctx.timeout_s = 150
    path = os.path.join(s.model.folder, "chromahint.json")
    with open(path, encoding="utf-8") as f:
        settings = json.load(f)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**settings, "timeout": 3}, f)
    s.panel.engine_button.click()
    yield within(lambda: s.model.engine_state == "ready", 20)
    doc = yield from prepared(s, "faults", "U8")
    pid = int(os.environ["CHROMAHINT_ENGINE_PID"])
    try:
        yield from failed_run(ctx, s, doc, "hung", [(0, signal.SIGSTOP)])
    finally:
        os.kill(pid, signal.SIGCONT)
    yield from s.colorize()
    ctx.check("resumed.colorized", doc.nodeByName("Colorized") is not None, names(doc))
    # Stopped first so the request is surely in flight, then killed under it.
    yield from failed_run(ctx, s, doc, "killed", [(0, signal.SIGSTOP), (3.5, signal.SIGKILL)])
    ctx.check("killed.offline", s.model.engine_state == "offline", s.model.engine_text)


def steps(ctx):
    name = os.environ.get("CHROMAHINT_SCENARIO", "main")
    yield from {"main": main, "autostart": autostart, "faults": faults}[name](ctx)
