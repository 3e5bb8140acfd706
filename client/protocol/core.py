"""Protocol constants, Enums, the error type, limits, and the field checks every message
type parses with."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
ENDPOINT_ENV = "CHROMAHINT_ENDPOINT"
# "progress": any request may ask for progress messages before its reply (docs/protocol.md).
ENVELOPE = frozenset({"v", "op", "id", "progress"})
MAX_SWATCHES = 32
MAX_SUGGESTIONS = 64
MAX_REGION_ID = 65535
MAX_CANDIDATES = 64  # reference candidates sent in one recommend_references request
MAX_RANKED = 1000  # recommend_references' largest `limit`
DEFAULT_RANKED = 10
# reference_confidence below this: the reference counted for nothing (it does not fit), and
# from REFERENCE_FIT_FULL it counts fully (engine/exemplar.py); plug-ins warn below the first.
REFERENCE_FIT_LOW = 0.2
REFERENCE_FIT_FULL = 0.3


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
    CANCEL = "cancel"
    RECOMMEND_REFERENCES = "recommend_references"


class Mode(WireEnum):
    PHOTO = "photo"
    LINEART = "lineart"


class ReferenceMode(WireEnum):
    """How a colour reference is used: matched region by region, or only its colours."""

    REGIONS = "regions"
    PALETTE = "palette"


class ErrorCode(WireEnum):
    BAD_REQUEST = "bad_request"
    BAD_IMAGE = "bad_image"
    BAD_POINTS = "bad_points"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    VERSION = "version"
    INTERNAL = "internal"
    UNKNOWN_IMAGE = "unknown_image"  # an image_id the engine does not hold (any more)
    BUSY = "busy"  # would fit, but not beside the work running now: retry after retry_after_ms
    CANCELLED = "cancelled"  # a cancel op stopped this request
    FORBIDDEN = "forbidden"  # a path the engine was not allowed to read


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

    def __init__(self, code: ErrorCode, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 64_000_000  # 8000 x 8000
    max_points: int = 10_000
    max_message_bytes: int = (1 << 30) + (1 << 20)  # an 8000 x 8000 rgba16 image fits
    cache_mb: int = 512  # images kept by id with what was derived from them

    def to_map(self) -> dict[str, int]:
        return {
            "max_pixels": self.max_pixels,
            "max_points": self.max_points,
            "max_message_bytes": self.max_message_bytes,
            "cache_mb": self.cache_mb,
        }

    @classmethod
    def from_map(cls, m: Any) -> Limits:
        m = map_field(m, "limits")
        default = cls().to_map()
        return cls(
            **{
                # A limit an older engine does not report keeps its default.
                k: int_field(m.get(k, default[k]), f"limits.{k}", 0, 1 << 62)
                for k in default
            }
        )


# -- field checks ---------------------------------------------------------------------------
def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: short, and never the repr of a whole nested structure
    (a request can nest 1,000 levels deep, deeper than repr() recurses)."""
    if value is None or isinstance(value, str | bytes | int | float):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return f"a {type(value).__name__}"


def int_field(
    value: Any, name: str, lo: int, hi: int, code: ErrorCode = ErrorCode.BAD_REQUEST
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(code, f"'{name}' must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ProtocolError(code, f"'{name}' must be between {lo} and {hi}, got {value}")
    return value


def number_field(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(code, f"'{name}' must be a number, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise ProtocolError(code, f"'{name}' must be a finite number, got {value}")
    return f


def map_field(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> Mapping:
    if not isinstance(value, Mapping):
        raise ProtocolError(code, f"'{name}' must be a map, got {type(value).__name__}")
    return value


def list_field(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> list:
    if not isinstance(value, list | tuple):
        raise ProtocolError(code, f"'{name}' must be a list, got {type(value).__name__}")
    return list(value)


def str_field(value: Any, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> str:
    if not isinstance(value, str):
        raise ProtocolError(code, f"'{name}' must be a string, got {type(value).__name__}")
    return value


def only_fields(m: Mapping, allowed: frozenset[str] | set[str], where: str) -> None:
    extra = sorted(str(k) for k in m if k not in allowed)
    if extra:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, f"unknown field(s) {', '.join(extra)} in {where}"
        )


def rgb_field(value: Any, name: str, code: ErrorCode) -> tuple[float, float, float]:
    rgb = list_field(value, name, code)
    if len(rgb) != 3:
        raise ProtocolError(code, f"'{name}' must hold 3 numbers (r, g, b in 0-255)")
    r, g, b = (number_field(c, name, code) for c in rgb)
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise ProtocolError(code, f"'{name}' values must be within 0-255, got {[r, g, b]}")
    return r, g, b


def count_field(value: Any, name: str, maximum: int, lo: int = 1) -> int:
    return int_field(value, name, lo, maximum)


def check_count(n: int, name: str, limits: Limits) -> None:
    if n > limits.max_points:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"{n} {name} given; this engine accepts at most {limits.max_points}",
        )
