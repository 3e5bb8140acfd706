"""Hypothesis strategies for tests/test_fuzz.py: the frames a careless or hostile client sends.

Every strategy yields a `Case` (the body frames and the socket to send them on). Requests
are built from the protocol types, so "valid" means what `chromahint_client.protocol`
accepts, and then damaged: fields dropped, retyped, duplicated, pushed out of range, keys
that are not strings, odd ids, truncated and bit-flipped frames, deep nesting, sizes that
claim far more than the bytes carry, and several frames where one is expected.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
from hypothesis import strategies as st

from chromahint_client import protocol as P


@dataclass(frozen=True)
class Raw:
    """Bytes written as they are inside a packed message (a header, a deep nest)."""

    data: bytes


# A small image cache: the memory bound of the run must hold with the cache full.
LIMITS = P.Limits(max_pixels=4096, max_points=64, max_message_bytes=1_000_000, cache_mb=32)
OPS = [op.value for op in P.Op]
FIELDS = sorted(
    {"image", "points", "mode", "swatches", "palette", "saturation", "region_hints", "labels"}
    | {"k", "hints", "max_regions", "image_id", "target"}
    # "progress" asks for several messages per request, which a REQ socket cannot take:
    # tests/test_live.py covers it.
    | (P.ENVELOPE - {"progress"})
)
EXTREMES: list[Any] = [
    *(-1, 0, 1, 2, 255, 256, 4096, 4097, 65535, 65536, (1 << 20) + 1, 2**31, 2**32),
    *(2**63 - 1, -(2**63), 2**64 - 1, True, False, None),
    *(float("nan"), float("inf"), float("-inf"), -0.0, 0.5, 1e308, 5e-324, -1e-9),
    *("", "x" * 1000, "photo", "lineart", "gray8", Raw(b"\xa3\xed\xb3\xbf")),  # bad UTF-8
    *(b"", b"\x00" * 1000, [], {}, [0, 0, 0], [255, 255, 255, 1], {"": None}),
]
extremes = st.sampled_from(EXTREMES).map(copy.deepcopy)  # fresh lists and maps, to mutate


@dataclass(frozen=True)
class Case:
    frames: tuple[bytes, ...]
    via: str = "req"  # "req"; "dealer" (with the empty delimiter); "dealer-raw" (without)

    def __repr__(self) -> str:
        shown = []
        for f in self.frames:
            head = f[:48].hex()
            shown.append(f"{len(f)}B {head}{'…' if len(f) > 48 else ''}")
        return f"Case(via={self.via}, frames=[{'; '.join(shown)}])"


def _header(n: int, fix: int, code16: int) -> bytes:
    if n < 16:
        return bytes([fix | n])
    if n < 1 << 16:
        return bytes([code16]) + n.to_bytes(2, "big")
    return bytes([code16 + 1]) + n.to_bytes(4, "big")


def pack(obj: Any, dups: dict[int, list[tuple[Any, Any]]] | None = None) -> bytes:
    """msgpack, plus `Raw` bytes and repeated keys (`dups`: id(dict) -> extra pairs)."""
    if isinstance(obj, Raw):
        return obj.data
    if isinstance(obj, dict):
        pairs = list(obj.items()) + (dups or {}).get(id(obj), [])
        body = b"".join(pack(k, dups) + pack(v, dups) for k, v in pairs)
        return _header(len(pairs), 0x80, 0xDE) + body
    if isinstance(obj, list | tuple):
        return _header(len(obj), 0x90, 0xDC) + b"".join(pack(x, dups) for x in obj)
    return msgpack.packb(obj, use_bin_type=True)


def one(frame: bytes) -> Case:
    return Case((frame,))


# -- random msgpack values -------------------------------------------------------------------
def _ext(code: int, data: bytes) -> Raw:
    return Raw(b"\xc7" + bytes([len(data)]) + code.to_bytes(1, "big", signed=True) + data)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=24),
    extremes,
    st.builds(_ext, st.integers(-128, 127), st.binary(max_size=13)),
)
keys = st.one_of(
    st.sampled_from(FIELDS), st.text(max_size=8), st.integers(-5, 2**40), st.binary(max_size=6)
)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(keys, kids, max_size=5),
    max_leaves=10,
)


@st.composite
def random_values(draw) -> Case:
    """Any msgpack value, raw bytes, or an envelope around random fields."""
    kind = draw(st.sampled_from(["value", "bytes", "envelope"]))
    if kind == "bytes":
        return one(draw(st.binary(max_size=64)))
    if kind == "value":
        return one(pack(draw(values)))
    fields = draw(st.dictionaries(keys, values, max_size=4))
    op = draw(st.sampled_from(OPS) | scalars)
    return one(pack({"v": 1, "op": op, "id": draw(values), **fields}))


# -- valid requests, built from the protocol types --------------------------------------------
def fill(n: int, kind: str, seed: int) -> bytes:
    if kind == "zero":
        return bytes(n)
    if kind == "ones":
        return b"\xff" * n
    if kind == "ramp":
        return bytes(i % 251 for i in range(n))
    return np.random.default_rng(seed).bytes(n)


SHAPES = [(1, 1), (1, 2), (2, 1), (3, 5), (8, 8), (1, 4096), (4096, 1), (64, 64), (3, 1365)]


@st.composite
def images(draw, big: bool = False, fmt: str | None = None, size: tuple[int, int] | None = None):
    if size is not None:
        w, h = size
    elif big:
        w, h = draw(st.sampled_from(SHAPES))
    else:
        w, h = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fmt = fmt or draw(st.sampled_from(sorted(P.BYTES_PER_PIXEL)))
    n = w * h * P.BYTES_PER_PIXEL[fmt]
    kind = draw(st.sampled_from(["random", "zero", "ones", "ramp"]))
    return P.Image(w, h, fmt, fill(n, kind, draw(st.integers(0, 2**16))))


def _coord(side: int):
    return st.floats(0, side, exclude_max=True) | st.sampled_from([0.0, side - 1e-9, side / 2])


rgbs = st.tuples(*[st.floats(0, 255) | st.sampled_from([0.0, 255.0])] * 3)


@st.composite
def points(draw, image: P.Image, most: int = 3, spots: bool = False) -> tuple:
    out = []
    for _ in range(draw(st.integers(0, most))):
        x, y = draw(_coord(image.width)), draw(_coord(image.height))
        if spots:
            out.append(P.Spot(x, y))
        else:
            size = draw(st.integers(1, max(image.width, image.height)))
            out.append(P.Point(x, y, draw(rgbs), size))
    return tuple(out)


@st.composite
def global_hints(draw) -> P.GlobalHints | None:
    if draw(st.booleans()):
        return None
    weights = st.floats(0, 10) | st.sampled_from([0.0, 1e308, 5e-324])
    palette = draw(st.lists(st.tuples(*[st.floats(0, 255)] * 3, weights), max_size=3))
    if palette and sum(p[3] for p in palette) <= 0:
        palette[0] = (*palette[0][:3], 1.0)
    saturation = draw(st.none() | st.floats(0, 1))
    return P.GlobalHints(tuple(palette), saturation)


@st.composite
def requests(draw, big: bool = False, max_regions: int = 8) -> P.Request:
    op = draw(st.sampled_from(OPS))
    if op == "info":
        return P.InfoRequest()
    image = draw(images(big))
    most = 64 if big and draw(st.booleans()) else 3
    if op == "regions":
        return P.RegionsRequest(image, draw(st.none() | st.integers(1, max_regions)))
    if op == "swatches":
        spots = draw(points(image, most, spots=True))
        k = draw(st.integers(1, P.MAX_SWATCHES))
        return P.SwatchesRequest(
            image, spots, k, draw(points(image)), P.Mode.PHOTO, draw(global_hints())
        )
    if op == "suggest_points":
        k = draw(st.integers(1, P.MAX_SUGGESTIONS))
        return P.SuggestPointsRequest(
            image, draw(points(image, most)), k, P.Mode.PHOTO, draw(global_hints())
        )
    swatches = draw(st.sampled_from([0, 0, 1, 5, P.MAX_SWATCHES]))
    if draw(st.booleans()):
        return P.ColorizeRequest(
            image, draw(points(image, most)), P.Mode.PHOTO, swatches, draw(global_hints())
        )
    region_hints = tuple(
        P.RegionHint(draw(st.integers(1, P.MAX_REGION_ID)), draw(rgbs))
        for _ in range(draw(st.integers(0, 3)))
    )
    labels = None
    if draw(st.booleans()):
        labels = draw(images(fmt="gray16", size=(image.width, image.height)))
    pts = draw(points(image, most))
    return P.ColorizeRequest(image, pts, P.Mode.LINEART, swatches, None, region_hints, labels)


ids = st.integers(0, 2**31)


@st.composite
def valid_requests(draw, max_regions: int = 8) -> Case:
    """Valid requests at the edges: 1-pixel and 4096 x 1 images, every format, 64 points."""
    return one(pack(P.request_map(draw(requests(True, max_regions)), draw(ids))))


# -- mutated requests --------------------------------------------------------------------------
odd_ids = st.one_of(
    st.sampled_from([float("nan"), float("inf"), 2**64 - 1, -(2**63), b"", "", True, None]),
    values,
    st.integers(1, 200).map(lambda n: Raw(b"\x91" * n + b"\x01")),
    st.integers(1, 200_000).map(lambda n: b"\x07" * n),
)
MUTATIONS = ["drop", "retype", "extreme", "nudge", "unknown", "rekey", "duplicate"]
MUTATIONS += ["id", "op", "version"]


def _slots(node: Any, out: list) -> list:
    """(container, key) for every value inside a request map, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in list(items):
        out.append((node, k))
        if isinstance(v, dict | list):
            _slots(v, out)
    return out


def _nudged(draw, v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        n = draw(st.sampled_from([v - 1, v + 1, -v, v << 20, v + 2**62]))
        return max(-(2**63), min(2**64 - 1, n))  # what msgpack can carry
    if isinstance(v, float):
        return draw(st.sampled_from([v + 1e-9, -v - 1e-9, v * 1e6, v + 0.5]))
    if isinstance(v, bytes):
        return draw(st.sampled_from([v[:-1], v + b"\x00", v * 2, b""]))
    if isinstance(v, str):
        return draw(st.sampled_from([v.upper(), v + " ", v[:-1], v + "\x00"]))
    return draw(values)


def runs_a_model(frame: bytes) -> bool:
    """Whether the engine would accept this frame for an op other than `info` (~0.3 s)."""
    try:
        req = msgpack.unpackb(frame, raw=False, strict_map_key=False)
        _, op = P.parse_envelope(req)
        return P.parse_request(req, op, LIMITS).op is not P.Op.INFO
    except Exception:
        return False


def _mutate(draw, m: dict, dups: dict[int, list]) -> None:
    kind = draw(st.sampled_from(MUTATIONS))
    # `v` and `op` have mutations of their own; a bad `v` would hide every other field.
    slots = [(node, k) for node, k in _slots(m, []) if node is not m or k not in ("v", "op")]
    if not slots:  # nothing left but the envelope
        m[draw(keys)] = draw(values)
        return
    node, k = slots[draw(st.integers(0, len(slots) - 1))]
    if kind == "id":
        m["id"] = draw(odd_ids)
    elif kind == "op":
        m["op"] = draw(st.sampled_from([*OPS, "", "INFO", "info ", "info\x00", "colorise"]))
    elif kind == "version":
        m["v"] = draw(st.sampled_from([0, 2, -1, 1.0, True, "1", None, 2**64 - 1, b"\x01"]))
    elif kind == "drop":
        del node[k]
    elif kind == "retype":
        node[k] = draw(values)
    elif kind == "extreme":
        node[k] = draw(extremes)
    elif kind == "nudge":
        node[k] = _nudged(draw, node[k])
    elif kind == "unknown":
        target = node[k] if isinstance(node[k], dict) else m
        target[draw(keys)] = draw(values)
    elif kind == "rekey" and isinstance(node, dict) and isinstance(k, str):
        new = draw(st.sampled_from([k.encode(), len(k), None, True, 1.5, k + "\x00"]))
        node[new] = node.pop(k)
    elif kind == "duplicate" and isinstance(node, dict):
        dups.setdefault(id(node), []).append((k, draw(st.just(node[k]) | values)))


# A mutant that is still a valid request runs a model (valid_requests covers those), so
# most such are mutated again: the cases stay cheap and explore the error paths.
MORE_ROUNDS = 3


@st.composite
def mutated_requests(draw, max_regions: int = 8) -> Case:
    m = P.request_map(draw(requests(max_regions=max_regions)), draw(ids))
    # to_map() leaves tuples in places; lists are what msgpack hands the engine anyway.
    m = msgpack.unpackb(msgpack.packb(m, use_bin_type=True), raw=False)
    dups: dict[int, list] = {}
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, m, dups)
    for _ in range(MORE_ROUNDS):
        if not runs_a_model(pack(m, dups)):
            break
        _mutate(draw, m, dups)
    return one(pack(m, dups))


# -- damaged frames ----------------------------------------------------------------------------
def _damage(draw, frame: bytearray) -> None:
    kind = draw(st.sampled_from(["truncate", "flip", "byte", "insert", "delete", "append"]))
    pos = draw(st.integers(0, max(0, len(frame) - 1)))
    if kind == "truncate":
        del frame[pos:]
    elif kind == "flip" and frame:
        for _ in range(draw(st.integers(1, 8))):
            bit = draw(st.integers(0, 8 * len(frame) - 1))
            frame[bit // 8] ^= 1 << (bit % 8)
    elif kind == "byte" and frame:
        frame[pos] = draw(st.integers(0, 255))
    elif kind == "insert":
        frame[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    elif kind == "delete":
        del frame[pos : pos + draw(st.integers(1, 8))]
    else:
        frame += draw(st.binary(min_size=1, max_size=16))


@st.composite
def damaged_frames(draw, max_regions: int = 8) -> Case:
    """A valid request's frame, truncated, bit-flipped, overwritten, spliced or extended."""
    frame = bytearray(pack(P.request_map(draw(requests(max_regions=max_regions)), draw(ids))))
    _damage(draw, frame)
    for _ in range(MORE_ROUNDS):
        if not runs_a_model(bytes(frame)):
            break
        _damage(draw, frame)
    return one(bytes(frame))


# -- deep nesting --------------------------------------------------------------------------------
DEPTHS = [2, 100, 511, 512, 1000, 1022, 1023, 1024, 1025, 2000, 100_000]
PLACES = ["top", "id", "v", "op", "image", "image.width", "image.data", "points", "points[0]"]
PLACES += ["points[0].x", "palette", "unknown", "labels", "region_hints", "mode"]
TINY = {"width": 1, "height": 1, "format": "gray8", "data": b"\x80"}


def _base(op: str) -> dict:
    return {"v": 1, "op": op, "id": 1, "image": dict(TINY), "points": [{"x": 0, "y": 0}]}


def _place(op: str, where: str, value: Any) -> bytes:
    m = _base(op)
    if where == "top":
        return pack(value)
    if where in ("image.width", "image.data"):
        m["image"][where.split(".")[1]] = value
    elif where == "points[0]":
        m["points"] = [value]
    elif where == "points[0].x":
        m["points"][0]["x"] = value
    elif where == "unknown":
        m["nest"] = value
    else:
        m[where] = value
    return pack(m)


@st.composite
def deep_frames(draw) -> Case:
    depth = draw(st.sampled_from(DEPTHS) | st.integers(1, 3000))
    shape = draw(st.sampled_from(["array", "map", "mixed"]))
    leaf = draw(st.sampled_from([b"\xc0", b"\x01", b"\xa1x", b"\x90", b"\x80"]))
    level = {"array": [b"\x91"], "map": [b"\x81\xa1k"], "mixed": [b"\x91", b"\x81\xa1k"]}[shape]
    nest = b"".join(level[i % len(level)] for i in range(depth)) + leaf
    op = draw(st.sampled_from(OPS))
    return one(_place(op, draw(st.sampled_from(PLACES)), Raw(nest)))


# -- huge declared sizes -----------------------------------------------------------------------
SIDES = [0, 1, 63, 64, 65, 2000, 1 << 20, (1 << 20) + 1, 2**31, 2**63 - 1, -1]
# (header, bytes of its count): array/map/bin/str 32 and 16, bin/str 8, claiming a lot.
CLAIMS = [(b"\xdd", 4), (b"\xdf", 4), (b"\xc6", 4), (b"\xdb", 4), (b"\xdc", 2), (b"\xde", 2)]
CLAIMS += [(b"\xc5", 2), (b"\xda", 2), (b"\xc4", 1), (b"\xd9", 1)]


def oversize(total: int) -> bytes:
    """An `info` request of exactly `total` bytes (the padding is in its id)."""
    overhead = len(pack({"v": 1, "op": "info", "id": bytes(1 << 16)})) - (1 << 16)
    return pack({"v": 1, "op": "info", "id": bytes(total - overhead)})


@st.composite
def huge_frames(draw) -> Case:
    kind = draw(st.sampled_from(["image", "image", "header", "oversize"]))
    if kind == "image":
        w, h = draw(st.sampled_from(SIDES)), draw(st.sampled_from(SIDES))
        fmt = draw(st.sampled_from(sorted(P.BYTES_PER_PIXEL)))
        image = {"width": w, "height": h, "format": fmt, "data": draw(st.binary(max_size=16))}
        m = _base(draw(st.sampled_from(OPS[1:])))
        m[draw(st.sampled_from(["image", "labels"]))] = image
        m["mode"] = draw(st.sampled_from(["photo", "lineart"]))
        return one(pack(m))
    if kind == "header":
        code, width = draw(st.sampled_from(CLAIMS))
        count = draw(st.sampled_from([2 ** (8 * width) - 1, 2 ** (8 * width - 1), 17]))
        claim = Raw(code + count.to_bytes(width, "big") + draw(st.binary(max_size=8)))
        return one(_place(draw(st.sampled_from(OPS)), draw(st.sampled_from(PLACES)), claim))
    limit = LIMITS.max_message_bytes
    total = draw(st.sampled_from([limit - 1, limit, limit + 1, limit + 4096, 1_500_000, 1_990_000]))
    return one(oversize(total))


# -- several frames ------------------------------------------------------------------------------
INFO_FRAME = pack({"v": 1, "op": "info", "id": 3})


@st.composite
def multi_frames(draw) -> Case:
    via = draw(st.sampled_from(["req", "dealer", "dealer-raw"]))
    part = st.sampled_from([b"", INFO_FRAME]) | st.binary(max_size=12) | values.map(pack)
    lo = 0 if via == "dealer" else 1
    return Case(tuple(draw(st.lists(part, min_size=lo, max_size=5))), via)
