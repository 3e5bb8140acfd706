"""The Krita plug-in: fast checks of its pure parts, and its docker driven inside real Krita.

The `krita` tests install the plug-in with `chromahint install --krita` into fresh XDG
folders, start Krita 5 under Xvfb and run tests/krita_scenarios.py there against a real
engine on loopback. They are skipped only when Krita is not installed and
CHROMAHINT_REQUIRE_KRITA is not set (tests/setup/krita.sh installs it).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import signal
import struct
import sys
import time
from pathlib import Path

import pytest
from conftest import free_endpoint, launch_engine
from krita_harness import ARTIFACTS, KritaRun, krita_installed, run_scenario

from chromahint_client.launcher import is_running

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "plugin_krita" / "chromahint"
SCENARIOS = Path(__file__).resolve().parent / "krita_scenarios.py"
ALLOWED_THIRD_PARTY = {"PyQt5", "krita", "chromahint_client"}

needs_krita = pytest.mark.skipif(
    not krita_installed() and not os.environ.get("CHROMAHINT_REQUIRE_KRITA"),
    reason="Krita or xvfb-run is not installed (run tests/setup/krita.sh, or set "
    "CHROMAHINT_REQUIRE_KRITA=1 to make this a failure)",
)


def _load(name: str):
    """A pure module of the plug-in, loaded from its file (the package needs Krita)."""
    spec = importlib.util.spec_from_file_location(f"krita_plugin_{name}", PLUGIN / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


# -- fast checks (no Krita) -------------------------------------------------------------------
def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_plugin_imports_only_the_allowed_modules():
    files = sorted(PLUGIN.rglob("*.py"))
    assert len(files) >= 5, files
    stdlib = set(sys.stdlib_module_names)
    bad = {}
    for path in files:
        extra = _imported_roots(path) - stdlib - ALLOWED_THIRD_PARTY
        if extra:
            bad[str(path.relative_to(REPO))] = sorted(extra)
    assert not bad, (
        f"the Krita plug-in may import only the stdlib, PyQt5, krita, chromahint_client: {bad}"
    )


def test_desktop_file_names_the_package():
    text = (PLUGIN.parent / "chromahint.desktop").read_text(encoding="utf-8")
    assert "ServiceTypes=Krita/PythonPlugin" in text
    assert "X-KDE-Library=chromahint" in text
    assert (PLUGIN / "__init__.py").is_file()


def test_pixels_round_trips_krita_layouts():
    px = _load("pixels")
    bgra8 = bytes([10, 20, 30, 40, 50, 60, 70, 80])
    assert px.swap_red_blue(bgra8, 1) == bytes([30, 20, 10, 40, 70, 60, 50, 80])
    bgra16 = struct.pack("<8H", 1, 2, 3, 4, 5, 6, 7, 8)
    assert struct.unpack("<8H", px.swap_red_blue(bgra16, 2)) == (3, 2, 1, 4, 7, 6, 5, 8)
    gray16 = struct.pack("<4H", 1000, 65535, 2000, 0)
    assert struct.unpack("<8H", px.gray_to_bgra(gray16, 2)) == (
        1000, 1000, 1000, 65535, 2000, 2000, 2000, 0,
    )  # fmt: skip
    rgba8 = bytes([200, 100, 50, 255])
    out16 = px.rgba8_to_bgra(rgba8, 2)
    assert struct.unpack("<4H", out16) == (50 * 257, 100 * 257, 200 * 257, 65535)
    message = px.image_message(out16, 1, 1, 2)
    assert message["format"] == "rgba16"
    assert struct.unpack("<4H", message["data"]) == (200 * 257, 100 * 257, 50 * 257, 65535)
    assert px.bgra16_to_8(out16) == bytes([50, 100, 200, 255])
    assert px.is_opaque(out16, 2) and not px.is_opaque(bytes([0, 0, 0, 254]), 1)


def test_pixels_knows_which_colour_spaces_need_krita():
    px = _load("pixels")
    assert px.ColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc").writable
    assert px.ColorSpace("RGBA", "U16", "sRGB built-in").writable
    assert px.ColorSpace("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc").direct
    assert not px.ColorSpace("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc").writable
    for space in (
        px.ColorSpace("RGBA", "U16", "sRGB-elle-V2-g10.icc"),  # linear: Krita's U16 default
        px.ColorSpace("RGBA", "F32", "sRGB-elle-V2-srgbtrc.icc"),
        px.ColorSpace("CMYKA", "U8", "Chemical proof"),
    ):
        assert not space.direct, space
        with pytest.raises(ValueError):
            px.to_bgra(b"", space)
    assert px.ColorSpace("RGBA", "F16", "x").pixel_bytes == 8


def test_pixels_merges_only_selected_spans():
    px = _load("pixels")
    mask = bytes([0, 255, 200, 0, 127, 128])  # 3 x 2, half-selected counts as selected
    spans = px.selected_spans(mask, 3, 2)
    assert spans == [(0, 1, 3), (1, 2, 3)]
    new, old = b"N" * 6 * 4, b"o" * 6 * 4
    merged = px.merge_spans(new, old, spans, 3, 4)
    assert merged == b"oooo" + b"NNNN" * 2 + b"oooo" * 2 + b"NNNN"


def test_regions_places_numbers_inside_their_regions():
    rg = _load("regions")
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
    result = rg.summarize(labels, w, h, order=[3, 7, 9, 42], top=2, grid=16)
    assert [r.id for r in result.regions] == [3, 7]
    assert [r.rank for r in result.regions] == [1, 2]
    for region in result.regions:
        assert ids[int(region.y) * w + int(region.x)] == region.id, region
    assert set(result.ranks) == {0, 1, 2} and len(result.ranks) == result.grid_w * result.grid_h
    with pytest.raises(ValueError):
        rg.summarize(labels[:-2], w, h, [3], 1)


def test_settings_fall_back_to_defaults(tmp_path):
    st = _load("settings")
    assert st.Settings.load(str(tmp_path / "missing.json")) == (st.Settings(), None)
    good = tmp_path / "chromahint.json"
    good.write_text(json.dumps({"endpoint": "tcp://127.0.0.1:6000", "engine_command": "x serve"}))
    settings, warning = st.Settings.load(str(good))
    assert (settings.endpoint, settings.engine_command, warning) == (
        "tcp://127.0.0.1:6000",
        "x serve",
        None,
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    settings, warning = st.Settings.load(str(bad))
    assert settings == st.Settings() and "bad.json" in warning


# -- inside real Krita ------------------------------------------------------------------------
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
    return True


@pytest.fixture(scope="module")
def scenario_engine(tmp_path_factory, request):
    """A real engine serving photo and, when this build has the module, line art (untrained
    weights); else the session's engine. Yields (endpoint, serves line art)."""
    folder = tmp_path_factory.mktemp("weights")
    if not _untrained_lineart_weights(folder):
        yield request.getfixturevalue("engine").endpoint, False
        return
    saved = os.environ.get("CHROMAHINT_WEIGHTS")
    os.environ["CHROMAHINT_WEIGHTS"] = str(folder)
    try:
        engine = launch_engine(tmp_path_factory.mktemp("lineart-engine"))
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
    """Hints -> Colorized in 8/16-bit, float and grey documents, live mode, swatches, undo,
    selection, reference message, line-art regions, and a screenshot of the docker."""
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
        "docker_loaded", "u8.chroma_a", "u8.chroma_b", "u8.lightness_a", "u16.chroma_a",
        "u16.lightness_b", "live.chroma_c", "u8.swatch_sets_foreground", "u8.undo_removes_result",
        "u16.undo_removes_result", "f32.chroma_b", "gray.converted_to_rgb",
        "ref.unsupported_message",
    ) + (("regions.overlay", "regions.colour_applied") if scenario_engine[1] else
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
    assert run.checks.get("engine_started_and_colorized", {}).get("ok")


def _stop_engine_at(endpoint: str) -> None:
    """The engine the plug-in started outlives Krita (by design); stop it here."""
    info = is_running(endpoint)
    if not info or not info.get("pid"):
        return
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and is_running(endpoint):
        time.sleep(0.2)
