"""Replies: one dataclass per op, with to_map() and from_map(), and the reply envelopes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import core
from .core import ErrorCode, Limits, Mode, Op, ProtocolError
from .values import Image


def _timing(m: Mapping) -> dict[str, float]:
    t = m.get("timing_ms") or {}
    return {str(k): float(v) for k, v in core.map_field(t, "timing_ms").items()}


@dataclass(frozen=True)
class Swatch:
    rgb: tuple[int, int, int]
    p: float

    def to_map(self) -> dict:
        return {"rgb": list(self.rgb), "p": self.p}

    @classmethod
    def from_map(cls, value: Any) -> Swatch:
        m = core.map_field(value, "swatch")
        r, g, b = (
            int(c) for c in core.rgb_field(m.get("rgb"), "swatch.rgb", ErrorCode.BAD_REQUEST)
        )
        return cls((r, g, b), core.number_field(m.get("p", 0.0), "swatch.p"))


def _swatch_rows(value: Any) -> list[list[Swatch]]:
    return [
        [Swatch.from_map(s) for s in core.list_field(row, "swatches row")]
        for row in core.list_field(value or [], "swatches")
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
        m = core.map_field(value, "model")
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
    # Requests this engine process answered, per op (errors included): in a studio, how the
    # load spread over the engines.
    served: dict[str, int] = field(default_factory=dict)

    def to_map(self) -> dict:
        return {
            "engine": self.engine,
            "protocol": self.protocol,
            "device": self.device,
            "models": [m.to_map() for m in self.models],
            "ops": list(self.ops),
            "limits": self.limits.to_map(),
            "pid": self.pid,
            "served": dict(self.served),
        }

    @classmethod
    def from_map(cls, m: Mapping) -> InfoReply:
        return cls(
            str(m.get("engine", "")),
            int(m.get("protocol", 0)),
            str(m.get("device", "")),
            tuple(ModelInfo.from_map(x) for x in core.list_field(m.get("models") or [], "models")),
            tuple(str(o) for o in core.list_field(m.get("ops") or [], "ops")),
            Limits.from_map(m.get("limits")),
            int(m.get("pid", 0)),
            {str(k): int(v) for k, v in core.map_field(m.get("served") or {}, "served").items()},
        )

    def model(self, mode: Mode) -> ModelInfo | None:
        return next((x for x in self.models if x.mode == mode.value), None)


@dataclass(frozen=True)
class ColorizeReply:
    layer: Image  # rgba8, the input's size
    swatches: list[list[Swatch]]  # one row per hint blob when asked for
    timing_ms: dict[str, float]
    image_id: str = ""  # the request's image in the engine's cache (values.image_id)
    reference_confidence: float | None = None  # with a reference: how well it matched, 0-1

    def to_map(self) -> dict:
        out = {
            "layer": self.layer.to_map(),
            "swatches": [[s.to_map() for s in row] for row in self.swatches],
            "timing_ms": self.timing_ms,
            "image_id": self.image_id,
        }
        if self.reference_confidence is not None:
            out["reference_confidence"] = self.reference_confidence
        return out

    @classmethod
    def from_map(cls, m: Mapping) -> ColorizeReply:
        confidence = m.get("reference_confidence")
        return cls(
            Image.from_map(m.get("layer"), Limits(), "layer"),
            _swatch_rows(m.get("swatches")),
            _timing(m),
            _image_id(m),
            None if confidence is None else core.number_field(confidence, "reference_confidence"),
        )


@dataclass(frozen=True)
class SwatchesReply:
    swatches: list[list[Swatch]]  # one row per point asked about
    timing_ms: dict[str, float]
    image_id: str = ""

    def to_map(self) -> dict:
        rows = [[s.to_map() for s in row] for row in self.swatches]
        return {"swatches": rows, "timing_ms": self.timing_ms, "image_id": self.image_id}

    @classmethod
    def from_map(cls, m: Mapping) -> SwatchesReply:
        return cls(_swatch_rows(m.get("swatches")), _timing(m), _image_id(m))


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
        m = core.map_field(value, "suggestion")
        r, g, b = (
            int(c) for c in core.rgb_field(m.get("rgb"), "suggestion.rgb", ErrorCode.BAD_REQUEST)
        )
        return cls(
            core.number_field(m.get("x"), "x"),
            core.number_field(m.get("y"), "y"),
            (r, g, b),
            float(m.get("score", 0.0)),
        )


@dataclass(frozen=True)
class SuggestPointsReply:
    points: list[Suggestion]
    timing_ms: dict[str, float]
    image_id: str = ""

    def to_map(self) -> dict:
        return {
            "points": [p.to_map() for p in self.points],
            "timing_ms": self.timing_ms,
            "image_id": self.image_id,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> SuggestPointsReply:
        return cls(
            [Suggestion.from_map(p) for p in core.list_field(m.get("points") or [], "points")],
            _timing(m),
            _image_id(m),
        )


@dataclass(frozen=True)
class RegionsReply:
    labels: Image  # gray16, region id per pixel, 0 = line or none
    order: list[int]  # region ids, highest priority first
    timing_ms: dict[str, float]
    image_id: str = ""

    def to_map(self) -> dict:
        return {
            "labels": self.labels.to_map(),
            "order": list(self.order),
            "timing_ms": self.timing_ms,
            "image_id": self.image_id,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> RegionsReply:
        labels = Image.from_map(m.get("labels"), Limits(), "labels")
        if labels.format != "gray16":
            raise ProtocolError(ErrorCode.BAD_IMAGE, "the regions reply's labels must be gray16")
        order = [
            core.int_field(r, "order[]", 0, core.MAX_REGION_ID)
            for r in core.list_field(m.get("order") or [], "order")
        ]
        return cls(labels, order, _timing(m), _image_id(m))


@dataclass(frozen=True)
class Ranked:
    """One recommended reference: a candidate's index, or a picture's path in the folder."""

    score: float
    index: int | None = None
    path: str | None = None

    def to_map(self) -> dict:
        where = {"index": self.index} if self.path is None else {"path": self.path}
        return {**where, "score": self.score}

    @classmethod
    def from_map(cls, m: Any) -> Ranked:
        m = core.map_field(m, "ranking[]")
        score = core.number_field(m.get("score"), "ranking[].score")
        if m.get("path") is not None:
            return cls(score, None, core.str_field(m["path"], "ranking[].path"))
        return cls(score, core.int_field(m.get("index"), "ranking[].index", 0, 1 << 30))


@dataclass(frozen=True)
class RecommendReferencesReply:
    ranking: list[Ranked]  # best first
    timing_ms: dict[str, float]
    skipped: int = 0  # folder pictures that could not be read
    indexed: int = 0  # folder pictures described now (the rest came from the index)
    image_id: str = ""

    def to_map(self) -> dict:
        return {
            "ranking": [r.to_map() for r in self.ranking],
            "timing_ms": self.timing_ms,
            "skipped": self.skipped,
            "indexed": self.indexed,
            "image_id": self.image_id,
        }

    @classmethod
    def from_map(cls, m: Mapping) -> RecommendReferencesReply:
        ranking = [Ranked.from_map(r) for r in core.list_field(m.get("ranking") or [], "ranking")]
        skipped = core.int_field(m.get("skipped", 0), "skipped", 0, 1 << 30)
        indexed = core.int_field(m.get("indexed", 0), "indexed", 0, 1 << 30)
        return cls(ranking, _timing(m), skipped, indexed, _image_id(m))


@dataclass(frozen=True)
class CancelReply:
    cancelled: bool  # False: no request with that id was queued or running

    def to_map(self) -> dict:
        return {"cancelled": self.cancelled}

    @classmethod
    def from_map(cls, m: Mapping) -> CancelReply:
        return cls(bool(m.get("cancelled")))


def _image_id(m: Mapping) -> str:
    value = m.get("image_id") or ""
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'image_id' must be a string")
    return value


Reply = (
    InfoReply
    | ColorizeReply
    | SwatchesReply
    | SuggestPointsReply
    | RegionsReply
    | CancelReply
    | RecommendReferencesReply
)
REPLIES: dict[Op, type] = {
    Op.INFO: InfoReply,
    Op.COLORIZE: ColorizeReply,
    Op.SWATCHES: SwatchesReply,
    Op.SUGGEST_POINTS: SuggestPointsReply,
    Op.REGIONS: RegionsReply,
    Op.CANCEL: CancelReply,
    Op.RECOMMEND_REFERENCES: RecommendReferencesReply,
}


def reply_map(reply: Reply, rid: Any) -> dict:
    return {"v": core.VERSION, "id": rid, "ok": True, **reply.to_map()}


def error_map(rid: Any, code: ErrorCode, message: str, retry_after_ms: int | None = None) -> dict:
    error: dict[str, Any] = {"code": code.value, "message": message}
    if retry_after_ms is not None:
        error["retry_after_ms"] = retry_after_ms
    return {"v": core.VERSION, "id": rid, "ok": False, "error": error}


def progress_map(rid: Any, done: float, stage: str) -> dict:
    """A progress message, sent before the reply to a request that asked for progress: no
    "ok" key, `done` in [0, 1]."""
    return {"v": core.VERSION, "id": rid, "progress": {"done": round(done, 4), "stage": stage}}
