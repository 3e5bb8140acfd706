"""The wire types (client/protocol.py): one round trip per message type, strict parsing, and
docs/protocol.md checked against the module. Pure Python, no engine."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import msgpack
import pytest

from chromahint_client import protocol as P

pytestmark = pytest.mark.unit

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
LIMITS = P.Limits()
IMAGE = P.Image(4, 3, "gray8", bytes(range(12)))
LABELS = P.Image(4, 3, "gray16", bytes(24))
POINT = P.Point(1.5, 2.0, (200.0, 30.0, 30.0), 2)
REF = P.Image(5, 2, "rgb8", bytes(range(30)))
GLOBAL = P.GlobalHints(((10.0, 20.0, 30.0, 2.0), (1.0, 2.0, 3.0, 1.0)), 0.4)

REQUESTS = [
    P.InfoRequest(),
    P.ColorizeRequest(IMAGE),
    P.ColorizeRequest(IMAGE, (POINT,), P.Mode.PHOTO, 3, GLOBAL),
    P.ColorizeRequest(
        IMAGE, (POINT,), P.Mode.LINEART, 0, None, (P.RegionHint(3, (1.0, 2.0, 3.0)),), LABELS
    ),
    P.ColorizeRequest(IMAGE, reference=REF),
    P.ColorizeRequest(IMAGE, reference=REF, reference_mode=P.ReferenceMode.PALETTE),
    P.SwatchesRequest(IMAGE, (P.Spot(0.0, 2.5),), 4, (POINT,), P.Mode.PHOTO, GLOBAL),
    P.SuggestPointsRequest(IMAGE, (POINT,), 7, P.Mode.PHOTO, None),
    P.RegionsRequest(IMAGE, 12),
    P.RegionsRequest(IMAGE),
    P.RecommendReferencesRequest(IMAGE, (REF, REF), limit=3),
    P.RecommendReferencesRequest(IMAGE, folder="/photos/refs", limit=20),
]

SWATCH = P.Swatch((200, 30, 30), 0.75)
REPLIES = [
    P.InfoReply(
        "chromahint 0.1.0",
        1,
        "cpu",
        (
            P.ModelInfo("photo", "photo-net", "a model", True, 256),
            P.ModelInfo("lineart", "lineart-net", "lines", True, 256, 20),
        ),
        ("colorize", "info"),
        LIMITS,
        1234,
    ),
    P.ColorizeReply(P.Image(4, 3, "rgba8", bytes(48)), [[SWATCH]], {"forward": 1.5}),
    P.ColorizeReply(P.Image(4, 3, "rgba8", bytes(48)), [], {}, "ab" * 16, 0.625),
    P.SwatchesReply([[SWATCH, P.Swatch((1, 2, 3), 0.25)], []], {"swatches": 0.1}),
    P.SuggestPointsReply([P.Suggestion(1.0, 2.0, (3, 4, 5), 0.5)], {}),
    P.RegionsReply(LABELS, [3, 1], {"forward": 2.0}),
    P.RecommendReferencesReply([P.Ranked(0.9, 1), P.Ranked(0.5, 0)], {"rank": 1.0}),
    P.RecommendReferencesReply([P.Ranked(1.2, None, "/r/a.jpg")], {}, 2, 5, "cd" * 16),
]


def wire(m: dict) -> dict:
    """Through msgpack and back, as the engine and the client see it."""
    return msgpack.unpackb(msgpack.packb(m, use_bin_type=True), raw=False, strict_map_key=False)


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_request_round_trip(request_):
    m = wire(P.request_map(request_, 9))
    rid, op = P.parse_envelope(m)
    assert (rid, op) == (9, request_.op.value)
    assert P.parse_request(m, op, LIMITS) == request_


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: type(r).__name__)
def test_reply_round_trip(reply):
    m = wire(P.reply_map(reply, 9))
    assert m["ok"] is True and m["id"] == 9 and m["v"] == P.VERSION
    op = next(op for op, kind in P.REPLIES.items() if kind is type(reply))
    assert P.REPLIES[op].from_map(m) == reply


def test_every_op_has_a_request_and_a_reply_type():
    assert set(P.REQUESTS) == set(P.Op) == set(P.REPLIES)


def test_error_map():
    m = wire(P.error_map(None, P.ErrorCode.TOO_LARGE, "too big"))
    assert m == {
        "v": 1,
        "id": None,
        "ok": False,
        "error": {"code": "too_large", "message": "too big"},
    }


@pytest.mark.parametrize(
    "m, code, words",
    [
        ({"op": "colorize", "image": IMAGE.to_map(), "exemplar": b""}, "unsupported", "exemplar"),
        (
            {
                "op": "recommend_references",
                "image": IMAGE.to_map(),
                "folder": "/a",
                "candidates": [REF.to_map()],
            },
            "bad_request",
            "not both",
        ),
        ({"op": "recommend_references", "image": IMAGE.to_map()}, "bad_request", "either"),
        (
            {
                "op": "recommend_references",
                "image": IMAGE.to_map(),
                "candidates": [REF.to_map()] * 65,
            },
            "bad_request",
            "1 to 64",
        ),
        (
            {"op": "colorize", "image": IMAGE.to_map(), "reference": IMAGE.to_map()},
            "bad_image",
            "gray picture has no colours",
        ),
        (
            {
                "op": "colorize",
                "image": IMAGE.to_map(),
                "reference": REF.to_map(),
                "reference_mode": "both",
            },
            "bad_request",
            "regions, palette",
        ),
        (
            {"op": "colorize", "image": IMAGE.to_map(), "reference_mode": "palette"},
            "bad_request",
            "needs a 'reference'",
        ),
        (
            {
                "op": "colorize",
                "image": IMAGE.to_map(),
                "mode": "lineart",
                "reference": REF.to_map(),
            },
            "unsupported",
            "reference",
        ),
        (
            {"op": "colorize", "image": IMAGE.to_map(), "mode": "lineart", "palette": []},
            "unsupported",
            "palette",
        ),
        ({"op": "colorize", "image": IMAGE.to_map(), "mode": 3}, "bad_request", "mode"),
        ({"op": "colorize", "image": {**IMAGE.to_map(), "format": "cmyk"}}, "bad_image", "cmyk"),
        ({"op": "colorize", "image": {**IMAGE.to_map(), "data": b"x"}}, "bad_image", "needs 12"),
        ({"op": "colorize", "image": {**IMAGE.to_map(), "width": 10_000}}, "too_large", "pixels"),
        (
            {
                "op": "colorize",
                "image": IMAGE.to_map(),
                "points": [{"x": 9, "y": 0, "rgb": [1, 2, 3]}],
            },
            "bad_points",
            "outside",
        ),
        (
            {
                "op": "swatches",
                "image": IMAGE.to_map(),
                "points": [{"x": 0, "y": 0, "rgb": [1, 2, 3]}],
            },
            "unsupported",
            "rgb",
        ),
        ({"op": "swatches", "image": IMAGE.to_map(), "mode": "lineart"}, "unsupported", "photos"),
        (
            {"op": "suggest_points", "image": IMAGE.to_map(), "k": 65},
            "bad_request",
            "between 1 and 64",
        ),
        (
            {"op": "regions", "image": IMAGE.to_map(), "max_regions": 0},
            "bad_request",
            "max_regions",
        ),
        (
            {
                "op": "colorize",
                "image": IMAGE.to_map(),
                "mode": "lineart",
                "labels": IMAGE.to_map(),
            },
            "bad_image",
            "gray16",
        ),
        ({"op": "paint"}, "unsupported", "paint"),
    ],
)
def test_strict_parsing(m, code, words):
    with pytest.raises(P.ProtocolError) as err:
        P.parse_request({"v": 1, "id": 1, **m}, m["op"], P.Limits(max_pixels=1000))
    assert err.value.code == P.ErrorCode(code)
    assert words in err.value.message


def test_envelope_checks_version_and_op():
    with pytest.raises(P.ProtocolError) as err:
        P.parse_envelope({"v": 2, "op": "info"})
    assert err.value.code is P.ErrorCode.VERSION
    with pytest.raises(P.ProtocolError) as err:
        P.parse_envelope({"v": 1, "op": 5})
    assert err.value.code is P.ErrorCode.BAD_REQUEST


def deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("v", [1.0, True, "1", deep(1000)])  # found by tests/test_fuzz.py
def test_version_must_be_the_integer_1(v):
    with pytest.raises(P.ProtocolError) as err:
        P.parse_envelope({"v": v, "op": "info"})
    assert err.value.code is P.ErrorCode.VERSION and len(err.value.message) < 200


def test_huge_palette_weights_are_scaled_down_together():  # found by tests/test_fuzz.py
    hints = P.GlobalHints.from_map({"palette": [[0, 0, 0, 1e308], [9, 9, 9, 5e307], [1, 2, 3]]})
    assert hints is not None
    assert [p[3] for p in hints.palette] == [1.0, 0.5, 1 / 1e308]
    kept = P.GlobalHints.from_map({"palette": [[0, 0, 0, 2.5], [1, 2, 3]]})
    assert kept is not None and [p[3] for p in kept.palette] == [2.5, 1.0]


def test_default_endpoint_follows_the_environment(monkeypatch):
    monkeypatch.delenv(P.ENDPOINT_ENV, raising=False)
    assert P.default_endpoint() == P.DEFAULT_ENDPOINT
    monkeypatch.setenv(P.ENDPOINT_ENV, "ipc:///tmp/x")
    assert P.default_endpoint() == "ipc:///tmp/x"


def doc_section(title: str) -> str:
    m = re.search(rf"^## `{title}`.*?(?=^## )", DOC, re.S | re.M)
    assert m, f"docs/protocol.md has no section for `{title}`"
    return m.group(0)


def test_docs_name_every_op_error_code_and_field():
    for code in P.ErrorCode:
        assert f"`{code.value}`" in DOC, code
    for fmt in P.BYTES_PER_PIXEL:
        assert f'"{fmt}"' in DOC, fmt
    assert f"protocol, version {P.VERSION}" in DOC and P.DEFAULT_ENDPOINT in DOC
    for op, kind in P.REQUESTS.items():
        names = kind.PHOTO_FIELDS | kind.LINEART_FIELDS if op is P.Op.COLORIZE else kind.FIELDS
        text = DOC if op is P.Op.COLORIZE else doc_section(op.value)
        for name in names:
            assert f"`{name}`" in text or f'"{name}"' in text, (op, name)
    for reply in P.REPLIES.values():
        for f in fields(reply):
            assert f"`{f.name}`" in DOC or f'"{f.name}"' in DOC, (reply.__name__, f.name)


@pytest.mark.unit
def test_the_watcher_cancels_only_when_the_plugin_never_said_done():
    from chromahint_client.cancel_watch import orphaned

    assert orphaned(["a-1\n", "a-2\n"]) == "a-2"
    assert orphaned(["a-1\n", "done\n"]) is None
    assert orphaned([]) is None
