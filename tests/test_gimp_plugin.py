"""The GIMP 3 plug-in, tested inside real GIMP 3.0 (Debian trixie chroot) against a real engine.

Each GIMP start costs seconds, so one batch run builds several images and runs many steps
(tests/gimp_batch.py); the tests below check its report and pixel dumps with numpy. The
plug-in is installed the way users get it: `chromahint install --gimp --gimp-profile DIR`.

Fast tests without GIMP (`unit`) cover the plug-in's pure modules, its layout and its import
discipline; one (`engine`) runs its request path against a real engine.
"""

from __future__ import annotations

import ast
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import free_endpoint, launch_engine
from gimp_harness import (
    GimpChroot,
    chroot_path,
    gui_unusable_reason,
    install_plugin,
    unusable_reason,
)
from import_rules import imports

from chromahint_client import Client, hints, images, regions
from chromahint_client import protocol as P
from chromahint_client.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "plugin_gimp" / "chromahint-gimp"
ENTRY = PLUGIN_DIR / "chromahint-gimp.py"
PACKAGE = PLUGIN_DIR / "chromahint_gimp"
# The plug-in's folder goes first on sys.path, as its entry file does inside GIMP (the entry
# file's hyphen keeps it from ever being imported, so nothing is shadowed).
sys.path.insert(0, str(PLUGIN_DIR))

from chromahint_gimp import (  # noqa: E402
    engine_job,
    names,
    pixel_formats,
    region_overlay,
    swatch_palette,
)
from chromahint_gimp.errors import PluginError  # noqa: E402

# -- colour science for the checks (independent of the engine's own code) ------------------
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1], shape (..., 3) -> CIELAB (D65)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ RGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def gray_for_lightness(L: float) -> float:
    """The sRGB gray value in [0, 1] whose CIELAB lightness is L."""
    fy = (L + 16) / 116
    y = fy**3 if fy > 6 / 29 else 3 * (6 / 29) ** 2 * (fy - 4 / 29)
    return 12.92 * y if y <= 0.0031308 else 1.055 * y ** (1 / 2.4) - 0.055


# Hint colours, and flat gray bands of exactly their lightness under them: a result that
# keeps the source's lightness and honours a hint's chroma then matches the hint in full.
HINT_A = (205, 70, 60)
HINT_B = (60, 110, 205)
L_A = float(srgb_to_lab(np.array(HINT_A) / 255.0)[0])
L_B = float(srgb_to_lab(np.array(HINT_B) / 255.0)[0])
DELTA_E_MAX = 10.0


def bands(w: int, h: int, split: int, ramp_from: int | None = None) -> np.ndarray:
    """Gray values in [0, 1]: band A left of `split`, band B right of it, and optionally a
    full-range horizontal ramp from row `ramp_from` down (lightness checks over all grays)."""
    g = np.empty((h, w))
    g[:, :split] = gray_for_lightness(L_A)
    g[:, split:] = gray_for_lightness(L_B)
    if ramp_from is not None:
        g[ramp_from:, :] = np.linspace(0, 1, w)[None, :]
    return g


def hint_layer(w: int, h: int, blobs: list[tuple[int, int, int, tuple[int, int, int]]]):
    """RGBA8 hint layer with anti-aliased discs (x, y, radius, rgb): alpha falls off at the rim."""
    out = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for cx, cy, r, rgb in blobs:
        cover = np.clip(r + 0.5 - np.hypot(xx - cx, yy - cy), 0, 1)
        a = np.round(cover * 255).astype(np.uint8)
        m = a > out[..., 3]
        out[m, :3] = rgb
        out[m, 3] = a[m]
    return out


def to8(g: np.ndarray, channels: int = 3) -> bytes:
    v = np.round(np.clip(g, 0, 1) * 255).astype(np.uint8)
    return np.repeat(v[..., None], channels, -1).tobytes()


def png(w: int, h: int) -> bytes:
    """A small colour PNG file (a reference picture)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def layer_spec(name, kind, w, h, babl, file, offsets=(0, 0)) -> dict:
    return {
        "name": name,
        "type": kind,
        "width": w,
        "height": h,
        "babl": babl,
        "file": file,
        "offsets": list(offsets),
    }


def lab_of_dump(work: Path, dump: dict) -> np.ndarray:
    """CIELAB of a dumped layer (babl "R'G'B'A u8", "Y' u16" or "R'G'B' float")."""
    raw = (work / dump["file"]).read_bytes()
    h, w = dump["height"], dump["width"]
    babl = dump["babl"]
    if babl == "R'G'B'A u8":
        rgb = np.frombuffer(raw, np.uint8).reshape(h, w, 4)[..., :3] / 255.0
    elif babl == "R'G'B' u8":
        rgb = np.frombuffer(raw, np.uint8).reshape(h, w, 3) / 255.0
    elif babl == "Y' u16":
        g = np.frombuffer(raw, "<u2").reshape(h, w) / 65535.0
        rgb = np.repeat(g[..., None], 3, -1)
    elif babl == "R'G'B' float":
        rgb = np.clip(np.frombuffer(raw, "<f4").reshape(h, w, 3).astype(np.float64), 0, 1)
    else:
        raise ValueError(babl)
    return srgb_to_lab(rgb)


def patch(lab: np.ndarray, x: int, y: int, r: int = 2) -> np.ndarray:
    return lab[y - r : y + r + 1, x - r : x + r + 1].reshape(-1, 3).mean(0)


def delta_e(lab: np.ndarray, rgb: tuple[int, int, int]) -> float:
    return float(np.linalg.norm(lab - srgb_to_lab(np.array(rgb) / 255.0)))


def assert_lightness_kept(result: np.ndarray, source: np.ndarray) -> None:
    """The result's L equals the source's, up to 8-bit rounding of the result."""
    dl = np.abs(result[..., 0] - source[..., 0])
    assert float(dl.mean()) < 0.5, f"mean |ΔL| {dl.mean():.2f}"
    assert float(np.percentile(dl, 99.5)) < 1.5, f"99.5th percentile |ΔL| {np.percentile(dl, 99.5)}"


def engine_info(endpoint: str) -> P.InfoReply:
    with Client(endpoint, timeout=10) as c:
        return c.info()


# -- fast tests: no GIMP -------------------------------------------------------------------
ALLOWED_GI = {"Gimp", "GimpUi", "Gegl", "Babl", "GLib", "GObject", "Gio"}
# Modules that import gi run only inside GIMP; the pure ones are imported by these tests.
GIMP_SIDE = {"chromahint-gimp.py", "runner.py", "dialog.py", "layers.py", "procedures.py"}
PURE = {
    "__init__.py",
    "names.py",
    "errors.py",
    "pixel_formats.py",
    "swatch_palette.py",
    "region_overlay.py",
    "engine_job.py",
}
# Importable without pyzmq/msgpack (registration must work without them).
NO_CLIENT = {"chromahint-gimp.py", "runner.py", "names.py", "errors.py", "pixel_formats.py"}


def plugin_files() -> list[Path]:
    return [ENTRY, *sorted(PACKAGE.glob("*.py"))]


def _catches_import_error(node: ast.AST) -> bool:
    return isinstance(node, ast.Try) and any(
        isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
    )


def imported_modules(path: Path, guarded: bool = True) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in a file; relative imports of the package become
    chromahint_gimp.<module>. `guarded=False` leaves out imports inside a try block that
    catches ImportError."""
    out = []
    for level, module, names_ in imports(path, None if guarded else _catches_import_error):
        if level and module:
            out.append((f"chromahint_gimp.{module}", names_))
        elif level:
            out += [(f"chromahint_gimp.{n}", []) for n in names_]
        else:
            out.append((module, names_))
            if module == "chromahint_gimp":
                out += [(f"chromahint_gimp.{n}", []) for n in names_]
    return out


def sibling(module: str) -> str | None:
    """The file name of a chromahint_gimp module, or None for anything else."""
    parts = module.split(".")
    return f"{parts[1]}.py" if parts[0] == "chromahint_gimp" and len(parts) > 1 else None


@pytest.mark.unit
def test_plugin_layout_gi_only_in_the_gimp_side_modules():
    files = {p.name for p in plugin_files()}
    # Every module is classified: a new one must say which side it is on.
    assert files == GIMP_SIDE | PURE, files ^ (GIMP_SIDE | PURE)
    assert not (PACKAGE / "settings.py").exists()  # the shared chromahint_client.settings
    own = {"chromahint_client", "chromahint_gimp", "__future__"}
    for path in plugin_files():
        for module, imported in imported_modules(path):
            top = module.split(".")[0]
            if top == "gi":
                assert path.name in GIMP_SIDE, f"{path.name}: pure modules must not use gi"
                if module == "gi.repository":
                    assert set(imported) <= ALLOWED_GI, f"{path.name}: gi.repository {imported}"
                continue
            assert top in own or top in sys.stdlib_module_names, f"{path.name} imports {module}"
            if path.name in PURE and sibling(module):
                assert sibling(module) in PURE, f"{path.name} (pure) imports {module}"


@pytest.mark.unit
def test_registration_works_without_the_client():
    """Registration imports nothing that needs pyzmq/msgpack, except under a guard that
    reports the ImportError when a procedure runs."""
    for path in plugin_files():
        if path.name not in NO_CLIENT:
            continue
        for module, _ in imported_modules(path, guarded=False):
            assert module.split(".")[0] != "chromahint_client", f"{path.name} imports {module}"
            if sibling(module):
                assert sibling(module) in NO_CLIENT, f"{path.name} imports {module} unguarded"
    guarded = {sibling(m) for m, _ in imported_modules(PACKAGE / "runner.py")} - {None}
    assert {"procedures.py", "dialog.py"} <= guarded


@pytest.mark.unit
def test_plugin_speaks_only_through_protocol_types():
    """No raw request maps (Client.request is for tests) and no matching of error codes by
    their strings: EngineReplyError and session.describe say what an error means."""
    for path in plugin_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr != "request", f"{path.name}:{node.lineno} raw request"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value != "unsupported", f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not keys & {"op", "image", "points"}, f"{path.name}:{node.lineno} {keys}"


@pytest.mark.unit
def test_plugin_file_is_executable_and_runs_with_python3():
    assert ENTRY.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(ENTRY, os.X_OK)


def babl_bytes_per_pixel(babl: str) -> int:
    components, kind = babl.split(" ")
    channels = len(components.replace("'", ""))
    return channels * {"u8": 1, "u16": 2, "float": 4}[kind]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("precision", "color", "alpha", "babl", "protocol"),
    [
        ("u8-non-linear", False, False, "Y' u8", "gray8"),
        ("u8-linear", True, False, "R'G'B' u8", "rgb8"),
        ("u16-perceptual", False, False, "Y' u16", "gray16"),
        ("u16-non-linear", True, False, "R'G'B' u16", "rgb16"),
        ("u32-linear", True, True, "R'G'B'A u16", "rgba16"),
        ("u8-non-linear", False, True, "R'G'B'A u8", "rgba8"),
        ("half-linear", False, False, "R'G'B'A float", "rgbaf32"),
        ("GIMP_PRECISION_FLOAT_LINEAR", True, False, "R'G'B'A float", "rgbaf32"),
        ("double-non-linear", True, True, "R'G'B'A float", "rgbaf32"),
    ],
)
def test_source_formats_match_the_protocol(precision, color, alpha, babl, protocol):
    fmt = pixel_formats.source_format(precision, color, alpha)
    assert (fmt.babl, fmt.protocol) == (babl, protocol)
    size = P.BYTES_PER_PIXEL[protocol]
    assert babl_bytes_per_pixel(fmt.babl) == size  # what Babl hands out fills the image
    image = images.layer_image(bytes(3 * 2 * size), 3, 2, fmt.protocol)
    assert (image.format, image.width, image.height, len(image.data)) == (protocol, 3, 2, 6 * size)


@pytest.mark.unit
def test_layer_image_rejects_a_short_read():
    fmt = pixel_formats.source_format("u8", True, False)
    with pytest.raises(ValueError):
        images.layer_image(b"\0" * 5, 3, 2, fmt.protocol)


@pytest.mark.unit
def test_reply_pixels_must_be_the_layer_asked_about():
    image = P.Image(4, 3, "rgba8", bytes(48))
    assert pixel_formats.reply_pixels(image, "rgba8", (4, 3), "layer") == bytes(48)
    with pytest.raises(ValueError, match="3x4 layer"):
        pixel_formats.reply_pixels(image, "rgba8", (3, 4), "layer")
    with pytest.raises(ValueError, match="not gray16"):
        pixel_formats.reply_pixels(image, "gray16", (4, 3), "region labels")


@pytest.mark.unit
def test_region_overlay_tints_and_numbers_regions_in_priority_order():
    w, h = 120, 80
    labels = np.zeros((h, w), "<u2")
    labels[:, :40] = 7  # region 7: left third
    labels[:, 41:80] = 3  # region 3: middle (column 40 is a line: id 0)
    labels[:, 80:] = 9  # region 9: right
    overlay = region_overlay.render(labels.tobytes(), w, h, order=[3, 9, 7], count=2)
    rgba = np.frombuffer(overlay.rgba, np.uint8).reshape(h, w, 4)
    assert [(r.rank, r.id) for r in overlay.regions] == [(1, 3), (2, 9)]
    assert rgba[:, :40, 3].max() == 0  # region 7 is third: not shown with count=2
    assert rgba[:, 40, 3].max() == 0  # lines stay clear
    # The shared palette: the same tint for a rank as the Krita plug-in's.
    assert tuple(rgba[2, 45]) == (*regions.color_for(1), region_overlay.TINT_ALPHA)
    assert tuple(rgba[2, 118]) == (*regions.color_for(2), region_overlay.TINT_ALPHA)
    for region in overlay.regions:
        x, y = int(region.x), int(region.y)
        assert labels[y, x] == region.id  # the number sits on its region
        box = rgba[y - 6 : y + 7, x - 6 : x + 7]
        assert (box == 255).all(-1).any(), "a white digit is drawn at the anchor"


@pytest.mark.unit
def test_region_overlay_numbers_where_the_shared_region_map_says():
    w, h = 90, 70
    labels = np.zeros((h, w), "<u2")
    labels[5:60, 5:40] = 2
    labels[10:65, 50:85] = 5
    shared = regions.region_map(labels.tobytes(), w, h, [5, 2], 2)
    overlay = region_overlay.render(labels.tobytes(), w, h, [5, 2], 2)
    assert overlay.regions == shared.regions
    assert names.MAX_REGIONS == regions.MAX_SHOWN  # registration's bound is the shared one


@pytest.mark.unit
def test_region_overlay_anchor_lies_inside_a_concave_region():
    w, h = 60, 60
    labels = np.zeros((h, w), "<u2")
    labels[:10, :] = 1  # a "U" turned over: the centroid falls outside it
    labels[:, :10] = 1
    labels[:, 50:] = 1
    overlay = region_overlay.render(labels.tobytes(), w, h, [1], 5)
    (region,) = overlay.regions
    assert labels[int(region.y), int(region.x)] == 1


@pytest.mark.unit
def test_region_overlay_rejects_labels_of_the_wrong_size():
    with pytest.raises(ValueError):
        region_overlay.render(b"\0\0" * 10, 4, 4, [1], 3)


@pytest.mark.unit
def test_swatch_places_and_entries():
    where = swatch_palette.places([(5.0, 5.0), (50.0, 5.0)], (200.0, -3.0), 100, 80)
    assert [p.label for p in where] == ["Hint 1", "Hint 2", "Selection"]
    assert (where[2].x, where[2].y) == (99.0, 0.0)  # clamped onto the layer
    row = [P.Swatch((255, 0, 0), 0.75), P.Swatch((0, 0, 255), 0.25)]
    entries = swatch_palette.entries(where, [row] * 3)
    assert [e.name for e in entries[:2]] == ["Hint 1 · 75%", "Hint 1 · 25%"]
    assert entries[0].hex == "#ff0000" and len(entries) == 6
    with pytest.raises(ValueError):
        swatch_palette.entries(where, [row] * 2)


@pytest.mark.unit
def test_swatch_rows_follow_the_painted_blobs_in_reading_order():
    # Painted in any order: bottom-left, top-right, middle. One row per blob, top to bottom.
    w, h = 120, 90
    layer = hint_layer(w, h, [(20, 70, 6, HINT_A), (100, 12, 6, HINT_B), (60, 40, 6, (0, 200, 0))])
    found = hints.extract(layer.tobytes(), w, h)
    where = swatch_palette.places([(b.x, b.y) for b in found.blobs], None, w, h)
    assert [p.label for p in where] == ["Hint 1", "Hint 2", "Hint 3"]
    assert [round(p.y) for p in where] == [12, 40, 70]
    assert [b.rgb for b in found.blobs] == [HINT_B, (0, 200, 0), HINT_A]


@pytest.mark.unit
def test_plugin_settings_use_the_shared_loader(tmp_path):
    s = engine_job.load_settings(str(tmp_path))  # no file: the defaults
    assert (s.endpoint, s.engine_command) == ("tcp://127.0.0.1:5557", "chromahint serve")
    assert s.path == str(tmp_path / "chromahint.json")
    (tmp_path / "chromahint.json").write_text(
        '{"endpoint": "tcp://127.0.0.1:1", "engine_command": "x serve", "timeout": 2}'
    )
    s = engine_job.load_settings(str(tmp_path))
    assert (s.endpoint, s.engine_command, s.timeout) == ("tcp://127.0.0.1:1", "x serve", 2.0)
    # One failure rule: a broken file is an error naming the file (and the field).
    (tmp_path / "chromahint.json").write_text('{"timeout": "soon"}')
    with pytest.raises(PluginError, match="'timeout'") as err:
        engine_job.load_settings(str(tmp_path))
    assert str(tmp_path / "chromahint.json") in str(err.value)
    (tmp_path / "chromahint.json").write_text("{not json")
    with pytest.raises(PluginError, match="chromahint.json"):
        engine_job.load_settings(str(tmp_path))


@pytest.mark.unit
def test_background_request_pulses_and_returns_or_raises_in_the_caller():
    pulses: list[tuple[str | None, float | None]] = []

    def work(report, fraction):
        report("busy")
        time.sleep(0.2)
        fraction(0.5)  # the engine's progress: the bar then shows it instead of pulsing
        time.sleep(0.2)
        return 42

    def pulse(text, done):
        pulses.append((text, done))

    assert engine_job.run_in_background(work, pulse, interval=0.05) == 42
    assert [t for t, _ in pulses].count("busy") == 1 and len(pulses) >= 4
    dones = [d for _, d in pulses]
    assert dones[0] is None and dones[-1] == 0.5

    def fail(report, fraction):
        raise PluginError("nope")

    with pytest.raises(PluginError, match="nope"):
        engine_job.run_in_background(fail, pulse, interval=0.01)


@pytest.mark.engine
def test_engine_requests_against_a_real_engine(engine):
    """The plug-in's request path (engine_job.ask): typed requests in, typed replies out,
    and failures in words from chromahint_client.session."""
    cfg = Settings(endpoint=engine.endpoint, engine_command="false")
    image = P.Image(8, 8, "gray8", bytes(64))
    spot = P.Point(2, 3, (200, 40, 40), 1.0)
    reports: list[str] = []
    reply = engine_job.ask(
        cfg,
        lambda c: c.colorize(P.ColorizeRequest(image, (spot,))),
        "colorize",
        reports.append,
    )
    assert isinstance(reply, P.ColorizeReply) and reply.layer.format == "rgba8"
    assert (reply.layer.width, reply.layer.height) == (8, 8)
    assert reports == ["Chromahint: waiting for the engine…"]  # running: nothing started
    swatches = engine_job.ask(
        cfg,
        lambda c: c.swatches(P.SwatchesRequest(image, (P.Spot(2, 3),), k=2, hints=(spot,))),
        "suggest colours",
        reports.append,
    )
    assert len(swatches.swatches) == 1 and 1 <= len(swatches.swatches[0]) <= 2
    # The engine answers `unsupported` (no swatches for line art): described, not matched.
    lineart = P.SwatchesRequest(image, (P.Spot(2, 3),), mode=P.Mode.LINEART)
    with pytest.raises(PluginError) as err:
        engine_job.ask(cfg, lambda c: c.swatches(lineart), "suggest colours", reports.append)
    assert "cannot suggest colours" in str(err.value) and "line art" in str(err.value)
    dead = Settings(endpoint=free_endpoint(), engine_command="false", path="/x.json")
    with pytest.raises(PluginError) as err:
        engine_job.ask(dead, lambda c: c.info(), "colorize", reports.append)
    text = str(err.value)
    assert "not available" in text and "exited with code 1" in text and "/x.json" in text
    assert any("Starting" in r and "false" in r for r in reports)  # it tried the command


# -- inside GIMP ---------------------------------------------------------------------------
def cannot_run_gimp(reason: str) -> None:
    if os.environ.get("CHROMAHINT_REQUIRE_GIMP"):
        pytest.fail(f"CHROMAHINT_REQUIRE_GIMP is set but GIMP cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def gimp() -> GimpChroot:
    root = chroot_path()
    reason = unusable_reason(root)
    if reason is None:
        chroot = GimpChroot(root)
        version = chroot.version()
        if "3.0" in version:
            return chroot
        reason = f"gimp-console-3.0 --version in {root} printed {version!r}"
    cannot_run_gimp(reason)


@pytest.fixture(scope="module")
def gimp_gui(gimp) -> GimpChroot:
    reason = gui_unusable_reason(gimp.root)
    if reason is not None:
        cannot_run_gimp(reason)
    return gimp


def prepare(gimp: GimpChroot, work: Path, endpoint: str, engine_command: str | None = None):
    (work / "profile").mkdir(parents=True)
    wrapper = gimp.python_wrapper(work / "chroot-python")
    install_plugin(work / "profile", endpoint, wrapper, work / "state", engine_command)
    # The installer put the plug-in where GIMP looks, the way GIMP needs it.
    folder = work / "profile" / "plug-ins" / "chromahint-gimp"
    main = folder / "chromahint-gimp.py"
    assert main.is_file() and os.access(main, os.X_OK)
    assert (folder / "chromahint_gimp" / "procedures.py").is_file()
    assert (folder / "chromahint_client" / "protocol" / "__init__.py").is_file()  # the client


# Image geometry used by the main run.
# Blob B sits higher than blob A: in reading order (the swatch rows' order) it comes first.
RGB_W, RGB_H, RGB_BLOBS = 320, 240, [(80, 100, 16, HINT_A), (240, 60, 16, HINT_B)]
G16_W, G16_H, G16_BLOBS = 256, 192, [(60, 80, 14, HINT_A), (190, 80, 14, HINT_B)]
# Offset case: a 200x160 photo at (60, 40) in a 320x240 image; a 200x40 hint layer at
# (90, 100) whose blobs land on photo pixels (50, 80) and (150, 80), plus one beyond the
# photo's right edge that must be dropped rather than sent.
OFF_PHOTO = (60, 40, 200, 160)
OFF_HINTS = (90, 100, 200, 40)
OFF_BLOBS_LOCAL = [(20, 20, 12, HINT_A), (120, 20, 12, HINT_B), (185, 20, 8, (0, 200, 0))]
FLT_W, FLT_H, FLT_BLOBS = 160, 120, [(40, 50, 10, HINT_A), (120, 50, 10, HINT_B)]
INK_W, INK_H, REGION_COUNT = 256, 192, 5


def line_drawing(w: int, h: int) -> np.ndarray:
    """Black outlines on white paper: a frame, a divider, a circle and a box."""
    g = np.ones((h, w))
    yy, xx = np.mgrid[0:h, 0:w]
    g[:3, :], g[-3:, :], g[:, :3], g[:, -3:] = 0, 0, 0, 0
    g[:, w // 2 - 1 : w // 2 + 2] = 0
    g[np.abs(np.hypot(xx - w // 4, yy - h // 2) - h // 4) < 1.5] = 0
    x0, x1, y0, y1 = 3 * w // 4 - 20, 3 * w // 4 + 20, h // 4, 3 * h // 4
    g[y0:y1, x0:x1] = 0
    g[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = 1
    return g


@pytest.fixture(scope="module")
def lineart_engine(engine, tmp_path_factory):
    """An engine with a line-art model. Unless the shipped engine has one, the real model
    code runs with seeded untrained weights: enough to exercise the regions protocol and
    the drawing end to end (what the regions mean is the model's business, not GIMP's).
    None when neither is possible: only the tests that need it skip then."""
    if engine_info(engine.endpoint).model(P.Mode.LINEART) is not None:
        yield engine
        return
    try:
        import torch

        from chromahint.models import lineart_net, registry
    except ImportError:
        yield None
        return
    folder = tmp_path_factory.mktemp("lineart-weights")
    file = next(spec.weights for spec in registry.SPECS if spec.mode == "lineart")
    torch.manual_seed(0)
    lineart_net.save(lineart_net.LineartNets(lineart_net.DEFAULT_CONFIG), folder / file)
    old = os.environ.get(registry.WEIGHTS_ENV)
    os.environ[registry.WEIGHTS_ENV] = str(folder)
    try:
        started = launch_engine(folder)
    finally:
        if old is None:
            del os.environ[registry.WEIGHTS_ENV]
        else:
            os.environ[registry.WEIGHTS_ENV] = old
    yield started
    started.stop()


def main_spec(work: Path, lineart_endpoint: str | None) -> dict:
    def write(name: str, data: bytes) -> str:
        (work / name).write_bytes(data)
        return name

    g = bands(RGB_W, RGB_H, RGB_W // 2, ramp_from=200)
    rgb8 = {
        "width": RGB_W,
        "height": RGB_H,
        "base": "RGB",
        "precision": "U8_NON_LINEAR",
        "layers": [
            layer_spec(
                "Paper",
                "RGB_IMAGE",
                RGB_W,
                RGB_H,
                "R'G'B' u8",
                write("paper.raw", b"\xff" * RGB_W * RGB_H * 3),
            ),
            layer_spec("Photo", "RGB_IMAGE", RGB_W, RGB_H, "R'G'B' u8", write("photo.raw", to8(g))),
            layer_spec(
                "Hints",
                "RGBA_IMAGE",
                RGB_W,
                RGB_H,
                "R'G'B'A u8",
                write("hints.raw", hint_layer(RGB_W, RGB_H, RGB_BLOBS).tobytes()),
            ),
        ],
    }
    g16 = bands(G16_W, G16_H, G16_W // 2, ramp_from=160)
    gray16 = {
        "width": G16_W,
        "height": G16_H,
        "base": "GRAY",
        "precision": "U16_NON_LINEAR",
        "layers": [
            layer_spec(
                "Scan",
                "GRAY_IMAGE",
                G16_W,
                G16_H,
                "Y' u16",
                write("scan16.raw", np.round(g16 * 65535).astype("<u2").tobytes()),
            )
        ],
    }
    # A grayscale image cannot hold colour hints: they live in another (RGB) image.
    gray16_hints = {
        "width": G16_W,
        "height": G16_H,
        "base": "RGB",
        "precision": "U8_NON_LINEAR",
        "layers": [
            layer_spec(
                "Hints",
                "RGBA_IMAGE",
                G16_W,
                G16_H,
                "R'G'B'A u8",
                write("hints16.raw", hint_layer(G16_W, G16_H, G16_BLOBS).tobytes()),
            )
        ],
    }
    px, py, pw, ph = OFF_PHOTO
    hx, hy, hw, hh = OFF_HINTS
    offset = {
        "width": 320,
        "height": 240,
        "base": "RGB",
        "precision": "U8_NON_LINEAR",
        "layers": [
            layer_spec(
                "Photo",
                "RGB_IMAGE",
                pw,
                ph,
                "R'G'B' u8",
                write("photo-off.raw", to8(bands(pw, ph, 100))),
                (px, py),
            ),
            layer_spec(
                "Hints",
                "RGBA_IMAGE",
                hw,
                hh,
                "R'G'B'A u8",
                write("hints-off.raw", hint_layer(hw, hh, OFF_BLOBS_LOCAL).tobytes()),
                (hx, hy),
            ),
        ],
    }
    gf = bands(FLT_W, FLT_H, FLT_W // 2, ramp_from=100)
    flt = {
        "width": FLT_W,
        "height": FLT_H,
        "base": "RGB",
        "precision": "FLOAT_LINEAR",
        "layers": [
            layer_spec(
                "Photo",
                "RGB_IMAGE",
                FLT_W,
                FLT_H,
                "R'G'B' float",
                write("photo-f.raw", np.repeat(gf[..., None], 3, -1).astype("<f4").tobytes()),
            ),
            layer_spec(
                "Hints",
                "RGBA_IMAGE",
                FLT_W,
                FLT_H,
                "R'G'B'A u8",
                write("hints-f.raw", hint_layer(FLT_W, FLT_H, FLT_BLOBS).tobytes()),
            ),
        ],
    }
    lineart = {
        "width": INK_W,
        "height": INK_H,
        "base": "RGB",
        "precision": "U8_NON_LINEAR",
        "layers": [
            layer_spec(
                "Ink",
                "RGB_IMAGE",
                INK_W,
                INK_H,
                "R'G'B' u8",
                write("ink.raw", to8(line_drawing(INK_W, INK_H))),
            ),
            layer_spec(
                "Hints",
                "RGBA_IMAGE",
                INK_W,
                INK_H,
                "R'G'B'A u8",
                write("hints-ink.raw", hint_layer(INK_W, INK_H, [(40, 40, 8, HINT_A)]).tobytes()),
            ),
        ],
    }
    colorize = "chromahint-colorize"
    suggest = "chromahint-suggest-colors"
    regions = "chromahint-guide-regions"
    lineart_steps = [
        {
            "id": "regions-lineart",
            "image": "lineart",
            "proc": regions,
            "drawables": ["Hints"],
            "props": {"count": REGION_COUNT},
            # The rest talk to the engine with a line-art model (settings edited in place).
            "settings": {"endpoint": lineart_endpoint},
            "dump_after": [["Chromahint regions", "R'G'B'A u8"]],
        },
        {
            "id": "regions-again",
            "image": "lineart",
            "proc": regions,
            "drawables": ["Ink"],
            "props": {"count": REGION_COUNT},
        },
        {
            "id": "lineart-colorize",
            "image": "lineart",
            "proc": colorize,
            "drawables": ["Hints"],
            "props": {"mode": "lineart"},
        },
    ]
    return {
        "images": {
            "rgb8": rgb8,
            "gray16": gray16,
            "gray16hints": gray16_hints,
            "offset": offset,
            "float": flt,
            "lineart": lineart,
        },
        "steps": [
            {
                # Only the hint layer selected: the source is the layer below it.
                "id": "rgb8",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Hints"],
                "dump_before": [["Photo", "R'G'B' u8"], ["Hints", "R'G'B'A u8"]],
                "dump_after": [
                    ["Photo", "R'G'B' u8"],
                    ["Hints", "R'G'B'A u8"],
                    ["Colorized", "R'G'B'A u8"],
                ],
            },
            {
                "id": "suggest",
                "image": "rgb8",
                "proc": suggest,
                "drawables": ["Photo"],
                "select": [60, 200, 40, 30],
                "props": {"count": 4},
                "palette": "Chromahint",
            },
            {
                "id": "suggest-again",
                "image": "rgb8",
                "proc": suggest,
                "drawables": ["Photo"],
                "props": {"count": 1},
                "palette": "Chromahint",
            },
            {
                "id": "regions",
                "image": "rgb8",
                "proc": regions,
                "drawables": ["Hints"],
            },
            {
                "id": "reference",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Hints"],
                "props": {"reference": {"layer": ["rgb8", "Paper"]}},
            },
            {
                "id": "reference-file",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Hints"],
                "props": {"reference-file": {"file": write("reference.png", png(8, 6))}},
            },
            {
                "id": "from-reference",
                "image": "rgb8",
                "proc": "chromahint-colorize-from-reference",
                "drawables": ["Photo"],
                "props": {
                    "reference-file": {"file": write("reference2.png", png(8, 6))},
                    "reference-mode": "palette",
                },
            },
            {
                "id": "from-reference-missing",
                "image": "rgb8",
                "proc": "chromahint-colorize-from-reference",
                "drawables": ["Photo"],
            },
            {
                "id": "lineart",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Hints"],
                "props": {"mode": "lineart"},
            },
            {
                "id": "opaque-hints",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Photo"],
                "props": {"hint-layer": {"layer": ["rgb8", "Paper"]}},
            },
            {
                "id": "two-selected",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Photo", "Paper"],
            },
            {
                "id": "palette",
                "image": "rgb8",
                "proc": colorize,
                "drawables": ["Hints"],
                "make_palette": {"name": "Test sunset", "colors": ["#d04030", "#3060c0"]},
                "props": {"use-palette": True, "palette": {"palette": "Test sunset"}},
            },
            {
                # The selected layer is the source; the hints come from another image.
                "id": "gray16",
                "image": "gray16",
                "proc": colorize,
                "drawables": ["Scan"],
                "props": {"hint-layer": {"layer": ["gray16hints", "Hints"]}},
                "dump_before": [["Scan", "Y' u16"]],
                "dump_after": [["Scan", "Y' u16"], ["Colorized", "R'G'B'A u8"]],
            },
            {
                "id": "offset",
                "image": "offset",
                "proc": colorize,
                "drawables": ["Hints"],
                "dump_before": [["Photo", "R'G'B' u8"]],
                "dump_after": [["Colorized", "R'G'B'A u8"]],
            },
            {
                "id": "float",
                "image": "float",
                "proc": colorize,
                "drawables": ["Hints"],
                "dump_before": [["Photo", "R'G'B' float"]],
                "dump_after": [["Colorized", "R'G'B'A u8"]],
            },
        ]
        + (lineart_steps if lineart_endpoint else []),
    }


@pytest.fixture(scope="module")
def main_run(gimp, engine, lineart_engine, tmp_path_factory):
    work = tmp_path_factory.mktemp("gimp-main")
    prepare(gimp, work, engine.endpoint)
    lineart_endpoint = lineart_engine.endpoint if lineart_engine is not None else None
    run, report = gimp.run_spec(work, main_spec(work, lineart_endpoint), timeout=240)
    assert report is not None, run.describe()
    assert report["setup_error"] is None, report["setup_error"]
    return work, run, report


def step(main_run, step_id: str) -> dict:
    _, run, report = main_run
    out = report["steps"][step_id]
    assert "error" not in out, f"{step_id}: {out['error']}\n{run.describe()}"
    return out


def ok(main_run, step_id: str) -> dict:
    out = step(main_run, step_id)
    assert out["status"] == "success", f"{step_id}: {out.get('message')}"
    return out


def failed(main_run, step_id: str) -> str:
    out = step(main_run, step_id)
    assert out["status"] == "execution-error", f"{step_id}: {out}"
    message = out["message"]
    assert message and "Traceback" not in message and 'File "' not in message
    return message


@pytest.mark.gimp
def test_gimp_batch_ran_cleanly(main_run):
    _, run, report = main_run
    assert run.returncode == 0 and not run.timed_out, run.describe()
    # GIMP says so when a plug-in leaves an undo group open on an image.
    assert "inconsistent state" not in run.stderr and "undo group" not in run.stderr
    assert "Traceback" not in run.stderr, run.describe()


@pytest.mark.gimp
def test_colorize_rgb8_adds_one_layer_above_the_source_and_honours_hints(main_run):
    work = main_run[0]
    out = ok(main_run, "rgb8")
    assert out["value"] == "Colorized"
    assert out["layers"] == ["Hints", "Colorized", "Photo", "Paper"]
    assert (out["base"], out["precision"]) == ("rgb", "u8-non-linear")
    for name in ("Photo", "Hints"):  # untouched
        before, after = out["before"][name], out["after"][name]
        assert (work / before["file"]).read_bytes() == (work / after["file"]).read_bytes(), name
    result = lab_of_dump(work, out["after"]["Colorized"])
    source = lab_of_dump(work, out["before"]["Photo"])
    assert_lightness_kept(result, source)
    for x, y, _, rgb in RGB_BLOBS:
        assert delta_e(patch(result, x, y), rgb) <= DELTA_E_MAX, (x, y, patch(result, x, y))


@pytest.mark.gimp
def test_colorize_gray16_converts_to_rgb_and_keeps_lightness(main_run):
    work = main_run[0]
    out = ok(main_run, "gray16")
    # The colour needs an RGB image: converted (in the same undo group), 16-bit kept.
    assert (out["base"], out["precision"]) == ("rgb", "u16-non-linear")
    assert out["layers"] == ["Colorized", "Scan"]
    before, after = out["before"]["Scan"], out["after"]["Scan"]
    assert (work / before["file"]).read_bytes() == (work / after["file"]).read_bytes()
    result = lab_of_dump(work, out["after"]["Colorized"])
    assert_lightness_kept(result, lab_of_dump(work, before))
    for x, y, _, rgb in G16_BLOBS:
        assert delta_e(patch(result, x, y), rgb) <= DELTA_E_MAX, (x, y, patch(result, x, y))


@pytest.mark.gimp
def test_colorize_maps_hints_on_offset_and_smaller_layers(main_run):
    work = main_run[0]
    out = ok(main_run, "offset")
    assert out["layers"] == ["Hints", "Colorized", "Photo"]
    colorized = out["after"]["Colorized"]
    px, py, pw, ph = OFF_PHOTO
    assert (colorized["offsets"], colorized["width"], colorized["height"]) == ([px, py], pw, ph)
    result = lab_of_dump(work, colorized)
    assert_lightness_kept(result, lab_of_dump(work, out["before"]["Photo"]))
    hx, hy, _, _ = OFF_HINTS
    for lx, ly, _, rgb in OFF_BLOBS_LOCAL[:2]:
        x, y = lx + hx - px, ly + hy - py  # hint-layer pixel -> photo pixel
        assert delta_e(patch(result, x, y), rgb) <= DELTA_E_MAX, (x, y, patch(result, x, y))


@pytest.mark.gimp
def test_colorize_float32_image(main_run):
    work = main_run[0]
    out = ok(main_run, "float")
    assert out["precision"] == "float-linear"
    result = lab_of_dump(work, out["after"]["Colorized"])
    assert_lightness_kept(result, lab_of_dump(work, out["before"]["Photo"]))
    for x, y, _, rgb in FLT_BLOBS:
        assert delta_e(patch(result, x, y), rgb) <= DELTA_E_MAX, (x, y, patch(result, x, y))


@pytest.mark.gimp
def test_suggest_colors_fills_the_chromahint_palette(main_run):
    first = ok(main_run, "suggest")
    assert first["value"] == "Chromahint"
    palette = first["palette"]
    places = [e["name"].split(" · ")[0] for e in palette["entries"]]
    # One row per hint blob, then the selection: up to 4 distinct swatches each (an engine
    # without a colour distribution may have fewer distinct ones to offer).
    assert sorted(set(places), key=places.index) == ["Hint 1", "Hint 2", "Selection"]
    assert places == sorted(places, key=["Hint 1", "Hint 2", "Selection"].index)
    assert all(1 <= places.count(p) <= 4 for p in set(places))
    assert palette["count"] == len(palette["entries"])
    # Each hint's own colour is among the suggestions at that hint (exactly, or within the
    # quantization of a learned model's colour bins): the places were mapped right.
    # The rows follow the blobs in reading order (top to bottom, then left to right).
    reading = sorted(RGB_BLOBS, key=lambda b: (b[1] - b[2], b[0] - b[2]))
    assert [rgb for *_, rgb in reading] == [HINT_B, HINT_A]  # not the painting order
    for i, (*_, hinted) in enumerate(reading, start=1):
        entries = zip(palette["entries"], places, strict=True)
        row = [e["rgb"] for e, p in entries if p == f"Hint {i}"]
        best = min(delta_e(srgb_to_lab(np.array(rgb) / 255), hinted) for rgb in row)
        assert best <= DELTA_E_MAX, (i, hinted, row)
    again = ok(main_run, "suggest-again")
    # Replaced, not appended to, and not duplicated as "Chromahint #1": one swatch each now.
    assert again["palette"]["count"] == 3 and not again["palette_duplicate"]


@pytest.mark.gimp
def test_guide_regions_without_a_lineart_model_says_so_cleanly(main_run, engine):
    info = engine_info(engine.endpoint)
    out = step(main_run, "regions")
    if "regions" in info.ops and info.model(P.Mode.LINEART) is not None:
        assert out["status"] == "success" and out["layers"][0] == "Chromahint regions"
        return
    message = failed(main_run, "regions")
    assert "cannot find the line-art regions" in message  # the engine's unsupported, described
    assert "lineart" in message or "line-art" in message or "unknown operation" in message
    assert out["layers"] == step(main_run, "suggest-again")["layers"]  # nothing added


@pytest.mark.gimp
def test_guide_regions_draws_the_engines_regions_numbered(main_run, lineart_engine):
    if lineart_engine is None:
        pytest.skip("no engine with a line-art model (and no torch to make one)")
    work = main_run[0]
    out = ok(main_run, "regions-lineart")
    assert out["value"] == "Chromahint regions"
    assert out["layers"] == ["Chromahint regions", "Hints", "Ink"]
    dumped = out["after"]["Chromahint regions"]
    assert (dumped["width"], dumped["height"], dumped["offsets"]) == (INK_W, INK_H, [0, 0])
    # The same request from here gives the labels GIMP got; the layer must be exactly
    # their rendering (tints for the first REGION_COUNT regions, numbers 1..N on them).
    image = P.Image(INK_W, INK_H, "rgb8", (work / "ink.raw").read_bytes())
    with Client(lineart_engine.endpoint, timeout=120) as c:
        reply = c.regions(P.RegionsRequest(image, max_regions=REGION_COUNT))
    labels, order = reply.labels.data, reply.order
    expected = region_overlay.render(labels, INK_W, INK_H, order, REGION_COUNT)
    assert len(expected.regions) == min(REGION_COUNT, len(order)) > 0
    assert (work / dumped["file"]).read_bytes() == expected.rgba
    again = ok(main_run, "regions-again")  # replaced, not stacked
    assert again["layers"] == ["Chromahint regions", "Hints", "Ink"]


@pytest.mark.gimp
def test_lineart_colorize_with_a_lineart_model(main_run, lineart_engine):
    if lineart_engine is None:
        pytest.skip("no engine with a line-art model (and no torch to make one)")
    out = ok(main_run, "lineart-colorize")
    assert out["layers"][:3] == ["Chromahint regions", "Hints", "Colorized"]


@pytest.mark.gimp
def test_reference_and_lineart_follow_what_the_engine_supports(main_run, engine):
    modes = {m.mode for m in engine_info(engine.endpoint).models}
    # A reference without colours (the white paper layer) gets the engine's clear error and
    # changes nothing; a colour picture file is followed: the result layer comes.
    message = failed(main_run, "reference")
    assert "reference" in message and "gray" in message, message
    assert step(main_run, "reference")["layers"] == step(main_run, "regions")["layers"]
    assert "Colorized" in ok(main_run, "reference-file")["layers"]
    # Its own menu entry: a reference is required there, with the mode to use it in.
    assert "Colorized" in ok(main_run, "from-reference")["layers"]
    assert "Choose a reference" in failed(main_run, "from-reference-missing")
    if "lineart" in modes:
        ok(main_run, "lineart")
    else:
        assert "lineart" in failed(main_run, "lineart")


@pytest.mark.gimp
def test_user_mistakes_get_clear_messages(main_run):
    assert "has no transparency" in failed(main_run, "opaque-hints")
    assert "2 layers are selected" in failed(main_run, "two-selected")


@pytest.mark.gimp
def test_global_palette_is_sent(main_run):
    out = ok(main_run, "palette")
    # Earlier steps may have added a regions overlay and a line-art result (when the engine
    # has a line-art model); the palette run's layer is the newest Colorized, under Hints.
    layers = [name for name in out["layers"] if name != "Chromahint regions"]
    assert layers[0] == "Hints" and layers[1].startswith("Colorized #")


@pytest.mark.gimp
def test_engine_not_running_and_timeout_give_clear_errors(gimp, engine, tmp_path):
    dead = free_endpoint()
    prepare(gimp, tmp_path, dead, engine_command="false")
    w, h = 64, 48
    (tmp_path / "photo.raw").write_bytes(to8(bands(w, h, w // 2)))
    (tmp_path / "hints.raw").write_bytes(hint_layer(w, h, [(16, 24, 6, HINT_A)]).tobytes())
    spec = {
        "images": {
            "small": {
                "width": w,
                "height": h,
                "base": "RGB",
                "precision": "U8_NON_LINEAR",
                "layers": [
                    layer_spec("Photo", "RGB_IMAGE", w, h, "R'G'B' u8", "photo.raw"),
                    layer_spec("Hints", "RGBA_IMAGE", w, h, "R'G'B'A u8", "hints.raw"),
                ],
            }
        },
        "steps": [
            {"id": "dead", "image": "small", "proc": "chromahint-colorize", "drawables": ["Hints"]},
            {
                "id": "timeout",
                "image": "small",
                "proc": "chromahint-colorize",
                "drawables": ["Hints"],
                "settings": {"endpoint": engine.endpoint, "timeout": 0.05},
                # Stopped meanwhile: a fast CPU can answer this small image within 0.05 s.
                "signals": [[0, engine.proc.pid, "SIGSTOP"]],
                "signals_after": [[engine.proc.pid, "SIGCONT"]],
            },
            {
                # The shared settings loader's one rule: a broken file is named, not ignored.
                "id": "bad-settings",
                "image": "small",
                "proc": "chromahint-colorize",
                "drawables": ["Hints"],
                "settings": {"timeout": "soon"},
            },
            {
                # vendor/ comes first on the plug-in's sys.path: a zmq there that cannot
                # load stands for a GIMP Python without pyzmq.
                "id": "no-zmq",
                "image": "small",
                "proc": "chromahint-colorize",
                "drawables": ["Hints"],
                "plugin_file": {
                    "path": "vendor/zmq/__init__.py",
                    "text": "raise ImportError('no pyzmq in this test')\n",
                },
            },
        ],
    }
    try:
        run, report = gimp.run_spec(tmp_path, spec, timeout=120)
    finally:
        os.kill(engine.proc.pid, signal.SIGCONT)  # the session's engine serves on, whatever
    assert report is not None and report["setup_error"] is None, run.describe()
    dead_step, timeout_step = report["steps"]["dead"], report["steps"]["timeout"]
    assert dead_step.get("status") == "execution-error", dead_step
    assert "not available" in dead_step["message"] and "exited with code 1" in dead_step["message"]
    assert dead in dead_step["message"] and "chromahint.json" in dead_step["message"]
    assert dead_step["layers"] == ["Hints", "Photo"]
    assert timeout_step.get("status") == "execution-error", timeout_step
    assert "is not responding" in timeout_step["message"]
    assert "'colorize' within 0.05 s" in timeout_step["message"]
    assert timeout_step["layers"] == ["Hints", "Photo"]
    no_zmq = report["steps"]["no-zmq"]
    assert no_zmq.get("status") == "execution-error", no_zmq
    assert "cannot talk to its engine from GIMP's Python" in no_zmq["message"]
    assert "no pyzmq in this test" in no_zmq["message"]
    bad = report["steps"]["bad-settings"]
    assert bad.get("status") == "execution-error", bad
    assert "'timeout'" in bad["message"] and "chromahint.json" in bad["message"]
    assert bad["layers"] == ["Hints", "Photo"]
    assert "Traceback" not in run.stderr, run.describe()


@pytest.mark.gimp
def test_engine_hanging_or_dying_mid_request_leaves_the_image_as_it_was(gimp, tmp_path):
    """A hung engine (SIGSTOP) and one killed (SIGKILL) while the plug-in waits: a clear
    error within the configured timeout, and every layer exactly as before: none lost,
    none half-written, none added. In between, the resumed engine colorizes as usual."""
    e = launch_engine(tmp_path)
    try:
        prepare(gimp, tmp_path, e.endpoint, engine_command="false")
        w, h = 96, 64
        (tmp_path / "photo.raw").write_bytes(to8(bands(w, h, w // 2)))
        (tmp_path / "hints.raw").write_bytes(hint_layer(w, h, [(24, 32, 6, HINT_A)]).tobytes())
        layers = [
            layer_spec("Photo", "RGB_IMAGE", w, h, "R'G'B' u8", "photo.raw"),
            layer_spec("Hints", "RGBA_IMAGE", w, h, "R'G'B'A u8", "hints.raw"),
        ]
        image = {"width": w, "height": h, "base": "RGB", "precision": "U8_NON_LINEAR"}
        dumps = [["Photo", "R'G'B' u8"], ["Hints", "R'G'B'A u8"]]
        pid = e.proc.pid

        def step(step_id: str, **extra) -> dict:
            return {
                "id": step_id,
                "image": "small",
                "proc": "chromahint-colorize",
                "drawables": ["Hints"],
                "dump_before": dumps,
                "dump_after": dumps,
                **extra,
            }

        spec = {
            "images": {"small": {**image, "layers": layers}},
            "steps": [
                step(
                    "hung",
                    settings={"endpoint": e.endpoint, "timeout": 3},
                    signals=[[0, pid, "SIGSTOP"]],
                    signals_after=[[pid, "SIGCONT"]],
                ),
                step("resumed"),
                # Stopped first so the request is surely in flight, then killed under it.
                step("killed", signals=[[0, pid, "SIGSTOP"], [3.5, pid, "SIGKILL"]]),
            ],
        }
        run, report = gimp.run_spec(tmp_path, spec, timeout=180)
    finally:
        e.stop()
    assert report is not None and report["setup_error"] is None, run.describe()
    hung, resumed, killed = (report["steps"][k] for k in ("hung", "resumed", "killed"))
    assert hung.get("status") == "execution-error", hung
    assert "is not responding" in hung["message"] and e.endpoint in hung["message"]
    # The status check's 2 s, then the request's 3 s, plus the plug-in's own start.
    assert hung["seconds"] < 2 + 3 + 4, hung["seconds"]
    assert hung["layers"] == ["Hints", "Photo"]
    assert resumed.get("status") == "success", resumed
    assert resumed["layers"][0] == "Hints" and resumed["layers"][1].startswith("Colorized")
    assert killed.get("status") == "execution-error", killed
    assert "not responding" in killed["message"] or "not available" in killed["message"]
    assert killed["layers"] == resumed["layers"]
    for out in (hung, resumed, killed):
        for name, _babl in dumps:
            before, after = out["before"][name], out["after"][name]
            assert (tmp_path / before["file"]).read_bytes() == (
                tmp_path / after["file"]
            ).read_bytes(), name
    assert "Traceback" not in run.stderr, run.describe()


def _pids_running(word: str) -> list[int]:
    """Processes whose command line holds `word` (the chroot shares this pid namespace)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if word.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _kill_plugin_after_watch(seconds: float, seen: dict) -> None:
    """What GIMP's Cancel does (gimp_plug_in_close: SIGKILL), once the plug-in's cancel
    watcher runs (its request is on the way) and `seconds` more have passed."""
    t0 = time.monotonic()
    while not _pids_running("chromahint_client.cancel_watch") and time.monotonic() < t0 + 90:
        time.sleep(0.02)
    seen["watcher_after_s"] = round(time.monotonic() - t0, 2)
    time.sleep(seconds)
    seen["killed"] = _pids_running("chromahint-gimp.py")
    for pid in seen["killed"]:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.gimp
def test_cancel_in_gimp_stops_the_engines_work_and_changes_nothing(gimp, tmp_path):
    """GIMP's Cancel closes the plug-in with SIGKILL mid-request (done here as GIMP does
    it): the plug-in's watcher sends `cancel`, the engine stops that work and serves on,
    and the image keeps exactly its layers."""
    e = launch_engine(tmp_path)
    try:
        prepare(gimp, tmp_path, e.endpoint, engine_command="false")
        w, h = 8000, 6000  # over 2 s of engine work on this CPU: the kill lands inside it
        (tmp_path / "scan.raw").write_bytes(to8(bands(w, h, w // 2), 1))
        spec = {
            "images": {
                "big": {
                    "width": w,
                    "height": h,
                    "base": "GRAY",
                    "precision": "U8_NON_LINEAR",
                    "layers": [layer_spec("Scan", "GRAY_IMAGE", w, h, "Y' u8", "scan.raw")],
                }
            },
            "steps": [
                {"id": "cancelled", "image": "big", "proc": "chromahint-colorize",
                 "drawables": ["Scan"]},
            ],
        }  # fmt: skip
        seen: dict = {}
        killer = threading.Thread(target=_kill_plugin_after_watch, args=(0.3, seen), daemon=True)
        killer.start()
        run, report = gimp.run_spec(tmp_path, spec, timeout=180)
        killer.join(5)
        assert seen.get("killed"), seen
        assert report is not None and report["setup_error"] is None, run.describe()
        out = report["steps"]["cancelled"]
        assert out.get("status") != "success" and out["layers"] == ["Scan"], (out, seen)
        e.wait_for_log(r"cancel \S+: stopping it")
    finally:
        e.stop()


@pytest.mark.gimp
def test_dialogs_and_a_single_undo_step_in_gimps_user_interface(gimp_gui, engine, tmp_path):
    """Real GIMP with its UI: the dialogs open and run, and one Undo (Ctrl+Z in the image
    window) takes back the whole colorize, grayscale-to-RGB conversion included; a second
    Undo finds nothing more, so the run left exactly one undo step."""
    prepare(gimp_gui, tmp_path, engine.endpoint)
    w, h = 128, 96
    blobs = [(32, 40, 10, HINT_A), (96, 40, 10, HINT_B)]
    (tmp_path / "scan.raw").write_bytes(to8(bands(w, h, w // 2, ramp_from=70), channels=1))
    (tmp_path / "photo.raw").write_bytes(to8(bands(w, h, w // 2)))
    (tmp_path / "hints.raw").write_bytes(hint_layer(w, h, blobs).tobytes())
    colorize, suggest = "chromahint-colorize", "chromahint-suggest-colors"

    def image(base: str, layers: list[dict]) -> dict:
        return {
            "width": w,
            "height": h,
            "base": base,
            "precision": "U8_NON_LINEAR",
            "layers": layers,
        }

    hints = layer_spec("Hints", "RGBA_IMAGE", w, h, "R'G'B'A u8", "hints.raw")
    spec = {
        "images": {
            "gray": image("GRAY", [layer_spec("Scan", "GRAY_IMAGE", w, h, "Y' u8", "scan.raw")]),
            "hints": image("RGB", [hints]),
            "photo": image(
                "RGB", [layer_spec("Photo", "RGB_IMAGE", w, h, "R'G'B' u8", "photo.raw"), hints]
            ),
        },
        "steps": [
            {"id": "show", "image": "gray", "display": True, "clear_undo": True},
            {
                "id": "colorize",
                "image": "gray",
                "proc": colorize,
                "interactive": True,
                "drawables": ["Scan"],
                "props": {"hint-layer": {"layer": ["hints", "Hints"]}},
                "dump_after": [["Colorized", "R'G'B'A u8"]],
            },
            {
                "id": "undo-1",
                "image": "gray",
                "wait_for": "undo-1.go",
                "dump_after": [["Scan", "Y' u8"]],
            },
            {"id": "undo-2", "image": "gray", "wait_for": "undo-2.go"},
            {
                "id": "suggest",
                "image": "photo",
                "proc": suggest,
                "interactive": True,
                "drawables": ["Hints"],
                "palette": "Chromahint",
            },
            {
                "id": "regions",
                "image": "photo",
                "proc": "chromahint-guide-regions",
                "interactive": True,
                "drawables": ["Hints"],
            },
        ],
    }
    with gimp_gui.gui(tmp_path, spec) as ui:
        ui.wait_file("colorize.dialog")
        ui.press(ui.wait_window("Colorize from Hints"), "Return")  # OK with the defaults
        colorized = ui.step("colorize")
        window = ui.wait_window("[Untitled]")
        ui.press(window, "ctrl+z")
        ui.wait_title(window, "Grayscale")  # the title follows the image: undo is done
        ui.go("undo-1.go")
        after_one = ui.step("undo-1")
        ui.press(window, "ctrl+z")
        time.sleep(1.5)  # an idle GIMP handles a key in milliseconds
        ui.go("undo-2.go")
        after_two = ui.step("undo-2")
        ui.wait_file("suggest.dialog")
        ui.press(ui.wait_window("Suggest Colors"), "Return")
        suggested = ui.step("suggest")
        ui.wait_file("regions.dialog")
        ui.press(ui.wait_window("Guide Regions"), "Return")
        regions = ui.step("regions")
        run = ui.finish()
    for out in (colorized, after_one, after_two, suggested, regions):
        assert "error" not in out, f"{out['error']}\n{run.describe()}"
    assert colorized["status"] == "success", colorized
    assert (colorized["layers"], colorized["base"]) == (["Colorized", "Scan"], "rgb")
    result = lab_of_dump(tmp_path, colorized["after"]["Colorized"])
    for x, y, _, rgb in blobs:  # the dialog ran with the hint layer the caller gave
        assert delta_e(patch(result, x, y), rgb) <= DELTA_E_MAX, (x, y, patch(result, x, y))
    assert (after_one["layers"], after_one["base"]) == (["Scan"], "gray")
    scan = (tmp_path / after_one["after"]["Scan"]["file"]).read_bytes()
    assert scan == (tmp_path / "scan.raw").read_bytes()
    assert (after_two["layers"], after_two["base"]) == (["Scan"], "gray")
    assert suggested["status"] == "success" and suggested["palette"]["count"] >= 3
    # Whatever this engine says about regions, the dialog ran and the answer is a status.
    assert regions["status"] in ("success", "execution-error"), regions
    assert "Traceback" not in run.stderr, run.describe()
