"""Every wire type of the engine protocol, in one module (docs/protocol.md is its prose).

Pure Python (standard library only): the engine validates each request into one of these
types before any work, the client builds requests and reads replies through them, and both
plug-ins use them through the client. Each type has `to_map()` and `from_map()`; parsing is
strict and raises ProtocolError with words a plug-in can show to a person.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
ENDPOINT_ENV = "CHROMAHINT_ENDPOINT"
ENVELOPE = frozenset({"v", "op", "id"})
MAX_SWATCHES = 32
MAX_SUGGESTIONS = 64
MAX_REGION_ID = 65535


def default_endpoint() -> str:
    """The endpoint to use when none is configured: $CHROMAHINT_ENDPOINT, else the default."""
    return os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT


class WireEnum(str, Enum):
    """An Enum whose members are their wire strings, also when formatted."""

    def __str__(self) -> str:
        return self.value


class Op(WireEnum):
    INFO = "info"
    COLORIZE = "colorize"
    SWATCHES = "swatches"
    REGIONS = "regions"
    SUGGEST_POINTS = "suggest_points"


class Mode(WireEnum):
    PHOTO = "photo"
    LINEART = "lineart"


class ErrorCode(WireEnum):
    BAD_REQUEST = "bad_request"
    BAD_IMAGE = "bad_image"
    BAD_POINTS = "bad_points"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    VERSION = "version"
    INTERNAL = "internal"


# Pixel format -> bytes per pixel. Samples are sRGB-encoded, little-endian; floats in [0, 1].
BYTES_PER_PIXEL: dict[str, int] = {
    "gray8": 1,
    "gray16": 2,
    "rgb8": 3,
    "rgb16": 6,
    "rgba8": 4,
    "rgba16": 8,
    "rgbaf32": 16,
}


class ProtocolError(Exception):
    """A message that breaks the protocol; `code` is an ErrorCode, str() is for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 64_000_000  # 8000 x 8000
    max_points: int = 10_000
    max_message_bytes: int = (1 << 30) + (1 << 20)  # an 8000 x 8000 rgba16 image fits

    def to_map(self) -> dict[str, int]:
        return {
            "max_pixels": self.max_pixels,
            "max_points": self.max_points,
            "max_message_bytes": self.max_message_bytes,
        }

    @classmethod
    def from_map(cls, m: Any) -> Limits:
        m = _map(m, "limits")
        return cls(**{k: _int(m.get(k), f"limits.{k}", 1, 1 << 62) for k in cls().to_map()})


# -- field checks ---------------------------------------------------------------------------
def _int(value: Any, name: str, lo: int, hi: int, code: ErrorCode = ErrorCode.BAD_REQUEST) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(code, f"'{name}' must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ProtocolError(code, f"'{name}' must be between {lo} and {hi}, got {value}")
    return value


def _number(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(code, f"'{name}' must be a number, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise ProtocolError(code, f"'{name}' must be a finite number, got {value}")
    return f


def _map(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> Mapping:
    if not isinstance(value, Mapping):
        raise ProtocolError(code, f"'{name}' must be a map, got {type(value).__name__}")
    return value


def _list(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> list:
    if not isinstance(value, list | tuple):
        raise ProtocolError(code, f"'{name}' must be a list, got {type(value).__name__}")
    return list(value)


def _str(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> str:
    if not isinstance(value, str):
        raise ProtocolError(code, f"'{name}' must be a string, got {type(value).__name__}")
    return value


def _only(m: Mapping, allowed: frozenset[str] | set[str], where: str) -> None:
    extra = sorted(str(k) for k in m if k not in allowed)
    if extra:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, f"unknown field(s) {', '.join(extra)} in {where}"
        )


def _rgb(value: Any, name: str, code: ErrorCode) -> tuple[float, float, float]:
    rgb = _list(value, name, code)
    if len(rgb) != 3:
        raise ProtocolError(code, f"'{name}' must hold 3 numbers (r, g, b in 0-255)")
    r, g, b = (_number(c, name, code) for c in rgb)
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise ProtocolError(code, f"'{name}' values must be within 0-255, got {[r, g, b]}")
    return r, g, b


def _count(value: Any, name: str, maximum: int, lo: int = 1) -> int:
    return _int(value, name, lo, maximum)


def _too_many(n: int, name: str, limits: Limits) -> None:
    if n > limits.max_points:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"{n} {name} given; this engine accepts at most {limits.max_points}",
        )


# -- values ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    """Row-major pixels, top row first, channels interleaved (see BYTES_PER_PIXEL)."""

    width: int
    height: int
    format: str
    data: bytes = field(repr=False)

    def to_map(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "data": self.data,
        }

    @classmethod
    def from_map(cls, value: Any, limits: Limits, name: str = "image") -> Image:
        img = _map(value, name, ErrorCode.BAD_IMAGE)
        extra = set(img) - {"width", "height", "format", "data"}
        if extra:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, f"unknown image field(s) {', '.join(map(str, extra))}"
            )
        bad = ErrorCode.BAD_IMAGE
        width = _int(img.get("width"), f"{name}.width", 1, 1 << 20, bad)
        height = _int(img.get("height"), f"{name}.height", 1, 1 << 20, bad)
        if width * height > limits.max_pixels:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"the image is {width}x{height} = {width * height} pixels; "
                f"this engine accepts at most {limits.max_pixels}",
            )
        fmt = _str(img.get("format"), f"{name}.format", bad)
        data = img.get("data")
        if not isinstance(data, bytes | bytearray):
            raise ProtocolError(bad, f"'{name}.data' must be binary (msgpack bin)")
        if fmt not in BYTES_PER_PIXEL:
            raise ProtocolError(
                bad, f"unknown pixel format {fmt!r}; use one of {', '.join(BYTES_PER_PIXEL)}"
            )
        expected = width * height * BYTES_PER_PIXEL[fmt]
        if len(data) != expected:
            raise ProtocolError(
                bad, f"image data is {len(data)} bytes but {width}x{height} {fmt} needs {expected}"
            )
        return cls(width, height, fmt, bytes(data) if isinstance(data, bytearray) else data)


@dataclass(frozen=True)
class Point:
    """A hint in image pixels: the square of side `size` at (x, y), colour `rgb` 0-255."""

    x: float
    y: float
    rgb: tuple[float, float, float]
    size: int = 1

    def to_map(self) -> dict:
        return {"x": self.x, "y": self.y, "rgb": list(self.rgb), "size": int(self.size)}

    @classmethod
    def from_map(cls, value: Any, name: str, image: Image) -> Point:
        p = _map(value, name, ErrorCode.BAD_POINTS)
        _only(p, {"x", "y", "rgb", "size"}, name)
        x, y = _inside(p, name, image)
        rgb = _rgb(p.get("rgb"), f"{name}.rgb", ErrorCode.BAD_POINTS)
        size = _int(
            p.get("size", 1),
            f"{name}.size",
            1,
            max(image.width, image.height),
            ErrorCode.BAD_POINTS,
        )
        return cls(x, y, rgb, size)


@dataclass(frozen=True)
class Spot:
    """A place asked about, in image pixels."""

    x: float
    y: float

    def to_map(self) -> dict:
        return {"x": self.x, "y": self.y}

    @classmethod
    def from_map(cls, value: Any, name: str, image: Image) -> Spot:
        p = _map(value, name, ErrorCode.BAD_POINTS)
        _only(p, {"x", "y"}, name)
        return cls(*_inside(p, name, image))


def _inside(p: Mapping, name: str, image: Image) -> tuple[float, float]:
    x = _number(p.get("x"), f"{name}.x", ErrorCode.BAD_POINTS)
    y = _number(p.get("y"), f"{name}.y", ErrorCode.BAD_POINTS)
    if not (0 <= x < image.width and 0 <= y < image.height):
        raise ProtocolError(
            ErrorCode.BAD_POINTS,
            f"{name} at ({x:g}, {y:g}) lies outside the {image.width}x{image.height} image",
        )
    return x, y


def _points(
    value: Any, name: str, image: Image, limits: Limits, kind: type[Point | Spot] = Point
) -> tuple:
    if value is None:
        return ()
    items = _list(value, name, ErrorCode.BAD_POINTS)
    _too_many(len(items), name, limits)
    return tuple(kind.from_map(item, f"{name}[{i}]", image) for i, item in enumerate(items))


@dataclass(frozen=True)
class GlobalHints:
    """Zhang et al.'s global hints: a target colour distribution and/or a saturation."""

    palette: tuple[tuple[float, float, float, float], ...] = ()  # (r, g, b 0-255, weight)
    saturation: float | None = None

    @property
    def empty(self) -> bool:
        return not self.palette and self.saturation is None

    def to_map(self) -> dict:
        out: dict = {}
        if self.palette:
            out["palette"] = [list(p) for p in self.palette]
        if self.saturation is not None:
            out["saturation"] = self.saturation
        return out

    @classmethod
    def from_map(cls, req: Mapping) -> GlobalHints | None:
        palette_in, saturation_in = req.get("palette"), req.get("saturation")
        if palette_in is None and saturation_in is None:
            return None
        palette = []
        for i, entry in enumerate(_list(palette_in or [], "palette")):
            e = _list(entry, f"palette[{i}]")
            if len(e) not in (3, 4):
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"palette[{i}] must be [r, g, b] or [r, g, b, weight]"
                )
            r, g, b = _rgb(e[:3], f"palette[{i}]", ErrorCode.BAD_REQUEST)
            w = _number(e[3], f"palette[{i}] weight") if len(e) == 4 else 1.0
            if w < 0:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"palette[{i}] weight must not be negative"
                )
            palette.append((r, g, b, w))
        if palette and sum(p[3] for p in palette) <= 0:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "palette weights must not all be zero")
        saturation = None
        if saturation_in is not None:
            saturation = _number(saturation_in, "saturation")
            if not 0.0 <= saturation <= 1.0:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "'saturation' must be within 0-1")
        return cls(palette=tuple(palette), saturation=saturation)


@dataclass(frozen=True)
class RegionHint:
    region: int
    rgb: tuple[float, float, float]

    def to_map(self) -> dict:
        return {"region": self.region, "rgb": list(self.rgb)}

    @classmethod
    def from_map(cls, value: Any, name: str) -> RegionHint:
        h = _map(value, name)
        _only(h, {"region", "rgb"}, name)
        region = _int(h.get("region"), f"{name}.region", 1, MAX_REGION_ID)
        return cls(region, _rgb(h.get("rgb"), f"{name}.rgb", ErrorCode.BAD_REQUEST))


def _mode(value: Any) -> Mode:
    if value is None:
        return Mode.PHOTO
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'mode' must be 'photo' or 'lineart'")
    try:
        return Mode(value)
    except ValueError:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, f"unknown mode {value!r}; use 'photo' or 'lineart'"
        ) from None


def _fields(req: Mapping, op: str, allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in req if k not in allowed and k not in ENVELOPE)
    if unknown:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED,
            f"this engine does not support the field(s) {', '.join(unknown)} in '{op}'",
        )


def _global_map(mode: Mode, global_hints: GlobalHints | None) -> dict:
    out: dict = {"mode": mode.value}
    if global_hints is not None:
        out.update(global_hints.to_map())
    return out


# -- requests -------------------------------------------------------------------------------
@dataclass(frozen=True)
class InfoRequest:
    op: ClassVar[Op] = Op.INFO
    FIELDS: ClassVar[frozenset[str]] = frozenset()

    def to_map(self) -> dict:
        return {}

    @classmethod
    def from_map(cls, req: Mapping, limits: Limits) -> InfoRequest:
        _fields(req, cls.op.value, cls.FIELDS)
        return cls()


@dataclass(frozen=True)
class ColorizeRequest:
    image: Image
    points: tuple[Point, ...] = ()
    mode: Mode = Mode.PHOTO
    swatches: int = 0  # k swatches per hint blob
    global_hints: GlobalHints | None = None  # photo only
    region_hints: tuple[RegionHint, ...] = ()  # line art only
    labels: Image | None = None  # line art only: the `regions` reply's labels

    op: ClassVar[Op] = Op.COLORIZE
    PHOTO_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "points", "mode", "swatches", "palette", "saturation"}
    )
    LINEART_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "points", "mode", "swatches", "region_hints", "labels"}
    )

    def to_map(self) -> dict:
        out: dict = {"image": self.image.to_map(), "points": [p.to_map() for p in self.points]}
        out.update(_global_map(self.mode, self.global_hints))
        if self.swatches:
            out["swatches"] = self.swatches
        if self.region_hints:
            out["region_hints"] = [h.to_map() for h in self.region_hints]
        if self.labels is not None:
            out["labels"] = self.labels.to_map()
        return out

    @classmethod
    def from_map(cls, req: Mapping, limits: Limits) -> ColorizeRequest:
        lineart = req.get("mode") == Mode.LINEART.value
        _fields(req, cls.op.value, cls.LINEART_FIELDS if lineart else cls.PHOTO_FIELDS)
        mode = _mode(req.get("mode"))
        image = Image.from_map(req.get("image"), limits)
        points = _points(req.get("points"), "points", image, limits)
        swatches = (
            0
            if req.get("swatches") is None
            else _count(req["swatches"], "swatches", MAX_SWATCHES, 0)
        )
        if mode is Mode.PHOTO:
            return cls(image, points, mode, swatches, GlobalHints.from_map(req))
        items = _list(req.get("region_hints") or [], "region_hints")
        _too_many(len(items), "region_hints", limits)
        region_hints = tuple(
            RegionHint.from_map(h, f"region_hints[{i}]") for i, h in enumerate(items)
        )
        labels = None
        if req.get("labels") is not None:
            labels = Image.from_map(req["labels"], limits, name="labels")
            if labels.format != "gray16" or (labels.width, labels.height) != (
                image.width,
                image.height,
            ):
                raise ProtocolError(
                    ErrorCode.BAD_IMAGE,
                    "'labels' must be the gray16 image of a 'regions' reply for this "
                    f"{image.width}x{image.height} image",
                )
        return cls(image, points, mode, swatches, None, region_hints, labels)


@dataclass(frozen=True)
class SwatchesRequest:
    image: Image
    points: tuple[Spot, ...]  # where to suggest colours
    k: int = 5
    hints: tuple[Point, ...] = ()
    mode: Mode = Mode.PHOTO
    global_hints: GlobalHints | None = None

    op: ClassVar[Op] = Op.SWATCHES
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "points", "k", "hints", "mode", "palette", "saturation"}
    )

    def to_map(self) -> dict:
        return {
            "image": self.image.to_map(),
            "points": [p.to_map() for p in self.points],
            "k": self.k,
            "hints": [h.to_map() for h in self.hints],
            **_global_map(self.mode, self.global_hints),
        }

    @classmethod
    def from_map(cls, req: Mapping, limits: Limits) -> SwatchesRequest:
        _fields(req, cls.op.value, cls.FIELDS)
        mode = _mode(req.get("mode"))
        if mode is Mode.LINEART:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED,
                "line art has no colour distribution; swatches are for photos",
            )
        image = Image.from_map(req.get("image"), limits)
        return cls(
            image,
            _points(req.get("points"), "points", image, limits, kind=Spot),
            5 if req.get("k") is None else _count(req["k"], "k", MAX_SWATCHES),
            _points(req.get("hints"), "hints", image, limits),
            mode,
            GlobalHints.from_map(req),
        )


@dataclass(frozen=True)
class SuggestPointsRequest:
    image: Image
    points: tuple[Point, ...] = ()  # the hints so far
    k: int = 5
    mode: Mode = Mode.PHOTO
    global_hints: GlobalHints | None = None

    op: ClassVar[Op] = Op.SUGGEST_POINTS
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "points", "k", "mode", "palette", "saturation"}
    )

    def to_map(self) -> dict:
        return {
            "image": self.image.to_map(),
            "points": [p.to_map() for p in self.points],
            "k": self.k,
            **_global_map(self.mode, self.global_hints),
        }

    @classmethod
    def from_map(cls, req: Mapping, limits: Limits) -> SuggestPointsRequest:
        _fields(req, cls.op.value, cls.FIELDS)
        mode = _mode(req.get("mode"))
        if mode is not Mode.PHOTO:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, "suggest_points is for photos; for line art use 'regions'"
            )
        image = Image.from_map(req.get("image"), limits)
        return cls(
            image,
            _points(req.get("points"), "points", image, limits),
            5 if req.get("k") is None else _count(req["k"], "k", MAX_SUGGESTIONS),
            mode,
            GlobalHints.from_map(req),
        )


@dataclass(frozen=True)
class RegionsRequest:
    image: Image
    max_regions: int | None = None  # default: the line-art model's maximum

    op: ClassVar[Op] = Op.REGIONS
    FIELDS: ClassVar[frozenset[str]] = frozenset({"image", "max_regions"})

    def to_map(self) -> dict:
        out: dict = {"image": self.image.to_map()}
        if self.max_regions is not None:
            out["max_regions"] = self.max_regions
        return out

    @classmethod
    def from_map(cls, req: Mapping, limits: Limits) -> RegionsRequest:
        _fields(req, cls.op.value, cls.FIELDS)
        image = Image.from_map(req.get("image"), limits)
        max_regions = req.get("max_regions")
        if max_regions is not None:
            max_regions = _count(max_regions, "max_regions", MAX_REGION_ID)
        return cls(image, max_regions)


Request = InfoRequest | ColorizeRequest | SwatchesRequest | SuggestPointsRequest | RegionsRequest
REQUESTS: dict[Op, type] = {
    cls.op: cls
    for cls in (InfoRequest, ColorizeRequest, SwatchesRequest, SuggestPointsRequest, RegionsRequest)
}


def parse_envelope(req: Any) -> tuple[Any, str]:
    """(id, op name) of a decoded request map; the version must be ours."""
    req = _map(req, "request")
    rid = req.get("id")
    if req.get("v") != VERSION:
        raise ProtocolError(
            ErrorCode.VERSION,
            f"this engine speaks protocol v{VERSION}; the request says v={req.get('v')!r}",
        )
    op = req.get("op")
    if not isinstance(op, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'op' must be a string naming the operation")
    return rid, op


def parse_request(req: Mapping, op: str, limits: Limits) -> Request:
    """A decoded request map (envelope already checked) -> its typed request."""
    try:
        kind = REQUESTS[Op(op)]
    except ValueError:
        names = ", ".join(sorted(o.value for o in Op))
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, f"unknown operation {op!r}; this engine supports {names}"
        ) from None
    return kind.from_map(req, limits)


def request_map(request: Request, rid: Any) -> dict:
    """The full request map to send: envelope plus fields."""
    return {"v": VERSION, "op": request.op.value, "id": rid, **request.to_map()}


# -- replies --------------------------------------------------------------------------------
def _timing(m: Mapping) -> dict[str, float]:
    t = m.get("timing_ms") or {}
    return {str(k): float(v) for k, v in _map(t, "timing_ms").items()}


@dataclass(frozen=True)
class Swatch:
    rgb: tuple[int, int, int]
    p: float

    def to_map(self) -> dict:
        return {"rgb": list(self.rgb), "p": self.p}

    @classmethod
    def from_map(cls, value: Any) -> Swatch:
        m = _map(value, "swatch")
        r, g, b = (int(c) for c in _rgb(m.get("rgb"), "swatch.rgb", ErrorCode.BAD_REQUEST))
        return cls((r, g, b), _number(m.get("p", 0.0), "swatch.p"))


def _swatch_rows(value: Any) -> list[list[Swatch]]:
    return [
        [Swatch.from_map(s) for s in _list(row, "swatches row")]
        for row in _list(value or [], "swatches")
    ]


@dataclass(frozen=True)
class ModelInfo:
    mode: str
    name: str
    description: str
    learned: bool
    working_size: int
    max_regions: int | None = None  # line-art models

    def to_map(self) -> dict:
        out = {
            "mode": self.mode,
            "name": self.name,
            "description": self.description,
            "learned": self.learned,
            "working_size": self.working_size,
        }
        if self.max_regions is not None:
            out["max_regions"] = self.max_regions
        return out

    @classmethod
    def from_map(cls, value: Any) -> ModelInfo:
        m = _map(value, "model")
        max_regions = m.get("max_regions")
        return cls(
            str(m.get("mode", "")),
            str(m.get("name", "")),
            str(m.get("description", "")),
            bool(m.get("learned", False)),
            int(m.get("working_size", 0)),
            int(max_regions) if max_regions is not None else None,
        )


@dataclass(frozen=True)
class InfoReply:
    engine: str
    protocol: int
    device: str
    models: tuple[ModelInfo, ...]
    ops: tuple[str, ...]
    limits: Limits
    pid: int

    def to_map(self) -> dict:
        return {
            "engine": self.engine,
            "protocol": self.protocol,
            "device": self.device,
            "models": [m.to_map() for m in self.models],
            "ops": list(self.ops),
            "limits": self.limits.to_map(),
            "pid": self.pid,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> InfoReply:
        return cls(
            str(m.get("engine", "")),
            int(m.get("protocol", 0)),
            str(m.get("device", "")),
            tuple(ModelInfo.from_map(x) for x in _list(m.get("models") or [], "models")),
            tuple(str(o) for o in _list(m.get("ops") or [], "ops")),
            Limits.from_map(m.get("limits")),
            int(m.get("pid", 0)),
        )

    def model(self, mode: Mode) -> ModelInfo | None:
        return next((x for x in self.models if x.mode == mode.value), None)


@dataclass(frozen=True)
class ColorizeReply:
    layer: Image  # rgba8, the input's size
    swatches: list[list[Swatch]]  # one row per hint blob when asked for
    timing_ms: dict[str, float]

    def to_map(self) -> dict:
        return {
            "layer": self.layer.to_map(),
            "swatches": [[s.to_map() for s in row] for row in self.swatches],
            "timing_ms": self.timing_ms,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> ColorizeReply:
        return cls(
            Image.from_map(m.get("layer"), Limits(), "layer"),
            _swatch_rows(m.get("swatches")),
            _timing(m),
        )


@dataclass(frozen=True)
class SwatchesReply:
    swatches: list[list[Swatch]]  # one row per point asked about
    timing_ms: dict[str, float]

    def to_map(self) -> dict:
        rows = [[s.to_map() for s in row] for row in self.swatches]
        return {"swatches": rows, "timing_ms": self.timing_ms}

    @classmethod
    def from_map(cls, m: Mapping) -> SwatchesReply:
        return cls(_swatch_rows(m.get("swatches")), _timing(m))


@dataclass(frozen=True)
class Suggestion:
    x: float
    y: float
    rgb: tuple[int, int, int]
    score: float

    def to_map(self) -> dict:
        return {"x": self.x, "y": self.y, "rgb": list(self.rgb), "score": self.score}

    @classmethod
    def from_map(cls, value: Any) -> Suggestion:
        m = _map(value, "suggestion")
        r, g, b = (int(c) for c in _rgb(m.get("rgb"), "suggestion.rgb", ErrorCode.BAD_REQUEST))
        return cls(
            _number(m.get("x"), "x"),
            _number(m.get("y"), "y"),
            (r, g, b),
            float(m.get("score", 0.0)),
        )


@dataclass(frozen=True)
class SuggestPointsReply:
    points: list[Suggestion]
    timing_ms: dict[str, float]

    def to_map(self) -> dict:
        return {"points": [p.to_map() for p in self.points], "timing_ms": self.timing_ms}

    @classmethod
    def from_map(cls, m: Mapping) -> SuggestPointsReply:
        return cls(
            [Suggestion.from_map(p) for p in _list(m.get("points") or [], "points")], _timing(m)
        )


@dataclass(frozen=True)
class RegionsReply:
    labels: Image  # gray16, region id per pixel, 0 = line or none
    order: list[int]  # region ids, highest priority first
    timing_ms: dict[str, float]

    def to_map(self) -> dict:
        return {
            "labels": self.labels.to_map(),
            "order": list(self.order),
            "timing_ms": self.timing_ms,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> RegionsReply:
        labels = Image.from_map(m.get("labels"), Limits(), "labels")
        if labels.format != "gray16":
            raise ProtocolError(ErrorCode.BAD_IMAGE, "the regions reply's labels must be gray16")
        order = [_int(r, "order[]", 0, MAX_REGION_ID) for r in _list(m.get("order") or [], "order")]
        return cls(labels, order, _timing(m))


Reply = InfoReply | ColorizeReply | SwatchesReply | SuggestPointsReply | RegionsReply
REPLIES: dict[Op, type] = {
    Op.INFO: InfoReply,
    Op.COLORIZE: ColorizeReply,
    Op.SWATCHES: SwatchesReply,
    Op.SUGGEST_POINTS: SuggestPointsReply,
    Op.REGIONS: RegionsReply,
}


def reply_map(reply: Reply, rid: Any) -> dict:
    return {"v": VERSION, "id": rid, "ok": True, **reply.to_map()}


def error_map(rid: Any, code: ErrorCode, message: str) -> dict:
    return {"v": VERSION, "id": rid, "ok": False, "error": {"code": code.value, "message": message}}
