"""Requests: one dataclass per op, with to_map() and a strict from_map(), and the envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from . import core, values
from .core import ErrorCode, Limits, Mode, Op, ProtocolError, ReferenceMode
from .values import GlobalHints, Image, ImageLookup, Point, RegionHint, Spot, request_image


@dataclass(frozen=True)
class InfoRequest:
    op: ClassVar[Op] = Op.INFO
    FIELDS: ClassVar[frozenset[str]] = frozenset()

    def to_map(self) -> dict:
        return {}

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> InfoRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
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
    reference: Image | None = None  # photo only: a colour picture whose colours to follow
    reference_mode: ReferenceMode = ReferenceMode.REGIONS

    op: ClassVar[Op] = Op.COLORIZE
    PHOTO_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "image",
            "image_id",
            "points",
            "mode",
            "swatches",
            "palette",
            "saturation",
            "reference",
            "reference_mode",
        }
    )
    LINEART_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "image_id", "points", "mode", "swatches", "region_hints", "labels"}
    )

    def to_map(self) -> dict:
        out: dict = {"image": self.image.to_map(), "points": [p.to_map() for p in self.points]}
        out.update(values.global_map(self.mode, self.global_hints))
        if self.swatches:
            out["swatches"] = self.swatches
        if self.region_hints:
            out["region_hints"] = [h.to_map() for h in self.region_hints]
        if self.labels is not None:
            out["labels"] = self.labels.to_map()
        if self.reference is not None:
            out["reference"] = self.reference.to_map()
            out["reference_mode"] = self.reference_mode.value
        return out

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> ColorizeRequest:
        lineart = req.get("mode") == Mode.LINEART.value
        values.check_fields(req, cls.op.value, cls.LINEART_FIELDS if lineart else cls.PHOTO_FIELDS)
        mode = values.mode_field(req.get("mode"))
        image = request_image(req, limits, images)
        points = values.points_field(req.get("points"), "points", image, limits)
        swatches = (
            0
            if req.get("swatches") is None
            else core.count_field(req["swatches"], "swatches", core.MAX_SWATCHES, 0)
        )
        if mode is Mode.PHOTO:
            reference, reference_mode = reference_fields(req, limits)
            glob = GlobalHints.from_map(req)
            return cls(image, points, mode, swatches, glob, (), None, reference, reference_mode)
        items = core.list_field(req.get("region_hints") or [], "region_hints")
        core.check_count(len(items), "region_hints", limits)
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


def reference_fields(req: Mapping, limits: Limits) -> tuple[Image | None, ReferenceMode]:
    """`reference` (a colour image, any colour format) and `reference_mode`."""
    raw_mode = req.get("reference_mode")
    try:
        reference_mode = ReferenceMode(raw_mode) if raw_mode is not None else ReferenceMode.REGIONS
    except ValueError:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            f"'reference_mode' must be one of {', '.join(m.value for m in ReferenceMode)}",
        ) from None
    if req.get("reference") is None:
        if raw_mode is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "'reference_mode' needs a 'reference'")
        return None, reference_mode
    reference = Image.from_map(req["reference"], limits, name="reference")
    if reference.format.startswith("gray"):
        raise ProtocolError(
            ErrorCode.BAD_IMAGE,
            f"the reference is {reference.format}: a gray picture has no colours to follow",
        )
    return reference, reference_mode


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
        {"image", "image_id", "points", "k", "hints", "mode", "palette", "saturation"}
    )

    def to_map(self) -> dict:
        return {
            "image": self.image.to_map(),
            "points": [p.to_map() for p in self.points],
            "k": self.k,
            "hints": [h.to_map() for h in self.hints],
            **values.global_map(self.mode, self.global_hints),
        }

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> SwatchesRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
        mode = values.mode_field(req.get("mode"))
        if mode is Mode.LINEART:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED,
                "line art has no colour distribution; swatches are for photos",
            )
        image = request_image(req, limits, images)
        return cls(
            image,
            values.points_field(req.get("points"), "points", image, limits, kind=Spot),
            5 if req.get("k") is None else core.count_field(req["k"], "k", core.MAX_SWATCHES),
            values.points_field(req.get("hints"), "hints", image, limits),
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
        {"image", "image_id", "points", "k", "mode", "palette", "saturation"}
    )

    def to_map(self) -> dict:
        return {
            "image": self.image.to_map(),
            "points": [p.to_map() for p in self.points],
            "k": self.k,
            **values.global_map(self.mode, self.global_hints),
        }

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> SuggestPointsRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
        mode = values.mode_field(req.get("mode"))
        if mode is not Mode.PHOTO:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, "suggest_points is for photos; for line art use 'regions'"
            )
        image = request_image(req, limits, images)
        return cls(
            image,
            values.points_field(req.get("points"), "points", image, limits),
            5 if req.get("k") is None else core.count_field(req["k"], "k", core.MAX_SUGGESTIONS),
            mode,
            GlobalHints.from_map(req),
        )


@dataclass(frozen=True)
class RegionsRequest:
    image: Image
    max_regions: int | None = None  # default: the line-art model's maximum

    op: ClassVar[Op] = Op.REGIONS
    FIELDS: ClassVar[frozenset[str]] = frozenset({"image", "image_id", "max_regions"})

    def to_map(self) -> dict:
        out: dict = {"image": self.image.to_map()}
        if self.max_regions is not None:
            out["max_regions"] = self.max_regions
        return out

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> RegionsRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
        image = request_image(req, limits, images)
        max_regions = req.get("max_regions")
        if max_regions is not None:
            max_regions = core.count_field(max_regions, "max_regions", core.MAX_REGION_ID)
        return cls(image, max_regions)


@dataclass(frozen=True)
class CancelRequest:
    """Stop the request whose id is `target` (queued: dropped; running: at its next
    checkpoint); that request then gets a `cancelled` error."""

    target: Any

    op: ClassVar[Op] = Op.CANCEL
    FIELDS: ClassVar[frozenset[str]] = frozenset({"target"})

    def to_map(self) -> dict:
        return {"target": self.target}

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> CancelRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
        target = req.get("target")
        if target is None or isinstance(target, dict | list):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, "'target' must be the id of the request to cancel"
            )
        return cls(target)


@dataclass(frozen=True)
class RecommendReferencesRequest:
    """Rank colour references for `image`: the `candidates` sent, or the pictures in a
    `folder` on the engine's machine (under a root it allows), best `limit` first."""

    image: Image
    candidates: tuple[Image, ...] = ()
    folder: str | None = None
    limit: int = core.DEFAULT_RANKED

    op: ClassVar[Op] = Op.RECOMMEND_REFERENCES
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"image", "image_id", "candidates", "folder", "limit"}
    )

    def to_map(self) -> dict:
        out: dict = {"image": self.image.to_map(), "limit": self.limit}
        if self.folder is not None:
            out["folder"] = self.folder
        else:
            out["candidates"] = [c.to_map() for c in self.candidates]
        return out

    @classmethod
    def from_map(
        cls, req: Mapping, limits: Limits, images: ImageLookup | None = None
    ) -> RecommendReferencesRequest:
        values.check_fields(req, cls.op.value, cls.FIELDS)
        image = request_image(req, limits, images)
        limit = req.get("limit")
        limit = (
            core.DEFAULT_RANKED
            if limit is None
            else core.count_field(limit, "limit", core.MAX_RANKED)
        )
        folder, raw = req.get("folder"), req.get("candidates")
        if (folder is None) == (raw is None):
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, "give either 'candidates' (images) or a 'folder', not both"
            )
        if folder is not None:
            folder = core.str_field(folder, "folder", ErrorCode.BAD_REQUEST)
            if not folder or len(folder) > 4096 or "\0" in folder:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, "'folder' must be a path on the engine's machine"
                )
            return cls(image, (), folder, limit)
        items = core.list_field(raw, "candidates")
        if not 1 <= len(items) <= core.MAX_CANDIDATES:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"'candidates' must hold 1 to {core.MAX_CANDIDATES} images, got {len(items)}",
            )
        candidates = tuple(
            Image.from_map(c, limits, name=f"candidates[{i}]") for i, c in enumerate(items)
        )
        return cls(image, candidates, None, limit)


Request = (
    InfoRequest
    | ColorizeRequest
    | SwatchesRequest
    | SuggestPointsRequest
    | RegionsRequest
    | CancelRequest
    | RecommendReferencesRequest
)
REQUESTS: dict[Op, type] = {
    cls.op: cls
    for cls in (
        InfoRequest,
        ColorizeRequest,
        SwatchesRequest,
        SuggestPointsRequest,
        RegionsRequest,
        CancelRequest,
        RecommendReferencesRequest,
    )
}


def parse_envelope(req: Any) -> tuple[Any, str]:
    """(id, op name) of a decoded request map; the version must be ours."""
    req = core.map_field(req, "request")
    rid, v = req.get("id"), req.get("v")
    if type(v) is not int or v != core.VERSION:  # not 1.0 or true either
        raise ProtocolError(
            ErrorCode.VERSION,
            f"this engine speaks protocol v{core.VERSION}; the request says v={core.shown(v)}",
        )
    op = req.get("op")
    if not isinstance(op, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'op' must be a string naming the operation")
    return rid, op


def parse_request(
    req: Mapping, op: str, limits: Limits, images: ImageLookup | None = None
) -> Request:
    """A decoded request map (envelope already checked) -> its typed request; `images`
    resolves an `image_id` to the image the engine keeps under it."""
    try:
        kind = REQUESTS[Op(op)]
    except ValueError:
        names = ", ".join(sorted(o.value for o in Op))
        raise ProtocolError(
            ErrorCode.UNSUPPORTED, f"unknown operation {op!r}; this engine supports {names}"
        ) from None
    return kind.from_map(req, limits, images)


def request_map(request: Request, rid: Any) -> dict:
    """The full request map to send: envelope plus fields."""
    return {"v": core.VERSION, "op": request.op.value, "id": rid, **request.to_map()}
