"""Reliable request-reply to the engine: the ZeroMQ guide's "Lazy Pirate" pattern.

Send on a REQ socket and wait with a timeout; on timeout close the socket (a REQ socket
that missed its reply is stuck), reconnect and send again, a bounded number of times.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

DEFAULT_ENDPOINT = os.environ.get("CHROMAHINT_ENDPOINT", "tcp://127.0.0.1:5557")
PROTOCOL_VERSION = 1


class EngineError(Exception):
    """Base class: something kept the engine from answering a request."""


class EngineNotRunning(EngineError):
    """Nothing accepted a connection at the endpoint."""


class EngineTimeout(EngineError):
    """The engine accepted the connection but did not answer in time, even after retries."""


class EngineReplyError(EngineError):
    """The engine answered with an error reply; `code` is machine-readable, str() is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Client:
    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float = 60.0,
        retries: int = 2,
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self._ctx = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._connected = False

    # -- socket life cycle ----------------------------------------------------------------
    def _open(self) -> zmq.Socket:
        if self._sock is None:
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            self._monitor = sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
            )
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    def _drain_monitor(self) -> None:
        while self._monitor is not None and self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected = True

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.disable_monitor()
            self._sock.close(0)
        if self._monitor is not None:
            self._monitor.close(0)
        self._sock = self._monitor = None

    def close(self) -> None:
        self._reset()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------
    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict:
        """Send one request and return the reply map; raise an EngineError subclass."""
        rid = next(self._ids)
        payload = msgpack.packb(
            {"v": PROTOCOL_VERSION, "op": op, "id": rid, **fields}, use_bin_type=True
        )
        wait = self.timeout if timeout is None else timeout
        self._connected = False
        for _attempt in range(self.retries + 1):
            sock = self._open()
            sock.send(payload, copy=False)
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if sock.poll(int(min(left, 0.1) * 1000), zmq.POLLIN):
                    reply = msgpack.unpackb(sock.recv(), raw=False, strict_map_key=False)
                    # REQ is lockstep, so this is our reply; an error about a frame the
                    # engine could not read (too large, not msgpack) carries no id.
                    if reply.get("id") not in (rid, None):
                        continue
                    return self._check(reply)
                self._drain_monitor()
            self._drain_monitor()
            self._reset()
        if not self._connected:
            raise EngineNotRunning(
                f"the Chromahint engine is not running at {self.endpoint} "
                "(start it with 'chromahint serve')"
            )
        raise EngineTimeout(
            f"the Chromahint engine at {self.endpoint} did not answer '{op}' within "
            f"{wait:g} s ({self.retries + 1} attempts)"
        )

    @staticmethod
    def _check(reply: dict) -> dict:
        if reply.get("ok"):
            return reply
        err = reply.get("error") or {}
        raise EngineReplyError(str(err.get("code", "unknown")), str(err.get("message", reply)))

    def info(self, timeout: float | None = None) -> dict:
        return self.request("info", timeout=timeout)

    def colorize(self, image: dict, points: list[dict], mode: str = "photo", **extra: Any) -> dict:
        return self.request("colorize", image=image, points=points, mode=mode, **extra)

    def swatches(self, image: dict, points: list[dict], k: int = 5, **extra: Any) -> dict:
        return self.request("swatches", image=image, points=points, k=k, **extra)
