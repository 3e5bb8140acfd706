"""The engine end to end: formats, lightness, hints, swatches, concurrency, restarts, signals."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import free_endpoint, launch_engine
from skimage import data as skdata

from chromahint.color import rgb_to_lab
from chromahint_client import Client, EngineNotRunning, EngineReplyError
from chromahint_client import protocol as P

pytestmark = pytest.mark.engine

HINT_RED = (160, 40, 40)  # in gamut at the dark half's lightness
HINT_BLUE = (120, 175, 235)  # in gamut at the light half's lightness


def two_tone(w: int = 96, h: int = 64) -> np.ndarray:
    """A gray image with a dark left half and a light right half (flat regions to hint)."""
    img = np.full((h, w), 170, np.uint8)
    img[:, : w // 2] = 90
    return img


def encode(gray8: np.ndarray, fmt: str) -> P.Image:
    h, w = gray8.shape
    g = gray8.astype(np.float32) / 255.0
    if fmt == "gray8":
        raw = gray8.tobytes()
    elif fmt == "gray16":
        raw = (gray8.astype("<u2") * 257).tobytes()
    elif fmt == "rgb8":
        raw = np.repeat(gray8[..., None], 3, 2).tobytes()
    elif fmt == "rgb16":
        raw = np.repeat((gray8.astype("<u2") * 257)[..., None], 3, 2).tobytes()
    elif fmt == "rgba8":
        raw = np.dstack([gray8] * 3 + [np.full_like(gray8, 255)]).tobytes()
    elif fmt == "rgba16":
        v = gray8.astype("<u2") * 257
        raw = np.dstack([v] * 3 + [np.full_like(v, 65535)]).tobytes()
    else:
        raw = np.dstack([g] * 3 + [np.ones_like(g)]).astype("<f4").tobytes()
    return P.Image(w, h, fmt, raw)


def point(x: float, y: float, rgb, size: int = 1) -> P.Point:
    return P.Point(x, y, tuple(float(c) for c in rgb), size)


def colorize(image: P.Image, points=(), **fields) -> P.ColorizeRequest:
    return P.ColorizeRequest(image, tuple(points), **fields)


def layer_rgba(reply: P.ColorizeReply) -> np.ndarray:
    layer = reply.layer
    assert layer.format == "rgba8"
    return np.frombuffer(layer.data, np.uint8).reshape(layer.height, layer.width, 4)


def delta_e(rgb_a, rgb_b) -> float:
    la = rgb_to_lab(np.asarray(rgb_a, np.float32) / 255.0)
    lb = rgb_to_lab(np.asarray(rgb_b, np.float32) / 255.0)
    return float(np.linalg.norm(la[1:] - lb[1:]))


@pytest.mark.parametrize("fmt", ["gray8", "gray16", "rgb8", "rgb16", "rgba8", "rgba16", "rgbaf32"])
def test_every_format_keeps_lightness_and_follows_hints(engine, fmt):
    src = two_tone()
    points = [point(20.0, 30.0, HINT_RED, 6), point(75.0, 30.0, HINT_BLUE, 6)]
    with Client(engine.endpoint, timeout=60) as c:
        reply = c.colorize(colorize(encode(src, fmt), points, swatches=3))
    out = layer_rgba(reply)
    assert out.shape == (64, 96, 4)
    assert (out[..., 3] == 255).all()
    L_out = rgb_to_lab(out[..., :3] / 255.0)[..., 0]
    L_src = rgb_to_lab(np.repeat(src[..., None], 3, 2) / 255.0)[..., 0]
    assert np.abs(L_out - L_src).max() < 1.0  # 8-bit rounding only
    # Chroma at the hints matches the hint colour at the source's lightness.
    for p, rgb in zip(points, (HINT_RED, HINT_BLUE), strict=True):
        got = out[int(p.y), int(p.x), :3]
        hint_lab = rgb_to_lab(np.asarray(rgb, np.float32) / 255.0)
        got_lab = rgb_to_lab(got / 255.0)
        assert np.hypot(*(got_lab[1:] - hint_lab[1:])) <= 10.0, (fmt, got, rgb)
    # And the halves got different colours: hints did not bleed across the edge.
    left, right = out[32, 10, :3].astype(int), out[32, 86, :3].astype(int)
    assert left[0] > left[2] and right[2] > right[0]
    assert len(reply.swatches) == 2
    assert all(1 <= len(s) <= 3 for s in reply.swatches)
    assert set(reply.timing_ms) >= {"decode", "forward", "upsample"}


def test_color_input_is_colorized_from_its_lightness(engine):
    rgb = skdata.astronaut()[::4, ::4]  # 128x128 colour photo
    h, w, _ = rgb.shape
    img = P.Image(w, h, "rgb8", rgb.tobytes())
    with Client(engine.endpoint, timeout=60) as c:
        out = layer_rgba(c.colorize(colorize(img)))
    L_out = rgb_to_lab(out[..., :3] / 255.0)[..., 0]
    L_src = rgb_to_lab(rgb / 255.0)[..., 0]
    assert np.abs(L_out - L_src).max() < 1.5


def test_transparent_source_stays_transparent(engine):
    src = two_tone()
    px = np.frombuffer(encode(src, "rgba8").data, np.uint8).reshape(64, 96, 4).copy()
    px[:10, :, 3] = 0
    img = P.Image(96, 64, "rgba8", px.tobytes())
    with Client(engine.endpoint, timeout=60) as c:
        out = layer_rgba(c.colorize(colorize(img)))
    assert (out[:10, :, 3] == 0).all() and (out[10:, :, 3] == 255).all()


def test_swatches_op(engine):
    src = two_tone()
    hints = (point(20.0, 30.0, HINT_RED, 6),)
    spots = (P.Spot(20.0, 30.0), P.Spot(80, 5))
    with Client(engine.endpoint, timeout=60) as c:
        reply = c.swatches(P.SwatchesRequest(encode(src, "gray8"), spots, k=4, hints=hints))
    rows = reply.swatches
    assert len(rows) == 2
    for row in rows:
        assert 1 <= len(row) <= 4
        ps = [s.p for s in row]
        assert ps == sorted(ps, reverse=True)
        assert all(len(s.rgb) == 3 and all(0 <= v <= 255 for v in s.rgb) for s in row)
    # The hint colour is among the suggestions at the hint (the hit-rate criterion).
    assert min(delta_e(s.rgb, HINT_RED) for s in rows[0]) <= 10.0, rows[0]


def test_info_reports_models_device_limits(engine):
    with Client(engine.endpoint) as c:
        info = c.info()
    assert info.protocol == 1
    assert info.engine.startswith("chromahint ")
    assert info.device == "cpu"
    assert {m.mode for m in info.models} >= {"photo"}
    assert info.limits == P.Limits()
    assert {op.value for op in P.Op} == set(info.ops)


def test_two_clients_at_once_are_both_served(engine):
    results: dict[int, object] = {}
    img = encode(two_tone(), "gray8")

    def work(i: int) -> None:
        try:
            with Client(engine.endpoint, timeout=60) as c:
                for _ in range(3):
                    reply = c.colorize(colorize(img, [point(10.0 + i, 10.0, (200, 30, 30))]))
                results[i] = layer_rgba(reply).shape
        except Exception as e:  # surfaced by the assert below
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {0: (64, 96, 4), 1: (64, 96, 4)}


def test_client_survives_engine_restart(tmp_path):
    endpoint = free_endpoint()
    first = launch_engine(tmp_path, endpoint=endpoint)
    client = Client(endpoint, timeout=4, retries=8)
    try:
        pid1 = client.info().pid
        first.proc.kill()
        first.proc.wait()
        second: list = []
        restarter = threading.Timer(
            1.0, lambda: second.append(launch_engine(tmp_path, endpoint=endpoint))
        )
        restarter.start()
        # Sent while no engine runs: the Lazy Pirate retries reach the restarted one.
        reply = client.colorize(colorize(encode(two_tone(), "gray8")))
        restarter.join()
        assert layer_rgba(reply).shape == (64, 96, 4)
        assert client.info().pid != pid1
    finally:
        client.close()
        for e in second:
            e.stop()


def test_not_running_is_a_clear_error():
    with Client(free_endpoint(), timeout=0.3, retries=1) as c:
        with pytest.raises(EngineNotRunning, match="not running"):
            c.info()


@pytest.mark.skipif(os.name != "posix", reason="ipc:// is POSIX only")
def test_ipc_endpoint_and_clean_sigterm(tmp_path):
    sock_path = tmp_path / "engine.sock"
    endpoint = f"ipc://{sock_path}"
    e = launch_engine(tmp_path, "--endpoint", free_endpoint(), endpoint=endpoint)
    with Client(endpoint) as c:
        assert c.info().protocol == 1
    assert sock_path.exists()
    e.proc.send_signal(signal.SIGTERM)
    assert e.proc.wait(20) == 0
    log = e.log.read_text()
    assert "listening on" in log and "engine stopped" in log and "device cpu" in log
    assert not sock_path.exists()


def test_sigint_stops_cleanly(engine_factory):
    e = engine_factory()
    e.proc.send_signal(signal.SIGINT)
    assert e.proc.wait(20) == 0


def test_large_image_within_limits(engine):
    """8000x6000 works without running out of memory (processed in strips)."""
    w, h = 8000, 6000
    ramp = (np.arange(w, dtype=np.uint32) * 255 // w).astype(np.uint8)
    img = P.Image(w, h, "gray8", np.tile(ramp, h).tobytes())
    with Client(engine.endpoint, timeout=300, retries=0) as c:
        reply = c.colorize(colorize(img, [point(4000.0, 3000.0, (30, 160, 40), 64)]))
    out = layer_rgba(reply)
    assert out.shape == (h, w, 4)
    got = out[3000, 4000, :3]
    assert delta_e(got, (30, 160, 40)) <= 10.0 or got[1] > got[0]


def test_cli_colorize_with_hints_starts_its_own_engine(tmp_path):
    from PIL import Image

    src = two_tone()
    Image.fromarray(src).save(tmp_path / "photo.png")
    hints = np.zeros((64, 96, 4), np.uint8)
    hints[25:35, 15:25] = (*HINT_RED, 255)
    # An anti-aliased rim: half-transparent pixels of the same colour.
    hints[24, 15:25] = (*HINT_RED, 128)
    Image.fromarray(hints).save(tmp_path / "hints.png")
    env = {**os.environ, "CHROMAHINT_ENDPOINT": free_endpoint()}  # nothing runs there
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "chromahint",
            "colorize",
            str(tmp_path / "photo.png"),
            "--hints",
            str(tmp_path / "hints.png"),
            "-o",
            str(tmp_path / "out.png"),
            "--swatches",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "starting one for this job" in run.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (64, 96, 3)
    assert delta_e(out[30, 20], HINT_RED) <= 10.0
    # One painted blob (drawn as many hint cells) gives one row of swatches.
    rows = [line for line in run.stdout.splitlines() if line.startswith("swatches at")]
    assert len(rows) == 1 and rows[0].startswith("swatches at hint 1 (20, 30):"), run.stdout
    assert rows[0].count("#") == 2
    # The README's command: hints, no --swatches.
    run = subprocess.run(
        [sys.executable, "-m", "chromahint", "colorize", str(tmp_path / "photo.png")]
        + ["--hints", str(tmp_path / "hints.png"), "-o", str(tmp_path / "out2.png")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "swatches at" not in run.stdout and (tmp_path / "out2.png").is_file()


def test_cli_info(engine):
    run = subprocess.run(
        [sys.executable, "-m", "chromahint", "info", "--endpoint", engine.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0
    assert '"protocol": 1' in run.stdout


def test_cli_info_without_engine():
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "chromahint",
            "info",
            "--endpoint",
            free_endpoint(),
            "--timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "not running" in run.stderr


def test_rgbaf32_nan_samples_do_not_break(engine):
    vals = [float("nan"), 0.5, 0.5, 1.0] * 64
    img = P.Image(8, 8, "rgbaf32", struct.pack("<256f", *vals))
    with Client(engine.endpoint) as c:
        assert layer_rgba(c.colorize(colorize(img))).shape == (8, 8, 4)


def test_suggest_points_avoid_hints_and_carry_a_guess(engine):
    src = two_tone(128, 96)
    hint = point(20.0, 40.0, HINT_RED, 6)
    with Client(engine.endpoint, timeout=60) as c:
        reply = c.suggest_points(P.SuggestPointsRequest(encode(src, "gray8"), (hint,), k=3))
    pts = reply.points
    assert 1 <= len(pts) <= 3
    scores = [p.score for p in pts]
    assert scores == sorted(scores, reverse=True)
    for p in pts:
        assert 0 <= p.x < 128 and 0 <= p.y < 96
        assert np.hypot(p.x - hint.x, p.y - hint.y) > 8
        assert len(p.rgb) == 3


def test_without_weights_photo_falls_back_and_lineart_says_so(
    engine_factory, tmp_path, monkeypatch
):
    monkeypatch.setenv("CHROMAHINT_WEIGHTS", str(tmp_path / "no-weights"))
    e = engine_factory()
    with Client(e.endpoint, timeout=60) as c:
        models = {m.mode: m for m in c.info().models}
        assert models["photo"].name == "levin2004-baseline"
        assert models["photo"].learned is False
        assert "lineart" not in models
        with pytest.raises(EngineReplyError) as err:
            c.regions(P.RegionsRequest(encode(two_tone(), "gray8"), max_regions=5))
        assert err.value.code == P.ErrorCode.UNSUPPORTED and "lineart" in str(err.value)
        # The baseline still colorizes and follows hints.
        hint = point(20.0, 30.0, HINT_RED, 6)
        out = layer_rgba(c.colorize(colorize(encode(two_tone(), "gray8"), [hint])))
        assert delta_e(out[30, 20, :3], HINT_RED) <= 10.0


def line_art(w: int = 160, h: int = 128) -> np.ndarray:
    """Black outlines on white: a box split in two by a vertical line."""
    img = np.full((h, w), 255, np.uint8)
    img[20:24, 20:140] = img[104:108, 20:140] = 0
    img[20:108, 20:24] = img[20:108, 136:140] = img[20:108, 78:82] = 0
    return img


def test_regions_and_lineart_colorize(engine):
    with Client(engine.endpoint, timeout=60) as c:
        if c.info().model(P.Mode.LINEART) is None:
            pytest.fail("the shipped line-art model did not load")
        sketch = encode(line_art(), "gray8")
        reply = c.regions(P.RegionsRequest(sketch, max_regions=8))
        again = c.regions(P.RegionsRequest(sketch, max_regions=8))
        labels = reply.labels
        assert (labels.width, labels.height, labels.format) == (160, 128, "gray16")
        ids = np.frombuffer(labels.data, "<u2").reshape(128, 160)
        assert labels.data == again.labels.data and reply.order == again.order
        assert (ids[line_art() == 0] == 0).all()  # lines belong to no region
        # Outside, the left and the right box: each closed area is one region, numbered 1..n.
        assert sorted(np.unique(ids).tolist()) == [0, 1, 2, 3] and reply.order == [1, 2, 3]
        inside, other = int(ids[60, 50]), int(ids[60, 110])
        assert inside != other and 0 not in (inside, other)
        hints = (P.RegionHint(inside, (40.0, 160.0, 60.0)),)
        req = colorize(sketch, mode=P.Mode.LINEART, region_hints=hints, labels=labels)
        out = layer_rgba(c.colorize(req))
        # Without labels the engine finds the same regions, so the layer is the same.
        recomputed = colorize(sketch, mode=P.Mode.LINEART, region_hints=hints)
        assert np.array_equal(layer_rgba(c.colorize(recomputed)), out)
    assert out.shape == (128, 160, 4)
    assert (out[line_art() == 0, :3] < 40).all()  # lines stay black
    region = ids == inside
    assert max(delta_e(px, (40, 160, 60)) for px in out[region, :3]) <= 2.0  # flat, edge to edge
    assert min(delta_e(px, (40, 160, 60)) for px in out[ids == other, :3]) > 10.0
