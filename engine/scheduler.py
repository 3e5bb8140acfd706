"""Worker threads that share the engine's models, in two lanes, so a small interactive
request never waits behind a big job (docs/protocol.md, "Concurrency").

- Lanes: a request whose image has at most INTERACTIVE_PIXELS pixels (a live preview, a
  swatch click) goes to the interactive lane, bigger ones to the bulk lane. With two or more
  workers, the first serves the interactive lane only; the others take interactive work
  first, then bulk. So one big job at a time per bulk worker, and a free worker for small
  ones.
- Memory: each request reserves its estimated bytes when it is admitted; one that does not
  fit beside the reservations gets `busy` (with retry_after_ms), one that never fits
  `too_large` (server.Engine.admit).
- Cancel: a queued request is dropped, a running one stops at its next checkpoint; either
  gets a `cancelled` error.
- Replies and progress messages go back to the serving loop over inproc PUSH/PULL (each
  worker has its own PUSH socket: ZeroMQ sockets are not shared between threads), and the
  loop sends them on the socket the request came in on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from chromahint_client import protocol as P

from .framing import pack
from .jobs import Job
from .server import Engine, Parsed, error_reply, image_of

log = logging.getLogger("chromahint.engine")

INTERACTIVE_PIXELS = 2_200_000  # up to ~1480 x 1480: what a live preview or a click sends


@dataclass
class Task:
    route: list[bytes]  # [socket index] + the routing envelope
    parsed: Parsed
    need: int  # reserved bytes
    job: Job = field(default_factory=Job)

    @property
    def interactive(self) -> bool:
        image = image_of(self.parsed.request)
        return image is None or image.width * image.height <= INTERACTIVE_PIXELS


class Scheduler:
    def __init__(self, engine: Engine, ctx: zmq.Context, outbox: str, workers: int) -> None:
        self.engine = engine
        self._ctx, self._outbox = ctx, outbox
        self._lanes: dict[str, deque[Task]] = {"interactive": deque(), "bulk": deque()}
        self._running: list[Task] = []
        self._cond = threading.Condition()
        self._stopping = False
        self.reserved = 0
        lanes = [("interactive",)] if workers > 1 else []
        lanes += [("interactive", "bulk")] * (workers - len(lanes))
        self._threads = [
            threading.Thread(target=self._work, args=(lane,), name=f"worker-{i}", daemon=True)
            for i, lane in enumerate(lanes)
        ]
        for t in self._threads:
            t.start()

    # -- called from the serving loop's thread --------------------------------------------
    def submit(self, task: Task) -> dict | None:
        """Queue a parsed request; an error reply instead when memory refuses it."""
        with self._cond:
            try:
                self.engine.admit(task.parsed.request, self.reserved)
            except P.ProtocolError as e:
                return error_reply(task.parsed.rid, e.code, e.message, e.retry_after_ms)
            self.reserved += task.need
            self._lanes["interactive" if task.interactive else "bulk"].append(task)
            self._cond.notify_all()
        return None

    def cancel(self, target: Any) -> tuple[bool, list[Task]]:
        """(found, the queued tasks dropped): running ones stop at their next checkpoint."""
        dropped: list[Task] = []
        with self._cond:
            for lane in self._lanes.values():
                for task in [t for t in lane if t.parsed.rid == target]:
                    lane.remove(task)
                    self.reserved -= task.need
                    dropped.append(task)
            running = [t for t in self._running if t.parsed.rid == target]
            for task in running:
                task.job.cancelled.set()
        return bool(dropped or running), dropped

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            for task in self._running:
                task.job.cancelled.set()
            self._cond.notify_all()
        for t in self._threads:
            t.join(10)

    # -- worker threads -------------------------------------------------------------------
    def _next(self, lanes: tuple[str, ...]) -> Task | None:
        with self._cond:
            while not self._stopping:
                for name in lanes:
                    if self._lanes[name]:
                        task = self._lanes[name].popleft()
                        self._running.append(task)
                        return task
                self._cond.wait()
        return None

    def _work(self, lanes: tuple[str, ...]) -> None:
        push = self._ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(self._outbox)
        try:
            while (task := self._next(lanes)) is not None:
                self._serve(task, push.send_multipart)
        finally:
            push.close(0)

    def _serve(self, task: Task, send: Callable[..., Any]) -> None:
        rid = task.parsed.rid
        if task.parsed.progress:
            task.job.progress = lambda done, stage: send(
                [*task.route, pack(P.progress_map(rid, done, stage))]
            )
        try:
            reply = self.engine.run(task.parsed, task.job)
            send([*task.route, pack(reply)], copy=False)
        except Exception:  # a reply that cannot be sent must not end the worker
            log.exception("could not send a reply")
        finally:
            with self._cond:
                self._running.remove(task)
                self.reserved -= task.need
