"""A job: one request the docker sends to the engine, and what it needs back on the GUI thread.

Each kind of job has its own typed context (the GUI thread's side of the job), and the kind
follows from the context, so the two never disagree; a failed job's message for people is
made here too. Pure Python (no Krita, no Qt): a context names documents and layers by key,
never by Krita object.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from chromahint_client import Client, EngineReplyError
from chromahint_client.protocol import Mode
from chromahint_client.session import describe
from chromahint_client.settings import Settings

from .engine_work import ColorizeSnapshot
from .swatches import Place


class JobKind(str, Enum):
    COLORIZE = "colorize"
    SWATCHES = "swatches"
    REGIONS = "regions"
    RECOMMEND = "recommend"
    INFO = "info"


class EngineState(str, Enum):
    UNKNOWN = "unknown"  # not asked yet
    READY = "ready"
    BUSY = "busy"  # checking, starting, or working on a request
    OFFLINE = "offline"  # not running, not answering, or not usable


class Level(str, Enum):
    """How a message in the docker reads."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class ColorizeContext:
    KIND: ClassVar[JobKind] = JobKind.COLORIZE

    doc_key: str
    source_id: str  # the source layer, to place a new result next to it
    snapshot: ColorizeSnapshot
    mask: bytes | None  # the selection over the snapshot's rectangle, 8 bits a pixel
    live: bool  # started by live mode (a newer stroke makes its result stale)
    in_place: bool  # write into the result layer (no undo step) instead of replacing it
    hint_print: tuple  # the hint layer's fingerprint when the snapshot was taken
    started: float  # time.monotonic() at the click, for the message


@dataclass(frozen=True)
class SwatchesContext:
    KIND: ClassVar[JobKind] = JobKind.SWATCHES

    heading: str
    places: tuple[Place, ...]
    blob_key: frozenset | None = None  # the blobs asked about (None: the selection)


@dataclass(frozen=True)
class RegionsContext:
    KIND: ClassVar[JobKind] = JobKind.REGIONS

    doc_key: str


@dataclass(frozen=True)
class RecommendContext:
    KIND: ClassVar[JobKind] = JobKind.RECOMMEND

    folder: str


@dataclass(frozen=True)
class InfoContext:
    """A status check: it never holds the docker busy."""

    KIND: ClassVar[JobKind] = JobKind.INFO


JobContext = ColorizeContext | SwatchesContext | RegionsContext | RecommendContext | InfoContext
_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    context: JobContext  # what the GUI thread needs afterwards
    run: Callable[[Client], Any]  # called on a worker thread; returns the job's result
    start_engine: bool = True  # start the engine when nothing answers
    id: int = field(default_factory=lambda: next(_ids))
    cancelled: bool = False
    client: Client | None = None  # the worker's, while the job runs (for cancel)

    @property
    def kind(self) -> JobKind:
        return self.context.KIND


WHAT = {  # what a job asks the engine to do, for messages
    JobKind.REGIONS: "suggest regions",
    JobKind.SWATCHES: "suggest colours",
    JobKind.RECOMMEND: "recommend references",
    JobKind.INFO: "report its state",
}


def what(job: Job) -> str:
    """What the job asked the engine to do, in words ("colorize in line-art mode")."""
    ctx = job.context
    if isinstance(ctx, ColorizeContext):
        mode = "line-art" if ctx.snapshot.mode is Mode.LINEART else ctx.snapshot.mode.value
        return f"colorize in {mode} mode"
    return WHAT[job.kind]


def failure_message(job: Job, error: Exception, settings: Settings) -> tuple[Level, str]:
    """The docker's message for a failed job: what the engine cannot do yet is a warning
    (a reference image or region colours are turned off by the caller), the rest errors."""
    ctx = job.context
    if not (isinstance(error, EngineReplyError) and error.unsupported):
        return Level.ERROR, describe(error, settings, what(job))
    if isinstance(ctx, ColorizeContext) and ctx.snapshot.reference is not None:
        text = f"This engine cannot use a reference image yet: {error}. The reference was"
        return Level.WARNING, text + " turned off."
    if isinstance(ctx, ColorizeContext) and ctx.snapshot.region_hints:
        return Level.WARNING, f"This engine cannot colour regions yet: {error}."
    return Level.WARNING, describe(error, settings, what(job))
