"""Protocol v1: request validation into typed values, error codes and limits.

Every check raises ProtocolError with words a plug-in can show to a person; the server
turns it into an error reply and keeps serving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .imaging import ImageError, Raster, decode
from .models.base import GlobalHints, Point

VERSION = 1
ENVELOPE = frozenset({"v", "op", "id"})

# Error codes (docs/protocol.md lists them).
BAD_REQUEST = "bad_request"
BAD_IMAGE = "bad_image"
BAD_POINTS = "bad_points"
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
VERSION_MISMATCH = "version"
INTERNAL = "internal"

MAX_SWATCHES = 32


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 64_000_000  # 8000 x 8000
    max_points: int = 10_000
    max_message_bytes: int = (1 << 30) + (1 << 20)  # an 8000 x 8000 rgba16 image fits

    def as_dict(self) -> dict[str, int]:
        return {
            "max_pixels": self.max_pixels,
            "max_points": self.max_points,
            "max_message_bytes": self.max_message_bytes,
        }


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_fields(req: dict, op: str, allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in req if k not in allowed and k not in ENVELOPE)
    if unknown:
        raise ProtocolError(
            UNSUPPORTED,
            f"this engine does not support the field(s) {', '.join(unknown)} in '{op}'",
        )


def _int(value: Any, name: str, lo: int, hi: int, code: str = BAD_REQUEST) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(code, f"'{name}' must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ProtocolError(code, f"'{name}' must be between {lo} and {hi}, got {value}")
    return value


def _number(value: Any, name: str, code: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(code, f"'{name}' must be a number, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise ProtocolError(code, f"'{name}' must be a finite number, got {value}")
    return f


def _map(value: Any, name: str, code: str = BAD_REQUEST) -> dict:
    if not isinstance(value, dict):
        raise ProtocolError(code, f"'{name}' must be a map, got {type(value).__name__}")
    return value


def _list(value: Any, name: str, code: str = BAD_REQUEST) -> list:
    if not isinstance(value, list | tuple):
        raise ProtocolError(code, f"'{name}' must be a list, got {type(value).__name__}")
    return list(value)


def parse_envelope(req: Any) -> tuple[Any, str]:
    req = _map(req, "request")
    rid = req.get("id")
    if req.get("v") != VERSION:
        raise ProtocolError(
            VERSION_MISMATCH,
            f"this engine speaks protocol v{VERSION}; the request says v={req.get('v')!r}",
        )
    op = req.get("op")
    if not isinstance(op, str):
        raise ProtocolError(BAD_REQUEST, "'op' must be a string naming the operation")
    return rid, op


def parse_image(value: Any, limits: Limits, name: str = "image") -> Raster:
    img = _map(value, name, BAD_IMAGE)
    unknown = set(img) - {"width", "height", "format", "data"}
    if unknown:
        raise ProtocolError(UNSUPPORTED, f"unknown image field(s) {', '.join(map(str, unknown))}")
    width = _int(img.get("width"), f"{name}.width", 1, 1 << 20, BAD_IMAGE)
    height = _int(img.get("height"), f"{name}.height", 1, 1 << 20, BAD_IMAGE)
    if width * height > limits.max_pixels:
        raise ProtocolError(
            TOO_LARGE,
            f"the image is {width}x{height} = {width * height} pixels; "
            f"this engine accepts at most {limits.max_pixels}",
        )
    fmt = img.get("format")
    data = img.get("data")
    if not isinstance(fmt, str):
        raise ProtocolError(BAD_IMAGE, f"'{name}.format' must be a string")
    if not isinstance(data, bytes | bytearray):
        raise ProtocolError(BAD_IMAGE, f"'{name}.data' must be binary (msgpack bin)")
    try:
        return decode(width, height, fmt, bytes(data) if isinstance(data, bytearray) else data)
    except ImageError as e:
        raise ProtocolError(BAD_IMAGE, str(e)) from None


def _rgb(value: Any, name: str, code: str) -> tuple[float, float, float]:
    rgb = _list(value, name, code)
    if len(rgb) != 3:
        raise ProtocolError(code, f"'{name}' must hold 3 numbers (r, g, b in 0-255)")
    out = tuple(_number(c, name, code) for c in rgb)
    if any(not 0 <= c <= 255 for c in out):
        raise ProtocolError(code, f"'{name}' values must be within 0-255, got {list(out)}")
    return out  # type: ignore[return-value]


def parse_points(
    value: Any, raster: Raster, limits: Limits, name: str = "points", with_rgb: bool = True
) -> list[Point]:
    if value is None:
        return []
    items = _list(value, name, BAD_POINTS)
    if len(items) > limits.max_points:
        raise ProtocolError(
            TOO_LARGE, f"{len(items)} {name} given; this engine accepts at most {limits.max_points}"
        )
    points = []
    for i, item in enumerate(items):
        p = _map(item, f"{name}[{i}]", BAD_POINTS)
        allowed = {"x", "y", "rgb", "size"} if with_rgb else {"x", "y"}
        extra = set(p) - allowed
        if extra:
            raise ProtocolError(
                UNSUPPORTED, f"unknown field(s) {', '.join(map(str, extra))} in {name}[{i}]"
            )
        x = _number(p.get("x"), f"{name}[{i}].x", BAD_POINTS)
        y = _number(p.get("y"), f"{name}[{i}].y", BAD_POINTS)
        if not (0 <= x < raster.width and 0 <= y < raster.height):
            raise ProtocolError(
                BAD_POINTS,
                f"{name}[{i}] at ({x:g}, {y:g}) lies outside the "
                f"{raster.width}x{raster.height} image",
            )
        if with_rgb:
            rgb = _rgb(p.get("rgb"), f"{name}[{i}].rgb", BAD_POINTS)
            size = p.get("size", 1)
            size = _int(size, f"{name}[{i}].size", 1, max(raster.width, raster.height), BAD_POINTS)
            points.append(Point(x, y, rgb, float(size)))
        else:
            points.append(Point(x, y, (0.0, 0.0, 0.0)))
    return points


def parse_global_hints(req: dict) -> GlobalHints | None:
    palette_in = req.get("palette")
    saturation_in = req.get("saturation")
    if palette_in is None and saturation_in is None:
        return None
    palette = []
    for i, entry in enumerate(_list(palette_in or [], "palette")):
        e = _list(entry, f"palette[{i}]")
        if len(e) not in (3, 4):
            raise ProtocolError(BAD_REQUEST, f"palette[{i}] must be [r, g, b] or [r, g, b, weight]")
        r, g, b = _rgb(e[:3], f"palette[{i}]", BAD_REQUEST)
        w = _number(e[3], f"palette[{i}] weight", BAD_REQUEST) if len(e) == 4 else 1.0
        if w < 0:
            raise ProtocolError(BAD_REQUEST, f"palette[{i}] weight must not be negative")
        palette.append((r, g, b, w))
    if palette and sum(p[3] for p in palette) <= 0:
        raise ProtocolError(BAD_REQUEST, "palette weights must not all be zero")
    saturation = None
    if saturation_in is not None:
        saturation = _number(saturation_in, "saturation", BAD_REQUEST)
        if not 0.0 <= saturation <= 1.0:
            raise ProtocolError(BAD_REQUEST, "'saturation' must be within 0-1")
    return GlobalHints(palette=tuple(palette), saturation=saturation)


def parse_k(value: Any, name: str, default: int = 0) -> int:
    if value is None:
        return default
    return _int(value, name, 0 if default == 0 else 1, MAX_SWATCHES)


def parse_count(value: Any, name: str, maximum: int, default: int | None = None) -> int:
    if value is None:
        if default is None:
            raise ProtocolError(BAD_REQUEST, f"'{name}' is required")
        return min(default, maximum)
    return _int(value, name, 1, maximum)


def parse_region_hints(value: Any, limits: Limits) -> dict[int, tuple[float, float, float]]:
    if value is None:
        return {}
    items = _list(value, "region_hints")
    if len(items) > limits.max_points:
        raise ProtocolError(TOO_LARGE, f"{len(items)} region_hints; at most {limits.max_points}")
    out = {}
    for i, item in enumerate(items):
        h = _map(item, f"region_hints[{i}]")
        extra = set(h) - {"region", "rgb"}
        if extra:
            raise ProtocolError(
                UNSUPPORTED, f"unknown field(s) {', '.join(map(str, extra))} in region_hints[{i}]"
            )
        region = _int(h.get("region"), f"region_hints[{i}].region", 1, 65535)
        out[region] = _rgb(h.get("rgb"), f"region_hints[{i}].rgb", BAD_REQUEST)
    return out


def parse_labels(value: Any, raster: Raster, limits: Limits) -> Any:
    """A `regions` reply's label image: gray16, the same size as the image."""
    labels = parse_image(value, limits, name="labels")
    if labels.format != "gray16" or (labels.width, labels.height) != (raster.width, raster.height):
        raise ProtocolError(
            BAD_IMAGE,
            f"'labels' must be the gray16 image of a 'regions' reply for this "
            f"{raster.width}x{raster.height} image",
        )
    return labels.pixels[..., 0]
