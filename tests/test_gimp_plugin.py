"""The GIMP 3 plug-in, tested inside real GIMP 3.0 (Debian trixie chroot) against a real engine.

Each GIMP start costs seconds, so one batch run builds several images and runs many steps
(tests/gimp_batch.py); the tests below check its report and pixel dumps with numpy. The
plug-in is installed the way users get it: `chromahint install --gimp --gimp-profile DIR`.

Fast tests without GIMP cover the plug-in's pure modules and its import discipline.
"""

from __future__ import annotations

import ast
import os
import sys
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

from chromahint_client import Client

# The plug-in's pure modules, through the installer package that ships them (putting the
# plug-in folder on sys.path would let its chromahint.py shadow the engine package).
from chromahint_installer.plugin_gimp.chromahint.chromahint_gimp import (
    engine_job,
    pixel_formats,
    region_overlay,
    settings,
    swatch_palette,
)

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "plugin_gimp" / "chromahint"

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


def engine_info(endpoint: str) -> dict:
    with Client(endpoint, timeout=10) as c:
        return c.info()


# -- fast tests: no GIMP -------------------------------------------------------------------
ALLOWED_GI = {"Gimp", "GimpUi", "Gegl", "Babl", "GLib", "GObject", "Gio"}


def imported_modules(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in a file, wherever it is (try blocks included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append(("chromahint_gimp", [a.name for a in node.names]))
            else:
                out.append((node.module or "", [a.name for a in node.names]))
    return out


def test_plugin_imports_only_the_standard_library_gi_and_the_client():
    files = [PLUGIN_DIR / "chromahint.py", *sorted((PLUGIN_DIR / "chromahint_gimp").glob("*.py"))]
    assert len(files) >= 6
    own = {"chromahint_client", "chromahint_gimp", "__future__"}
    for path in files:
        for module, names in imported_modules(path):
            top = module.split(".")[0]
            if top == "gi":
                assert path.name == "chromahint.py", f"{path.name}: pure modules must not use gi"
                if module == "gi.repository":
                    assert set(names) <= ALLOWED_GI, f"{path.name}: gi.repository {names}"
                continue
            assert top in own or top in sys.stdlib_module_names, f"{path.name} imports {module}"


def test_plugin_file_is_executable_and_runs_with_python3():
    main = PLUGIN_DIR / "chromahint.py"
    assert main.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(main, os.X_OK)


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
    msg = pixel_formats.image_message(bytes(3 * 2 * fmt.bytes_per_pixel), 3, 2, fmt)
    assert msg["format"] == protocol and len(msg["data"]) == 3 * 2 * fmt.bytes_per_pixel


def test_image_message_rejects_a_short_read():
    with pytest.raises(ValueError):
        pixel_formats.image_message(b"\0" * 5, 3, 2, pixel_formats.source_format("u8", True, False))


def test_region_overlay_tints_and_numbers_regions_in_priority_order():
    w, h = 120, 80
    labels = np.zeros((h, w), "<u2")
    labels[:, :40] = 7  # region 7: left third
    labels[:, 41:80] = 3  # region 3: middle (column 40 is a line: id 0)
    labels[:, 80:] = 9  # region 9: right
    overlay = region_overlay.render(labels.tobytes(), w, h, order=[3, 9, 7], count=2)
    rgba = np.frombuffer(overlay.rgba, np.uint8).reshape(h, w, 4)
    assert [(a.rank, a.region) for a in overlay.anchors] == [(1, 3), (2, 9)]
    assert rgba[:, :40, 3].max() == 0  # region 7 is third: not shown with count=2
    assert rgba[:, 40, 3].max() == 0  # lines stay clear
    assert tuple(rgba[2, 45]) == (*region_overlay.color_for(1), region_overlay.TINT_ALPHA)
    assert tuple(rgba[2, 118]) == (*region_overlay.color_for(2), region_overlay.TINT_ALPHA)
    for anchor in overlay.anchors:
        assert labels[anchor.y, anchor.x] == anchor.region  # the number sits on its region
        box = rgba[anchor.y - 6 : anchor.y + 7, anchor.x - 6 : anchor.x + 7]
        assert (box == 255).all(-1).any(), "a white digit is drawn at the anchor"


def test_region_overlay_anchor_lies_inside_a_concave_region():
    w, h = 60, 60
    labels = np.zeros((h, w), "<u2")
    labels[:10, :] = 1  # a "U" turned over: the centroid falls outside it
    labels[:, :10] = 1
    labels[:, 50:] = 1
    overlay = region_overlay.render(labels.tobytes(), w, h, [1], 5)
    (anchor,) = overlay.anchors
    assert labels[anchor.y, anchor.x] == 1


def test_region_overlay_rejects_labels_of_the_wrong_size():
    with pytest.raises(ValueError):
        region_overlay.render(b"\0\0" * 10, 4, 4, [1], 3)


def test_swatch_places_and_entries():
    where = swatch_palette.places([(5.0, 5.0), (50.0, 5.0)], (200.0, -3.0), 100, 80)
    assert [p.label for p in where] == ["Hint 1", "Hint 2", "Selection"]
    assert (where[2].x, where[2].y) == (99.0, 0.0)  # clamped onto the layer
    rows = [[{"rgb": [255, 0, 0], "p": 0.75}, {"rgb": [0, 0, 255], "p": 0.25}]] * 3
    entries = swatch_palette.entries(where, rows)
    assert [e.name for e in entries[:2]] == ["Hint 1 · 75%", "Hint 1 · 25%"]
    assert entries[0].hex == "#ff0000" and len(entries) == 6
    with pytest.raises(ValueError):
        swatch_palette.entries(where, rows[:2])


def test_settings_defaults_and_file(tmp_path):
    s = settings.load(str(tmp_path))
    assert (s.endpoint, s.engine_command) == ("tcp://127.0.0.1:5557", "chromahint serve")
    (tmp_path / "chromahint.json").write_text(
        '{"endpoint": "tcp://127.0.0.1:1", "engine_command": "x serve", "timeout": 2}'
    )
    s = settings.load(str(tmp_path))
    assert (s.endpoint, s.engine_command, s.timeout) == ("tcp://127.0.0.1:1", "x serve", 2.0)
    (tmp_path / "chromahint.json").write_text("{not json")
    with pytest.raises(settings.SettingsError):
        settings.load(str(tmp_path))


def test_background_request_pulses_and_returns_or_raises_in_the_caller():
    pulses: list[str | None] = []

    def work(report):
        report("busy")
        import time

        time.sleep(0.35)
        return 42

    assert engine_job.run_in_background(work, pulses.append, interval=0.05) == 42
    assert pulses.count("busy") == 1 and len(pulses) >= 4

    def fail(report):
        raise engine_job.EngineFailure("nope")

    with pytest.raises(engine_job.EngineFailure, match="nope"):
        engine_job.run_in_background(fail, pulses.append, interval=0.01)


def test_engine_request_messages_against_a_real_engine(engine, tmp_path):
    cfg = settings.Settings(endpoint=engine.endpoint, engine_command="false")
    image = {"width": 8, "height": 8, "format": "gray8", "data": bytes(64)}
    reply = engine_job.request(cfg, "colorize", lambda _: None, image=image, points=[])
    assert reply["layer"]["format"] == "rgba8"
    with pytest.raises(engine_job.EngineFailure) as err:
        engine_job.request(cfg, "no_such_op", lambda _: None, image=image)
    assert "cannot do this ('no_such_op')" in str(err.value)
    assert "unknown operation" in str(err.value)
    dead = settings.Settings(endpoint=free_endpoint(), engine_command="false", path="/x.json")
    with pytest.raises(engine_job.EngineFailure) as err:
        engine_job.request(dead, "colorize", lambda _: None, image=image, points=[])
    text = str(err.value)
    assert "not available" in text and "exited with code 1" in text and "/x.json" in text


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
    main = work / "profile" / "plug-ins" / "chromahint" / "chromahint.py"
    assert main.is_file() and os.access(main, os.X_OK)


# Image geometry used by the main run.
RGB_W, RGB_H, RGB_BLOBS = 320, 240, [(80, 100, 16, HINT_A), (240, 100, 16, HINT_B)]
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
    if any(m["mode"] == "lineart" for m in engine_info(engine.endpoint)["models"]):
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
    for place, hinted in (("Hint 1", HINT_A), ("Hint 2", HINT_B)):
        row = [e["rgb"] for e, p in zip(palette["entries"], places, strict=True) if p == place]
        best = min(delta_e(srgb_to_lab(np.array(rgb) / 255), hinted) for rgb in row)
        assert best <= DELTA_E_MAX, (place, row)
    again = ok(main_run, "suggest-again")
    # Replaced, not appended to, and not duplicated as "Chromahint #1": one swatch each now.
    assert again["palette"]["count"] == 3 and not again["palette_duplicate"]


@pytest.mark.gimp
def test_guide_regions_without_a_lineart_model_says_so_cleanly(main_run, engine):
    info = engine_info(engine.endpoint)
    out = step(main_run, "regions")
    if "regions" in info["ops"] and any(m["mode"] == "lineart" for m in info["models"]):
        assert out["status"] == "success" and out["layers"][0] == "Chromahint regions"
        return
    message = failed(main_run, "regions")
    assert "cannot do this ('regions')" in message
    assert "lineart" in message or "unknown operation" in message
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
    image = {"width": INK_W, "height": INK_H, "format": "rgb8"}
    image["data"] = (work / "ink.raw").read_bytes()
    with Client(lineart_engine.endpoint, timeout=120) as c:
        reply = c.request("regions", image=image, max_regions=REGION_COUNT)
    labels, order = reply["labels"]["data"], reply["order"]
    expected = region_overlay.render(labels, INK_W, INK_H, order, REGION_COUNT)
    assert len(expected.anchors) == min(REGION_COUNT, len(order)) > 0
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
    modes = {m["mode"] for m in engine_info(engine.endpoint)["models"]}
    message = failed(main_run, "reference")
    assert "reference" in message and "does not support" in message
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
    run, report = gimp.run_spec(tmp_path, spec, timeout=120)
    assert report is not None and report["setup_error"] is None, run.describe()
    dead_step, timeout_step = report["steps"]["dead"], report["steps"]["timeout"]
    assert dead_step.get("status") == "execution-error", dead_step
    assert "not available" in dead_step["message"] and "exited with code 1" in dead_step["message"]
    assert dead in dead_step["message"] and "chromahint.json" in dead_step["message"]
    assert dead_step["layers"] == ["Hints", "Photo"]
    assert timeout_step.get("status") == "execution-error", timeout_step
    assert "did not answer 'colorize' within 0.05 s" in timeout_step["message"]
    assert timeout_step["layers"] == ["Hints", "Photo"]
    no_zmq = report["steps"]["no-zmq"]
    assert no_zmq.get("status") == "execution-error", no_zmq
    assert "cannot talk to its engine from GIMP's Python" in no_zmq["message"]
    assert "no pyzmq in this test" in no_zmq["message"]
    assert "Traceback" not in run.stderr, run.describe()


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
