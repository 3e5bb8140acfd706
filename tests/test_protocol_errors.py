"""Bad input gets a clear error reply and the engine keeps serving (real engine, real sockets)."""

from __future__ import annotations

import math

import msgpack
import pytest
import zmq

from chromahint_client import Client, EngineReplyError

pytestmark = pytest.mark.engine


def gray(w: int, h: int, value: int = 128) -> dict:
    return {"width": w, "height": h, "format": "gray8", "data": bytes([value]) * (w * h)}


@pytest.fixture
def raw(engine):
    """A raw REQ socket, for frames the client would never send."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 30_000)
    sock.connect(engine.endpoint)
    yield sock
    sock.close(0)


def send_raw(sock: zmq.Socket, payload: bytes) -> dict:
    sock.send(payload)
    return msgpack.unpackb(sock.recv(), raw=False)


def still_serving(engine) -> None:
    with Client(engine.endpoint, timeout=30, retries=0) as c:
        assert c.info().protocol == 1


def request(**fields) -> bytes:
    return msgpack.packb({"v": 1, "id": 7, **fields}, use_bin_type=True)


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"\x81\xa2op", "bad_request"),  # truncated msgpack map
        (b"GET / HTTP/1.1\r\n\r\n", "bad_request"),  # not msgpack
        (msgpack.packb([1, 2, 3]), "bad_request"),  # not a map
        (msgpack.packb({"v": 2, "op": "info", "id": 1}), "version"),
        (msgpack.packb({"v": 1, "op": 5, "id": 1}), "bad_request"),
    ],
)
def test_malformed_frames_get_error_replies(engine, raw, payload, code):
    reply = send_raw(raw, payload)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    still_serving(engine)


def test_error_reply_echoes_the_id(raw, engine):
    reply = send_raw(raw, request(op="nope"))
    assert reply == {
        "v": 1,
        "id": 7,
        "ok": False,
        "error": {"code": "unsupported", "message": reply["error"]["message"]},
    }
    assert "nope" in reply["error"]["message"]
    still_serving(engine)


def test_unknown_field_is_unsupported(raw, engine):
    reply = send_raw(raw, request(op="colorize", image=gray(8, 8), points=[], exemplar=b""))
    assert reply["error"]["code"] == "unsupported"
    assert "exemplar" in reply["error"]["message"]


@pytest.mark.parametrize(
    "image, code, words",
    [
        (
            {"width": "8", "height": 8, "format": "gray8", "data": b"\0" * 64},
            "bad_image",
            "integer",
        ),
        ({"width": 0, "height": 8, "format": "gray8", "data": b""}, "bad_image", "between"),
        ({"width": -3, "height": 8, "format": "gray8", "data": b""}, "bad_image", "between"),
        ({"width": 8, "height": 8, "format": "gray8", "data": b"\0" * 63}, "bad_image", "63 bytes"),
        (
            {"width": 8, "height": 8, "format": "rgb16", "data": b"\0" * 64},
            "bad_image",
            "needs 384",
        ),
        ({"width": 8, "height": 8, "format": "cmyk8", "data": b"\0" * 256}, "bad_image", "cmyk8"),
        ({"width": 8, "height": 8, "format": "gray8", "data": "text"}, "bad_image", "binary"),
        ("not a map", "bad_image", "map"),
    ],
)
def test_bad_images(raw, engine, image, code, words):
    reply = send_raw(raw, request(op="colorize", image=image, points=[]))
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert words in reply["error"]["message"]
    still_serving(engine)


@pytest.mark.parametrize(
    "point, words",
    [
        ({"x": math.nan, "y": 1, "rgb": [1, 2, 3]}, "finite"),
        ({"x": 1, "y": math.inf, "rgb": [1, 2, 3]}, "finite"),
        ({"x": 8, "y": 1, "rgb": [1, 2, 3]}, "outside"),
        ({"x": -0.5, "y": 1, "rgb": [1, 2, 3]}, "outside"),
        ({"x": 1, "y": 1, "rgb": [1, 2]}, "3 numbers"),
        ({"x": 1, "y": 1, "rgb": [1, 2, 300]}, "0-255"),
        ({"x": 1, "y": 1, "rgb": [1, 2, 3], "size": 0}, "between"),
        ({"x": "1", "y": 1, "rgb": [1, 2, 3]}, "number"),
    ],
)
def test_bad_points(raw, engine, point, words):
    reply = send_raw(raw, request(op="colorize", image=gray(8, 8), points=[point]))
    assert reply["error"]["code"] == "bad_points"
    assert words in reply["error"]["message"]
    still_serving(engine)


def test_too_many_points(raw, engine):
    points = [{"x": 1.0, "y": 1.0, "rgb": [200, 0, 0]}] * 100_000
    reply = send_raw(raw, request(op="colorize", image=gray(8, 8), points=points))
    assert reply["error"]["code"] == "too_large"
    assert "100000" in reply["error"]["message"]
    still_serving(engine)


def test_too_many_pixels(engine_factory):
    e = engine_factory("--max-pixels", "1000")
    with Client(e.endpoint, timeout=30, retries=0) as c:
        assert c.info().limits.max_pixels == 1000
        with pytest.raises(EngineReplyError) as err:
            c.request("colorize", image=gray(40, 40), points=[])
        assert err.value.code == "too_large"
        assert "1600 pixels" in str(err.value)
        assert c.info().protocol == 1


def test_message_over_size_limit(engine_factory):
    e = engine_factory("--max-message-bytes", "100000")
    with Client(e.endpoint, timeout=30, retries=0) as c:
        with pytest.raises(EngineReplyError) as err:
            c.request("colorize", image=gray(400, 400), points=[])
        assert err.value.code == "too_large"
        assert "100000" in str(err.value)
        assert c.info().protocol == 1


def test_multi_frame_request_is_rejected(engine):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(engine.endpoint)
    try:
        sock.send_multipart([b"", request(op="info"), b"extra"])
        assert sock.poll(30_000)
        frames = sock.recv_multipart()
        assert frames[0] == b""
        reply = msgpack.unpackb(frames[1], raw=False)
        assert reply["error"]["code"] == "bad_request"
        # A DEALER without the empty delimiter frame is served too.
        sock.send(request(op="info"))
        assert sock.poll(30_000)
        reply = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
        assert reply["ok"] and reply["id"] == 7
    finally:
        sock.close(0)
    still_serving(engine)


def test_bad_swatch_count_and_palette(engine):
    with Client(engine.endpoint, timeout=30, retries=0) as c:
        for fields, words in [
            ({"swatches": 1000}, "between"),
            ({"palette": [[1, 2]]}, "palette[0]"),
            ({"palette": [[1, 2, 3, -1]]}, "negative"),
            ({"saturation": 2.0}, "0-1"),
            ({"mode": "sepia"}, "sepia"),
        ]:
            with pytest.raises(EngineReplyError) as err:
                c.request("colorize", image=gray(8, 8), points=[], **fields)
            assert words in str(err.value)
        assert c.info().protocol == 1
