"""One request being served: its cancel flag, its progress messages, its cached image."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
Derive = Callable[[Any, Callable[[], T]], T]
DEFAULT_WORKERS = 2  # serving threads: one for interactive requests only, one for any
PROGRESS_EVERY_S = 0.25  # progress messages at most this often (the first and last always)


class Cancelled(Exception):
    """A cancel op stopped this request at a checkpoint."""


def uncached(_key: Any, make: Callable[[], T]) -> T:
    return make()


@dataclass
class Job:
    """`progress(done, stage)` sends a progress message (when the request asked for them);
    `cancelled` is set by a cancel op. Long work calls `checkpoint` between its steps."""

    rid: Any = None
    progress: Callable[[float, str], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    derive: Derive = uncached  # the cached image's derived data, when there is one
    image_id: str = ""
    _last: float = 0.0

    def checkpoint(self, done: float, stage: str) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        if self.progress is None:
            return
        now = time.monotonic()
        if done >= 1.0 or now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self.progress(min(max(done, 0.0), 1.0), stage)
