"""The Krita plug-in: its pure parts, its engine work against a real engine, and its docker
driven inside real Krita.

- `unit`: the plug-in's pure modules (no Krita, no Qt, no engine), imported the way they
  ship: through the installer package `chromahint_installer.plugin_krita`.
- `engine`: the off-GUI-thread work (engine_work.py) against a real engine process.
- `krita`: the plug-in installed with `chromahint install --krita` into fresh XDG folders,
  Krita 5 under Xvfb running tests/krita_scenarios.py against a real engine on loopback.
  Skipped only when Krita is not installed and CHROMAHINT_REQUIRE_KRITA is not set
  (tests/setup/krita.sh installs it).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import struct
import sys
import time
from pathlib import Path

import pytest
from conftest import free_endpoint, launch_engine
from import_rules import imports
from krita_harness import ARTIFACTS, KritaRun, krita_installed, run_scenario

from chromahint_client import Client, EngineReplyError, hints, images
from chromahint_client import protocol as P
from chromahint_client import regions as shared_regions
from chromahint_client import settings as plugin_settings
from chromahint_client.launcher import is_running
from chromahint_installer import KRITA_PLUGIN
from chromahint_installer.plugin_krita.chromahint_krita import (
    engine_work,
    jobs,
    pixels,
    swatches,
)

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "plugin_krita" / "chromahint_krita"
SCENARIOS = Path(__file__).resolve().parent / "krita_scenarios.py"
ALLOWED_THIRD_PARTY = {"PyQt5", "krita", "chromahint_client"}
# Modules that may import Krita at run time: kritadoc.py makes every Krita call, docker.py
# subclasses Krita's DockWidget. The others name Krita's types for annotations only.
KRITA_IMPORTERS = {"kritadoc.py", "docker.py"}
WIDGET_MODULES = {"docker.py", "reference_widgets.py"}  # the only modules with widgets
MAX_MODULE_LINES = 400

needs_krita = pytest.mark.skipif(
    not krita_installed() and not os.environ.get("CHROMAHINT_REQUIRE_KRITA"),
    reason="Krita or xvfb-run is not installed (run tests/setup/krita.sh, or set "
    "CHROMAHINT_REQUIRE_KRITA=1 to make this a failure)",
)


# -- the package's shape (unit) -----------------------------------------------------------------
def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _runtime_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) imported outside `if TYPE_CHECKING:` blocks; relative ones as '.x'."""
    return [
        ("." * level + module, names)
        for level, module, names in imports(path, skip_body_of=_type_checking_block)
    ]


def _modules() -> list[Path]:
    return sorted(PLUGIN.rglob("*.py"))


@pytest.mark.unit
def test_plugin_imports_only_the_allowed_modules():
    files = _modules()
    assert len(files) >= 5, files
    stdlib = set(sys.stdlib_module_names)
    bad = {}
    for path in files:
        roots = {m.split(".")[0] for m, _ in _runtime_imports(path) if not m.startswith(".")}
        extra = roots - stdlib - ALLOWED_THIRD_PARTY
        if extra:
            bad[str(path.relative_to(REPO))] = sorted(extra)
    assert not bad, (
        f"the Krita plug-in may import only the stdlib, PyQt5, krita, chromahint_client: {bad}"
    )


@pytest.mark.unit
def test_krita_is_called_only_from_kritadoc_and_widgets_only_from_the_docker():
    krita_users, widget_users = set(), set()
    for path in _modules():
        imports = _runtime_imports(path)
        if any(m.split(".")[0] == "krita" for m, _ in imports):
            krita_users.add(path.name)
        if any(m.startswith("PyQt5.QtWidgets") or m == ".docker" for m, _ in imports):
            widget_users.add(path.name)
        if path.name == "docker.py":
            krita_names = {n for m, names in imports if m == "krita" for n in names}
            assert krita_names == {"DockWidget"}, krita_names
    assert krita_users == KRITA_IMPORTERS, krita_users
    # __init__.py imports the docker to register it; no model-layer module does.
    assert widget_users <= WIDGET_MODULES | {"__init__.py"}, widget_users
    for path in _modules():
        if path.name != "kritadoc.py":
            assert "Krita.instance" not in path.read_text(encoding="utf-8"), path.name


@pytest.mark.unit
def test_no_module_is_too_long_and_the_old_copies_are_gone():
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    assert max(lengths.values()) <= MAX_MODULE_LINES, lengths
    # Settings and region decoding come from chromahint_client, shared with GIMP.
    assert not {"settings.py", "regions.py"} & set(lengths), lengths
    # Nothing in the plug-in may shadow the engine package `chromahint` inside an editor.
    assert KRITA_PLUGIN == PLUGIN.name == "chromahint_krita"
    assert not (REPO / "plugin_krita" / "chromahint").exists()


@pytest.mark.unit
def test_desktop_file_names_the_package():
    text = (PLUGIN.parent / f"{KRITA_PLUGIN}.desktop").read_text(encoding="utf-8")
    assert "ServiceTypes=Krita/PythonPlugin" in text
    assert f"X-KDE-Library={KRITA_PLUGIN}\n" in text
    assert (PLUGIN / "__init__.py").is_file()


# -- pixels (unit) ------------------------------------------------------------------------------
@pytest.mark.unit
def test_pixels_round_trips_krita_layouts():
    bgra8 = bytes([10, 20, 30, 40, 50, 60, 70, 80])
    assert images.swap_red_blue(bgra8, 1) == bytes([30, 20, 10, 40, 70, 60, 50, 80])
    bgra16 = struct.pack("<8H", 1, 2, 3, 4, 5, 6, 7, 8)
    assert struct.unpack("<8H", images.swap_red_blue(bgra16, 2)) == (3, 2, 1, 4, 7, 6, 5, 8)
    gray16 = struct.pack("<4H", 1000, 65535, 2000, 0)
    assert struct.unpack("<8H", pixels.gray_to_bgra(gray16, 2)) == (
        1000, 1000, 1000, 65535, 2000, 2000, 2000, 0,
    )  # fmt: skip
    rgba8 = bytes([200, 100, 50, 255])
    out16 = pixels.rgba8_to_bgra(rgba8, 2)
    assert struct.unpack("<4H", out16) == (50 * 257, 100 * 257, 200 * 257, 65535)
    layer = pixels.LayerPixels(out16, pixels.Rect(0, 0, 1, 1), 2)
    message, opaque = engine_work.source_image(layer, P.Mode.PHOTO)
    assert message.format == "rgba16" and opaque
    assert struct.unpack("<4H", message.data) == (200 * 257, 100 * 257, 50 * 257, 65535)
    assert hints.to_8bit(out16) == bytes([50, 100, 200, 255])
    assert pixels.is_opaque(out16, 2) and not pixels.is_opaque(bytes([0, 0, 0, 254]), 1)


@pytest.mark.unit
def test_pixels_knows_which_colour_spaces_need_krita():
    assert pixels.ColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc").writable
    assert pixels.ColorSpace("RGBA", "U16", "sRGB built-in").writable
    assert pixels.ColorSpace("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc").direct
    assert not pixels.ColorSpace("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc").writable
    for space in (
        pixels.ColorSpace("RGBA", "U16", "sRGB-elle-V2-g10.icc"),  # linear: Krita's U16 default
        pixels.ColorSpace("RGBA", "F32", "sRGB-elle-V2-srgbtrc.icc"),
        pixels.ColorSpace("CMYKA", "U8", "Chemical proof"),
    ):
        assert not space.direct, space
        with pytest.raises(ValueError):
            pixels.to_bgra(b"", space)
    assert pixels.ColorSpace("RGBA", "F16", "x").pixel_bytes == 8


@pytest.mark.unit
def test_pixels_merges_only_selected_spans():
    mask = bytes([0, 255, 200, 0, 127, 128])  # 3 x 2, half-selected counts as selected
    spans = pixels.selected_spans(mask, 3, 2)
    assert spans == [(0, 1, 3), (1, 2, 3)]
    new, old = b"N" * 6 * 4, b"o" * 6 * 4
    merged = pixels.merge_spans(new, old, spans, 3, 4)
    assert merged == b"oooo" + b"NNNN" * 2 + b"oooo" * 2 + b"NNNN"


# -- regions and settings, the shared modules the plug-in uses (unit) ----------------------------
@pytest.mark.unit
def test_regions_places_numbers_inside_their_regions():
    w, h = 40, 30
    ids = []
    for y in range(h):
        for x in range(w):
            if x in (19, 20):
                ids.append(0)  # a vertical line between region 7 (left) and 3 (right)
            elif x < 19:
                ids.append(7)
            else:
                # A C-shaped region 3: its centroid falls in the notch, which is region 9.
                ids.append(9 if (x > 28 and 10 <= y < 20) else 3)
    labels = struct.pack(f"<{w * h}H", *ids)
    # Sampled on a grid, as the Krita overlay does (engine_work.REGION_GRID in real use).
    result = shared_regions.region_map(labels, w, h, order=[3, 7, 9, 42], count=2, grid=16)
    assert [r.id for r in result.regions] == [3, 7]
    assert [r.rank for r in result.regions] == [1, 2]
    for region in result.regions:
        assert ids[int(region.y) * w + int(region.x)] == region.id, region
    # Ranks at full size, whatever the grid numbers were placed on: the overlay follows lines.
    rank_of = {3: 1, 7: 2}
    assert list(result.ranks) == [rank_of.get(i, 0) for i in ids]
    assert (result.width, result.height) == (w, h)
    # Ids above 255 take the byte-at-a-time path, with the same answer.
    big = struct.pack(f"<{w * h}H", *[i + 300 if i else 0 for i in ids])
    slow = shared_regions.region_map(big, w, h, order=[303, 307], count=2, grid=16)
    assert slow.ranks == result.ranks
    assert [(r.id - 300, r.x, r.y) for r in slow.regions] == [
        (r.id, r.x, r.y) for r in result.regions
    ]
    with pytest.raises(ValueError):
        shared_regions.region_map(labels[:-2], w, h, [3], 1, grid=16)


@pytest.mark.unit
def test_settings_missing_means_defaults_and_unusable_is_an_error(tmp_path):
    """The plug-in reads chromahint.json beside it with the shared loader's one rule."""
    assert plugin_settings.load(str(tmp_path)) == plugin_settings.Settings(
        path=str(tmp_path / "chromahint.json")
    )
    good = tmp_path / "chromahint.json"
    good.write_text(json.dumps({"endpoint": "tcp://127.0.0.1:6000", "engine_command": "x serve"}))
    settings = plugin_settings.load(str(tmp_path))
    assert (settings.endpoint, settings.engine_command, settings.path) == (
        "tcp://127.0.0.1:6000",
        "x serve",
        str(good),
    )
    good.write_text("{not json")
    with pytest.raises(plugin_settings.SettingsError, match="chromahint.json"):
        plugin_settings.load(str(tmp_path))
    good.write_text(json.dumps({"swatch_count": 0}))
    with pytest.raises(plugin_settings.SettingsError, match="swatch_count"):
        plugin_settings.load(str(tmp_path))
    # The folders an engine the plug-in starts may read references from: home by default.
    assert settings.reference_folders == ("~",)
    good.write_text(json.dumps({"reference_folders": ["/srv/refs", "~/Pictures"]}))
    assert plugin_settings.load(str(tmp_path)).reference_folders == ("/srv/refs", "~/Pictures")
    for bad in ("/srv/refs", [""], [3]):
        good.write_text(json.dumps({"reference_folders": bad}))
        with pytest.raises(plugin_settings.SettingsError, match="reference_folders"):
            plugin_settings.load(str(tmp_path))


# -- jobs and messages (unit) -------------------------------------------------------------------
def _layer(w: int, h: int, spots=(), origin=(0, 0), fill=None) -> pixels.LayerPixels:
    """8-bit BGRA: `fill` everywhere (None: transparent), then opaque squares
    ((x0, y0, x1, y1), rgb) in the layer's own frame."""
    data = bytearray((bytes(fill) if fill else bytes(4)) * (w * h))
    for (x0, y0, x1, y1), (r, g, b) in spots:
        for y in range(y0, y1):
            for x in range(x0, x1):
                data[4 * (y * w + x) : 4 * (y * w + x) + 4] = bytes([b, g, r, 255])
    return pixels.LayerPixels(bytes(data), pixels.Rect(*origin, w, h), 1)


def _snapshot(**fields) -> engine_work.ColorizeSnapshot:
    source = _layer(64, 48, fill=(120, 120, 120, 255))
    hint = _layer(32, 16, [((2, 2, 6, 6), (200, 40, 40))], origin=(16, 8))
    base = {"source": source, "hints": (hint,), "mode": P.Mode.PHOTO, "target": None}
    return engine_work.ColorizeSnapshot(**(base | fields))


@pytest.mark.unit
def test_job_kinds_follow_their_typed_contexts():
    snap = _snapshot()
    colorize = jobs.ColorizeContext("doc", "node", snap, None, False, False, (), 0.0)
    contexts = {
        jobs.JobKind.COLORIZE: colorize,
        jobs.JobKind.SWATCHES: jobs.SwatchesContext("For your hint:", ()),
        jobs.JobKind.REGIONS: jobs.RegionsContext("doc"),
        jobs.JobKind.INFO: jobs.InfoContext(),
    }
    for kind, context in contexts.items():
        job = jobs.Job(context, lambda client: None)
        assert job.kind is kind and not job.cancelled
    assert [s.value for s in jobs.EngineState] == ["unknown", "ready", "busy", "offline"]
    assert jobs.EngineState.OFFLINE == "offline"  # what Krita-side code and tests compare
    assert len({jobs.Job(jobs.InfoContext(), print).id for _ in range(3)}) == 3


@pytest.mark.unit
def test_failure_messages_say_what_the_engine_cannot_do():
    settings = plugin_settings.Settings(path="/x/chromahint.json")

    def message(context, error):
        return jobs.failure_message(jobs.Job(context, print), error, settings)

    def colorize(**fields):
        snap = _snapshot(**fields)
        return jobs.ColorizeContext("d", "n", snap, None, False, False, (), 0.0)

    unsupported = EngineReplyError("unsupported", "no lineart model is installed")
    level, text = message(colorize(reference=P.Image(1, 1, "rgba8", bytes(4))), unsupported)
    assert level is jobs.Level.WARNING and "reference" in text and "turned off" in text
    level, text = message(jobs.RegionsContext("d"), unsupported)
    assert level is jobs.Level.WARNING and "cannot suggest regions" in text and "lineart" in text
    level, text = message(colorize(mode=P.Mode.LINEART), unsupported)
    assert level is jobs.Level.WARNING and "line-art" in text and "lineart" in text
    region = (P.RegionHint(3, (1, 2, 3)),)
    level, text = message(colorize(mode=P.Mode.LINEART, region_hints=region), unsupported)
    assert level is jobs.Level.WARNING and "colour regions" in text
    level, text = message(colorize(), EngineReplyError("bad_image", "broken"))
    assert level is jobs.Level.ERROR and "broken" in text
    from chromahint_client import EngineNotRunning

    level, text = message(colorize(), EngineNotRunning("nothing at tcp://x"))
    assert level is jobs.Level.ERROR and "/x/chromahint.json" in text


# -- swatches per blob (unit) -------------------------------------------------------------------
@pytest.mark.unit
def test_swatches_ask_once_per_blob_in_reading_order():
    # Three blobs: bottom-left, top-right, top-left (painted in that order); reading
    # order is by the top edge, then the left edge.
    layer = _layer(
        80,
        60,
        [
            ((4, 40, 12, 48), (10, 200, 10)),
            ((50, 5, 58, 13), (10, 10, 200)),
            ((5, 4, 13, 12), (200, 10, 10)),
        ],
    )
    points, blobs = engine_work.collect_hints([layer], layer.rect)
    assert points and len(blobs) == 3
    places, heading = swatches.blob_places(blobs)
    assert [p.title for p in places] == ["Hint 1", "Hint 2", "Hint 3"]
    assert [b.rgb for b in blobs] == [(200, 10, 10), (10, 10, 200), (10, 200, 10)]
    assert [(round(p.spot.x), round(p.spot.y)) for p in places] == [(9, 8), (54, 9), (8, 44)]
    assert "3 hints" in heading and "reading order" in heading
    request = engine_work.swatches_request(layer, [layer], places, 4)
    assert request.points == tuple(p.spot for p in places) and request.k == 4
    assert request.hints == tuple(points) and request.mode is P.Mode.PHOTO
    answer = [[P.Swatch((i, i, i), 1.0)] for i in range(3)]
    rows = swatches.rows_for(places, answer)
    assert [(r.title, r.swatches[0].rgb) for r in rows] == [
        ("Hint 1", (0, 0, 0)),
        ("Hint 2", (1, 1, 1)),
        ("Hint 3", (2, 2, 2)),
    ]
    with pytest.raises(ValueError, match="3 places"):
        swatches.rows_for(places, answer[:2])
    # Many dots: the first MAX_ROWS in reading order, and the heading says so.
    many = blobs * 20
    places, heading = swatches.blob_places(many)
    assert len(places) == swatches.MAX_ROWS and f"of {len(many)}" in heading
    places, heading = swatches.selection_place(300.0, -4.0, 256, 192)
    assert heading == "At (255, 0)" and places[0].spot == P.Spot(255.0, 0.0)
    assert swatches.blob_key(blobs) == swatches.blob_key(list(reversed(blobs)))


@pytest.mark.unit
def test_colorize_request_is_typed_and_in_the_work_area_frame():
    snap = _snapshot()
    request, opaque, blobs = engine_work.colorize_request(snap)
    assert isinstance(request, P.ColorizeRequest) and opaque
    assert (request.image.width, request.image.height, request.image.format) == (64, 48, "rgba8")
    assert request.image.data[:4] == bytes([120, 120, 120, 255])
    assert request.points and all(p.rgb == (200, 40, 40) for p in request.points)
    # The hint layer lies at (16, 8): its square (2..6) is at 18..22, 10..14 in the image.
    assert all(18 <= p.x < 22 and 10 <= p.y < 14 for p in request.points)
    assert [b.bbox for b in blobs] == [(18, 10, 22, 14)]
    assert request.region_hints == () and request.labels is None and request.swatches == 0
    labels = P.Image(64, 48, "gray16", bytes(64 * 48 * 2))
    region = (P.RegionHint(3, (1, 2, 3)),)
    request, _, _ = engine_work.colorize_request(
        _snapshot(mode=P.Mode.LINEART, region_hints=region, labels=labels)
    )
    wire = request.to_map()
    assert wire["region_hints"] == [{"region": 3, "rgb": [1, 2, 3]}] and wire["labels"]
    assert wire["mode"] == "lineart"
    reference = P.Image(2, 2, "rgba8", bytes(16))
    request, _, _ = engine_work.colorize_request(_snapshot(reference=reference))
    assert request.reference == reference


# -- the engine work against a real engine (engine) ----------------------------------------------
@pytest.mark.engine
def test_engine_work_colorizes_and_suggests_per_blob(engine):
    snap = _snapshot()
    with Client(engine.endpoint, timeout=120, retries=0) as client:
        out = engine_work.colorize(client, snap)
        assert (out.rect, len(out.rgba8)) == (snap.source.rect, 64 * 48 * 4)
        assert out.points and len(out.blobs) == 1 and out.opaque_source
        r, g, b, a = out.rgba8[4 * (12 * 64 + 20) : 4 * (12 * 64 + 20) + 4]
        assert a == 255 and r > g and r > b, (r, g, b)  # reddish under the red hint
        places, _ = swatches.blob_places(out.blobs)
        rows = engine_work.swatches(client, snap.source, snap.hints, places, 3)
        assert [row.title for row in rows] == ["Hint 1"]
        assert 1 <= len(rows[0].swatches) <= 3


@pytest.mark.engine
def test_engine_work_sends_the_reference_and_reads_its_match(engine):
    # A colour reference the engine can use: the result carries how well it matched.
    reference = P.Image(2, 2, "rgba8", bytes([200, 40, 40, 255, 40, 200, 40, 255] * 2))
    with Client(engine.endpoint, timeout=120, retries=0) as client:
        out = engine_work.colorize(client, _snapshot(reference=reference))
        assert out.reference_confidence is not None and 0 <= out.reference_confidence <= 1
        # One without colours gets a clear error, not a crash or a silent automatic result.
        gray = P.Image(2, 2, "rgba8", bytes([90, 90, 90, 255] * 4))
        with pytest.raises(EngineReplyError) as caught:
            engine_work.colorize(client, _snapshot(reference=gray))
    assert caught.value.code == "bad_image" and "gray" in str(caught.value)


# -- inside real Krita (krita) ------------------------------------------------------------------
def _untrained_lineart_weights(folder: Path) -> bool:
    """A line-art model file with random weights, so the engine serves `regions` and line-art
    colorizing (what the plug-in is tested on is the plumbing, not the model's quality)."""
    try:
        import torch

        from chromahint.models import lineart_net
    except ImportError:
        return False
    torch.manual_seed(0)
    nets = lineart_net.LineartNets(lineart_net.DEFAULT_CONFIG)
    lineart_net.save(nets, folder / "lineart_net.safetensors")
    # The shipped photo model beside it, so a reference is followed for real.
    shipped = Path(__file__).resolve().parents[1] / "weights" / "photo_net_v2.safetensors"
    if shipped.is_file():
        shutil.copy(shipped, folder / shipped.name)
    return True


REFERENCE_PICTURES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")


def _reference_pictures(folder: Path) -> Path:
    """A folder of colour photos from scikit-image (JPEG and PNG) and one broken file, for
    "Recommend from folder…"; the scenario finds it in CHROMAHINT_REFERENCE_FOLDER."""
    from PIL import Image as PILImage
    from skimage import data

    for i, name in enumerate(REFERENCE_PICTURES):
        img = PILImage.fromarray(getattr(data, name)()).convert("RGB")
        img.thumbnail((320, 320))
        img.save(folder / f"{name}.{'jpg' if i % 2 else 'png'}")
    (folder / "broken.jpg").write_bytes(b"not a picture")
    os.environ["CHROMAHINT_REFERENCE_FOLDER"] = str(folder)
    return folder


@pytest.fixture(scope="module")
def scenario_engine(tmp_path_factory, request):
    """A real engine serving photo and, when this build has the module, line art (untrained
    weights); else the session's engine. Yields (endpoint, serves line art)."""
    folder = tmp_path_factory.mktemp("weights")
    pictures = _reference_pictures(tmp_path_factory.mktemp("pictures"))
    if not _untrained_lineart_weights(folder):
        yield request.getfixturevalue("engine").endpoint, False
        return
    saved = os.environ.get("CHROMAHINT_WEIGHTS")
    os.environ["CHROMAHINT_WEIGHTS"] = str(folder)
    try:
        engine = launch_engine(
            tmp_path_factory.mktemp("lineart-engine"), "--reference-root", str(pictures)
        )
    finally:
        if saved is None:
            os.environ.pop("CHROMAHINT_WEIGHTS")
        else:
            os.environ["CHROMAHINT_WEIGHTS"] = saved
    yield engine.endpoint, True
    engine.stop()


def _report(name: str, run: KritaRun) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"krita_{name}_results.json").write_text(json.dumps(run.results, indent=1))
    failed = run.failed()
    summary = {k: v.get("detail") for k, v in failed.items()}
    print(f"krita {name}: {len(run.checks)} checks, {len(failed)} failed, {run.seconds:.1f} s")
    assert run.checks, "the scenario recorded no checks"
    assert not failed, f"checks failed inside Krita: {json.dumps(summary, indent=1, default=str)}"


@pytest.mark.krita
@needs_krita
def test_docker_in_real_krita(scenario_engine, tmp_path):
    """Hints -> Colorized in 8/16-bit, float and grey documents, live mode, swatches per
    hint, undo, selection, reference message, line-art regions, unusable settings, and a
    screenshot of the docker."""
    run = run_scenario(
        SCENARIOS,
        tmp_path,
        scenario_engine[0],
        timeout=240,
        env={"CHROMAHINT_SCENARIO": "main"},
    )
    _report("main", run)
    checks = run.checks
    for name in (
        "docker_loaded", "plugin_package", "u8.chroma_a", "u8.chroma_b", "u8.lightness_a",
        "u16.chroma_a", "u16.lightness_b", "live.chroma_c", "live.image_sent_by_id",
        "u8.swatch_rows_per_hint",
        "u8.swatch_sets_foreground", "live.swatch_row_per_new_hint", "u8.undo_removes_result",
        "u16.undo_removes_result", "f32.chroma_b", "gray.converted_to_rgb",
        "ref.used_or_explained", "recommend.ranked", "recommend.thumbnails",
        "recommend.skipped_counted", "recommend.chosen", "recommend.colorized",
        "recommend.forbidden_explained", "settings.error_shown", "settings.nothing_runs",
        "settings.recovered",
    ) + (("regions.overlay", "regions.colour_applied", "regions.three_for_two_boxes",
          "regions.overlay_full_size", "regions.filled_exactly",
          "lineart.colorize_mask_key_stroke") if scenario_engine[1] else
         ("regions.unsupported_message",)):  # fmt: skip
        assert checks.get(name, {}).get("ok"), f"{name} missing or failed: {checks.get(name)}"
    assert (ARTIFACTS / "krita_docker.png").stat().st_size > 1000


@pytest.mark.krita
@needs_krita
def test_engine_starts_on_first_use_and_cancel_drops_the_reply(tmp_path):
    """Nothing listens at the configured endpoint: Colorize starts the engine with the
    configured command, Krita's GUI stays responsive, and Cancel frees the docker at once."""
    endpoint = free_endpoint()
    command = f"{sys.executable} -m chromahint serve"
    try:
        run = run_scenario(
            SCENARIOS,
            tmp_path,
            endpoint,
            timeout=240,
            env={"CHROMAHINT_SCENARIO": "autostart"},
            engine_command=command,
        )
    finally:
        _stop_engine_at(endpoint)
    _report("autostart", run)
    for name in (
        "engine_started_and_colorized",
        "cancel.progress_shown",
        "cancel.stale_reply_dropped",
    ):
        assert run.checks.get(name, {}).get("ok"), (name, run.checks.get(name))


@pytest.mark.krita
@needs_krita
def test_engine_hanging_or_dying_mid_request_keeps_every_layer(tmp_path):
    """SIGSTOP, then SIGKILL, of the engine while the docker waits on it: an error message
    within the timeout, the layers exactly as they were, and a responsive GUI."""
    engine = launch_engine(tmp_path)
    try:
        run = run_scenario(
            SCENARIOS,
            tmp_path,
            engine.endpoint,
            timeout=200,
            env={"CHROMAHINT_SCENARIO": "faults", "CHROMAHINT_ENGINE_PID": str(engine.proc.pid)},
        )
    finally:
        engine.stop()
    _report("faults", run)
    for name in ("hung", "killed"):
        for check in ("error_shown", "within_timeout", "layers_unchanged", "gui_responsive"):
            assert run.checks.get(f"{name}.{check}", {}).get("ok"), (name, check)
    assert run.checks.get("resumed.colorized", {}).get("ok")


def _stop_engine_at(endpoint: str) -> None:
    """The engine the plug-in started outlives Krita (by design); stop it here."""
    info = is_running(endpoint)
    if info is None or not info.pid:
        return
    pid = info.pid
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and is_running(endpoint):
        time.sleep(0.2)
