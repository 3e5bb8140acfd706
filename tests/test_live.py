"""Live editing (issue 12) against real engine processes: images by id, eviction and the
client's transparent resend, cached and uncached requests giving identical layers, cancel,
busy, progress messages, and small requests not waiting behind a big one.
Speed goals are measured by bench/bench_live.py, not here."""

from __future__ import annotations

import re
import threading
import time

import msgpack
import numpy as np
import pytest
import zmq
from conftest import launch_engine

from chromahint_client import Client, EngineReplyError
from chromahint_client import client as client_module
from chromahint_client import protocol as P

pytestmark = pytest.mark.engine


def photo(w: int, h: int, seed: int = 0) -> P.Image:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(30, 220, w)[None, :] + rng.normal(0, 8, (h, w))
    return P.Image(w, h, "gray8", np.clip(ramp, 0, 255).astype(np.uint8).tobytes())


HINTS = (P.Point(40.0, 40.0, (200.0, 40.0, 40.0), 6), P.Point(600.0, 300.0, (40.0, 90.0, 210.0), 6))


def raw(endpoint: str, message: dict, timeout_ms: int = 60_000) -> dict:
    """One request on a plain DEALER socket, no client logic: what the engine itself says."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, **message}, use_bin_type=True)])
        assert sock.poll(timeout_ms), "no reply"
        return msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
    finally:
        sock.close(0)


def test_image_id_round_trip_gives_the_same_layer(engine):
    image = photo(640, 400)
    with Client(engine.endpoint, timeout=60) as c:
        first = c.colorize(P.ColorizeRequest(image, HINTS))
    assert first.image_id == P.image_id(image)
    points = [p.to_map() for p in HINTS]
    again = raw(engine.endpoint, {"op": "colorize", "image_id": first.image_id, "points": points})
    assert again["ok"] and again["image_id"] == first.image_id
    assert again["layer"]["data"] == first.layer.data  # cached == uncached, byte for byte
    assert again["timing_ms"]["decode"] < first.timing_ms["decode"] + 1.0
    sw = raw(
        engine.endpoint,
        {"op": "swatches", "image_id": first.image_id, "points": [{"x": 5, "y": 5}]},
    )
    assert sw["ok"] and sw["image_id"] == first.image_id and len(sw["swatches"]) == 1


def test_a_resent_image_is_hashed_only_when_its_bytes_changed(engine, monkeypatch):
    """Live mode resends the same picture: the client compares it with the last one it
    sent instead of hashing it again, and an edit the fingerprint does not see (one
    unsampled byte) is still hashed, sent and named by its own id."""
    hashed = []
    real = P.image_id
    monkeypatch.setattr(P, "image_id", lambda image: hashed.append(1) or real(image))
    image = photo(640, 400, seed=7)
    copy = P.Image(640, 400, "gray8", bytes(bytearray(image.data)))  # equal, another object
    edited = bytearray(image.data)
    edited[1] ^= 0xFF  # byte 1 is not among the fingerprint's samples
    changed = P.Image(640, 400, "gray8", bytes(edited))
    with Client(engine.endpoint, timeout=60) as c:
        first = c.colorize(P.ColorizeRequest(image, HINTS))
        assert hashed == []  # a new fingerprint: sent without hashing, the engine names it
        for again in (image, copy):
            assert c.colorize(P.ColorizeRequest(again, HINTS)).image_id == first.image_id
        assert hashed == []
        other = c.colorize(P.ColorizeRequest(changed, HINTS))
    assert hashed  # the fingerprint matched, the bytes did not: hashed to be sure
    assert other.image_id == real(changed) != first.image_id
    assert other.layer.data != first.layer.data


def test_unknown_id_is_an_error_and_both_forms_at_once_are_refused(engine):
    reply = raw(engine.endpoint, {"op": "colorize", "image_id": "0" * 32, "points": []})
    assert (
        reply["error"]["code"] == "unknown_image" and "send the image" in reply["error"]["message"]
    )
    both = raw(
        engine.endpoint,
        {"op": "colorize", "image_id": "x", "image": photo(8, 8).to_map(), "points": []},
    )
    assert both["error"]["code"] == "bad_request"


def test_evicted_image_is_resent_by_the_client_transparently(tmp_path):
    e = launch_engine(tmp_path, "--cache-mb", "1")  # room for one image at most
    try:
        a, b = photo(800, 500, 1), photo(800, 500, 2)  # big enough to be sent by id
        with Client(e.endpoint, timeout=60) as c:
            first = c.colorize(P.ColorizeRequest(a, HINTS))
            served = c.info().served["colorize"]
            # Known now: the client sends only the id, and the engine has it.
            c.colorize(P.ColorizeRequest(a, HINTS[:1]))
            assert c.info().served["colorize"] == served + 1
            c.colorize(P.ColorizeRequest(b, HINTS))  # evicts a
            gone = raw(e.endpoint, {"op": "colorize", "image_id": first.image_id, "points": []})
            assert gone["error"]["code"] == "unknown_image"
            before = c.info().served["colorize"]
            resent = c.colorize(P.ColorizeRequest(a, HINTS))
            # Two requests: by id (unknown_image), then with the image.
            assert c.info().served["colorize"] == before + 2
            assert resent.layer.data == first.layer.data
    finally:
        e.stop()


def test_cancel_stops_a_running_request(engine):
    rid = client_module.new_request_id()
    out: dict = {}
    running = threading.Event()
    request = P.ColorizeRequest(photo(6000, 4000, 3), HINTS)  # made first: it takes a second

    def big() -> None:
        with Client(engine.endpoint, timeout=120, retries=0) as c:
            try:
                # Its first progress message says it is running; the cancel comes then.
                out["reply"] = c.call(request, progress=lambda *_: running.set(), request_id=rid)
            except EngineReplyError as err:
                out["error"] = err

    worker = threading.Thread(target=big)
    worker.start()
    assert running.wait(60)
    with Client(engine.endpoint, timeout=30, retries=0) as c:
        assert c.cancel(rid) is True
        worker.join(60)
        assert not worker.is_alive()
        assert "error" in out and out["error"].code == P.ErrorCode.CANCELLED, out
        assert c.cancel("no-such-request") is False
        assert c.info().protocol == 1


def test_progress_messages_come_before_the_reply(engine):
    seen: list[tuple[float, str]] = []
    with Client(engine.endpoint, timeout=60, retries=0) as c:
        reply = c.call(
            P.ColorizeRequest(photo(3000, 2000, 4), HINTS),
            progress=lambda done, stage: seen.append((done, stage)),
        )
    assert reply.layer.width == 3000
    assert len(seen) >= 2 and seen[-1] == (1.0, "render"), seen
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and all(0.0 <= d <= 1.0 for d in dones)


def test_concurrent_big_requests_get_busy_with_a_retry_hint(tmp_path):
    # One 6000x4000 request (about 1.1 GiB by the engine's estimate) fits in 1.5 GiB; two don't.
    e = launch_engine(tmp_path, "--memory-mb", "1500")
    try:
        out: dict = {}
        request = P.ColorizeRequest(photo(6000, 4000, 5), HINTS)
        running = threading.Event()

        def big(name: str) -> None:
            with Client(e.endpoint, timeout=120, retries=0) as c:
                try:
                    # Its first progress message says it holds its memory (not a fixed wait:
                    # on a fast CPU the first can be done in half a second).
                    out[name] = c.call(request, progress=lambda *_: running.set())
                except EngineReplyError as err:
                    out[name] = err

        first = threading.Thread(target=big, args=("first",))
        first.start()
        assert running.wait(60)
        big("second")
        first.join(120)
        assert isinstance(out["first"], P.ColorizeReply)
        busy = out["second"]
        assert isinstance(busy, EngineReplyError) and busy.code == P.ErrorCode.BUSY, busy
        assert busy.retry_after_ms and busy.retry_after_ms > 0
        # Once the first is done, the same request fits.
        big("third")
        assert isinstance(out["third"], P.ColorizeReply)
    finally:
        e.stop()


def test_a_small_request_is_answered_before_a_big_one_sent_earlier(engine):
    order: list[str] = []

    def send(name: str, image: P.Image) -> None:
        with Client(engine.endpoint, timeout=120, retries=0) as c:
            c.colorize(P.ColorizeRequest(image, HINTS[:1]))
        order.append(name)

    large, small = photo(8000, 6000, 6), photo(256, 256, 7)
    big = threading.Thread(target=send, args=("big", large))
    big.start()
    time.sleep(0.2)
    send("small", small)
    big.join(120)
    assert order == ["small", "big"]


KILLED_PLUGIN = """
import sys
from chromahint_client import Client, protocol as P
from chromahint_client.cancel_watch import KillWatch

folder, endpoint = sys.argv[1], sys.argv[2]
image = P.Image(6000, 4000, "gray8", bytes(range(256)) * (6000 * 4000 // 256))
def told(rid):
    watch.arm(rid)
    print(rid, flush=True)
with KillWatch(folder) as watch, Client(
    endpoint, 120, 0, on_request=told, progress=lambda *_: print("running", flush=True)
) as c:
    c.colorize(P.ColorizeRequest(image, ()))
"""


def test_a_killed_plugin_gets_its_request_cancelled_by_its_watcher(tmp_path):
    """GIMP's Cancel SIGKILLs the plug-in mid-request: the watcher it started beforehand
    tells the engine, which stops the work (its log says so) and serves on."""
    import json
    import os
    import signal
    import subprocess
    import sys

    e = launch_engine(tmp_path)
    try:
        (tmp_path / "chromahint.json").write_text(json.dumps({"endpoint": e.endpoint}))
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_PLUGIN, str(tmp_path), e.endpoint],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        rid = child.stdout.readline().strip()
        assert child.stdout.readline().strip() == "running"  # the engine is at work on it
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        e.wait_for_log(f"cancel {re.escape(rid)}: stopping it")
    finally:
        e.stop()
