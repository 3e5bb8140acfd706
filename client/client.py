"""Reliable request-reply to the engine: the ZeroMQ guide's "Lazy Pirate" pattern.

Send on a REQ socket and wait with a timeout; on timeout close the socket (a REQ socket
that missed its reply is stuck), reconnect and send again, a bounded number of times.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, cast

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol as P


class EngineError(Exception):
    """Base class: something kept the engine from answering a request."""


class EngineNotRunning(EngineError):
    """Nothing accepted a connection at the endpoint."""


class EngineTimeout(EngineError):
    """The engine accepted the connection but did not answer in time, even after retries."""


class EngineReplyError(EngineError):
    """The engine answered with an error reply; `code` is machine-readable (an ErrorCode when
    this client knows it), str() is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        try:
            self.code: P.ErrorCode | str = P.ErrorCode(code)
        except ValueError:
            self.code = code
        self.message = message

    @property
    def unsupported(self) -> bool:
        return self.code == P.ErrorCode.UNSUPPORTED


class BadReply(EngineError):
    """The engine's success reply does not hold what the protocol says it holds."""


class Client:
    def __init__(
        self,
        endpoint: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint or P.default_endpoint()
        self.timeout = timeout
        self.retries = retries
        self._ctx = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._connected = False

    # -- socket life cycle ----------------------------------------------------------------
    def _open(self) -> zmq.Socket:
        sock = self._sock
        if sock is None:
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            self._monitor = sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
            )
            sock.connect(self.endpoint)
            self._sock = sock
        return sock

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
        """Send one request map by op name and return the raw reply map (for probing and
        tests; callers use the typed methods below). Raises an EngineError subclass."""
        rid = next(self._ids)
        return self._send({"v": P.VERSION, "op": op, "id": rid, **fields}, op, rid, timeout)

    def call(self, request: P.Request, timeout: float | None = None) -> Any:
        """Send a typed request and return its typed reply (see protocol.REPLIES)."""
        rid = next(self._ids)
        reply = self._send(P.request_map(request, rid), request.op.value, rid, timeout)
        try:
            return P.REPLIES[request.op].from_map(reply)
        except (P.ProtocolError, TypeError, ValueError) as e:
            raise BadReply(f"the engine's '{request.op.value}' reply is not usable: {e}") from None

    def _send(self, message: dict, op: str, rid: int, timeout: float | None) -> dict:
        # packb always returns bytes (its Packer resets); pyright infers Optional from the
        # untyped pure-Python fallback.
        payload = cast(bytes, msgpack.packb(message, use_bin_type=True))
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

    def info(self, timeout: float | None = None) -> P.InfoReply:
        return self.call(P.InfoRequest(), timeout)

    def colorize(self, request: P.ColorizeRequest, timeout: float | None = None) -> P.ColorizeReply:
        return self.call(request, timeout)

    def swatches(self, request: P.SwatchesRequest, timeout: float | None = None) -> P.SwatchesReply:
        return self.call(request, timeout)

    def regions(self, request: P.RegionsRequest, timeout: float | None = None) -> P.RegionsReply:
        return self.call(request, timeout)

    def suggest_points(
        self, request: P.SuggestPointsRequest, timeout: float | None = None
    ) -> P.SuggestPointsReply:
        return self.call(request, timeout)
