"""The values messages carry: images, points, spots, global hints, region hints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import core
from .core import ErrorCode, Limits, Mode, ProtocolError, shown


@dataclass(frozen=True)
class Image:
    """Row-major pixels, top row first, channels interleaved (see core.BYTES_PER_PIXEL)."""

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
        img = core.map_field(value, name, ErrorCode.BAD_IMAGE)
        extra = set(img) - {"width", "height", "format", "data"}
        if extra:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, f"unknown {name} field(s) {', '.join(map(str, extra))}"
            )
        bad = ErrorCode.BAD_IMAGE
        width = core.int_field(img.get("width"), f"{name}.width", 1, 1 << 20, bad)
        height = core.int_field(img.get("height"), f"{name}.height", 1, 1 << 20, bad)
        if width * height > limits.max_pixels:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"the {name} is {width}x{height} = {width * height} pixels; "
                f"this engine accepts at most {limits.max_pixels}",
            )
        fmt = core.str_field(img.get("format"), f"{name}.format", bad)
        data = img.get("data")
        if not isinstance(data, bytes | bytearray):
            raise ProtocolError(bad, f"'{name}.data' must be binary (msgpack bin)")
        if fmt not in core.BYTES_PER_PIXEL:
            raise ProtocolError(
                bad, f"unknown pixel format {fmt!r}; use one of {', '.join(core.BYTES_PER_PIXEL)}"
            )
        expected = width * height * core.BYTES_PER_PIXEL[fmt]
        if len(data) != expected:
            raise ProtocolError(
                bad, f"{name} data is {len(data)} bytes but {width}x{height} {fmt} needs {expected}"
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
        p = core.map_field(value, name, ErrorCode.BAD_POINTS)
        core.only_fields(p, {"x", "y", "rgb", "size"}, name)
        x, y = inside(p, name, image)
        rgb = core.rgb_field(p.get("rgb"), f"{name}.rgb", ErrorCode.BAD_POINTS)
        size = core.int_field(
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
        p = core.map_field(value, name, ErrorCode.BAD_POINTS)
        core.only_fields(p, {"x", "y"}, name)
        return cls(*inside(p, name, image))


def inside(p: Mapping, name: str, image: Image) -> tuple[float, float]:
    x = core.number_field(p.get("x"), f"{name}.x", ErrorCode.BAD_POINTS)
    y = core.number_field(p.get("y"), f"{name}.y", ErrorCode.BAD_POINTS)
    if not (0 <= x < image.width and 0 <= y < image.height):
        raise ProtocolError(
            ErrorCode.BAD_POINTS,
            f"{name} at ({x:g}, {y:g}) lies outside the {image.width}x{image.height} image",
        )
    return x, y


def points_field(
    value: Any, name: str, image: Image, limits: Limits, kind: type[Point | Spot] = Point
) -> tuple:
    if value is None:
        return ()
    items = core.list_field(value, name, ErrorCode.BAD_POINTS)
    core.check_count(len(items), name, limits)
    return tuple(kind.from_map(item, f"{name}[{i}]", image) for i, item in enumerate(items))


MAX_WEIGHT = 1e30  # larger palette weights are scaled down together (the model sums float32)


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
        for i, entry in enumerate(core.list_field(palette_in or [], "palette")):
            e = core.list_field(entry, f"palette[{i}]")
            if len(e) not in (3, 4):
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"palette[{i}] must be [r, g, b] or [r, g, b, weight]"
                )
            r, g, b = core.rgb_field(e[:3], f"palette[{i}]", ErrorCode.BAD_REQUEST)
            w = core.number_field(e[3], f"palette[{i}] weight") if len(e) == 4 else 1.0
            if w < 0:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"palette[{i}] weight must not be negative"
                )
            palette.append((r, g, b, w))
        if palette and sum(p[3] for p in palette) <= 0:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "palette weights must not all be zero")
        top = max((p[3] for p in palette), default=0.0)
        if top > MAX_WEIGHT:  # weights are relative: scale them into what float32 sums
            palette = [(r, g, b, w / top) for r, g, b, w in palette]
        saturation = None
        if saturation_in is not None:
            saturation = core.number_field(saturation_in, "saturation")
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
        h = core.map_field(value, name)
        core.only_fields(h, {"region", "rgb"}, name)
        region = core.int_field(h.get("region"), f"{name}.region", 1, core.MAX_REGION_ID)
        return cls(region, core.rgb_field(h.get("rgb"), f"{name}.rgb", ErrorCode.BAD_REQUEST))


def mode_field(value: Any) -> Mode:
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


def image_id(image: Image) -> str:
    """The content hash that names an image in the engine's cache: replies carry it, and a
    later request may send `image_id` instead of the image (docs/protocol.md)."""
    digest = hashlib.sha256(f"{image.width}x{image.height}:{image.format}:".encode())
    digest.update(image.data)
    return digest.hexdigest()[:32]


ImageLookup = Callable[[str], Image]


def request_image(req: Mapping, limits: Limits, images: ImageLookup | None) -> Image:
    """A request's image: sent in it, or named by `image_id` and looked up in the engine's
    cache (`images`, which raises unknown_image for an id it does not hold)."""
    ref = req.get("image_id")
    if ref is None:
        return Image.from_map(req.get("image"), limits)
    if req.get("image") is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "send 'image' or 'image_id', not both")
    if not isinstance(ref, str) or not 1 <= len(ref) <= 64:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            f"'image_id' must be a string of 1-64 characters, got {shown(ref)}",
        )
    if images is None:
        raise ProtocolError(ErrorCode.UNSUPPORTED, "this engine keeps no images by id")
    return images(ref)


def check_fields(req: Mapping, op: str, allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in req if k not in allowed and k not in core.ENVELOPE)
    if unknown:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED,
            f"this engine does not support the field(s) {', '.join(unknown)} in '{op}'",
        )


def global_map(mode: Mode, global_hints: GlobalHints | None) -> dict:
    out: dict = {"mode": mode.value}
    if global_hints is not None:
        out.update(global_hints.to_map())
    return out
