"""Reliable request-reply to the engine: the ZeroMQ guide's "Lazy Pirate" pattern.

Send on a DEALER socket (with the empty delimiter frame, as REQ would) and wait with a
timeout; on timeout close the socket, reconnect and send again, a bounded number of times.
DEALER rather than REQ because a request that asks for progress gets several messages
before its reply; replies to earlier attempts are told apart by their id. Ids are unique
across processes (a random token and a count), so a `cancel` from any client names one
request. With `keys`, every socket it opens is a CURVE client of the engine.

Images are sent once: the engine names each image it receives by a content hash
(`image_id` in replies); a later request whose image has a known id sends only the id, and
when the engine answers `unknown_image` (evicted, restarted) the client sends the image.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from typing import Any, cast

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol as P
from .curve import CurveKeys
from .known_images import _forget, _known_id, _remember, fingerprint

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_NO_DETAIL = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL  # also: the peer closed mid-handshake
_CLOSED_HANDSHAKES = 3  # this many in a row is a refusal, not an engine restarting
_RANK: dict[int, int] = {
    int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): 0,
    int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): 1,
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): 2,
}
_TOKEN = secrets.token_hex(4)
_COUNT = itertools.count(1)
BY_ID_MIN_BYTES = 1 << 16  # smaller ones are sent as they are: nothing to save
Progress = Callable[[float, str], None]


def new_request_id() -> str:
    """An id no other request of any client uses (for `cancel`)."""
    return f"{_TOKEN}-{next(_COUNT)}"


class EngineError(Exception):
    """Base class: something kept the engine from answering a request."""


class EngineNotRunning(EngineError):
    """Nothing accepted a connection at the endpoint."""


class EngineTimeout(EngineError):
    """Something accepted the connection but did not answer in time, even after retries: a
    hung (or stopped, or overloaded) engine. str() says it is not responding."""


class EngineReplyError(EngineError):
    """The engine answered with an error reply; `code` is machine-readable (an ErrorCode when
    this client knows it), str() is for people."""

    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        try:
            self.code: P.ErrorCode | str = P.ErrorCode(code)
        except ValueError:
            self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms  # with `busy`: when to try again

    @property
    def unsupported(self) -> bool:
        return self.code == P.ErrorCode.UNSUPPORTED


class EngineAuthError(EngineError):
    """The engine is there but the security handshake failed (it wants CURVE keys this client
    lacks, refused its key, or is not the server key's engine): raised at once, no retry."""


class BadReply(EngineError):
    """The engine's success reply does not hold what the protocol says it holds."""


class Client:
    """`keys`: for an engine that requires CURVE (docs/security.md), its public key and this
    client's key pair; without them the client speaks plain ZeroMQ, as to a loopback engine."""

    def __init__(
        self,
        endpoint: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        context: zmq.Context | None = None,
        keys: CurveKeys | None = None,
        progress: Progress | None = None,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        """`progress`: called for the progress messages of every typed request (unless a
        call gives its own); `current_request_id`: the id of the request in flight (for a
        `cancel` from another thread), also told to `on_request` before it is sent."""
        self.endpoint = endpoint or P.default_endpoint()
        self.progress = progress
        self.on_request = on_request
        self.current_request_id: str | None = None
        self.timeout = timeout
        self.retries = retries
        self.keys = keys
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._connected = False
        self._reached = False  # a TCP (or ipc) connection was made, handshake or not
        self._refused: tuple[int, int] | None = None  # (handshake failure event, value)
        self._failures = 0  # handshakes failed during this request

    # -- socket life cycle ----------------------------------------------------------------
    def _open(self) -> zmq.Socket:
        sock = self._sock
        if sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if self.keys is not None:
                self.keys.apply(sock)
            self._monitor = sock.get_monitor_socket(
                zmq.EVENT_CONNECTED
                | zmq.EVENT_HANDSHAKE_SUCCEEDED
                | zmq.EVENT_DISCONNECTED
                | _HANDSHAKE_FAILED
            )
            sock.connect(self.endpoint)
            self._sock = sock
        return sock

    def _drain_monitor(self) -> None:
        while self._monitor is not None and self._monitor.poll(0):
            msg = recv_monitor_message(self._monitor)
            event = msg["event"]
            if event == zmq.EVENT_CONNECTED:
                self._reached = True
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected = True
            elif event & _HANDSHAKE_FAILED:
                # Keep the most telling failure: the engine's "no" beats a protocol error,
                # which beats a connection closed mid-handshake.
                self._failures += 1
                seen = (int(event), int(msg["value"]))
                if self._refused is None or _RANK[seen[0]] >= _RANK[self._refused[0]]:
                    self._refused = seen

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
        rid = new_request_id()
        return self._send({"v": P.VERSION, "op": op, "id": rid, **fields}, op, rid, timeout)

    def call(
        self,
        request: P.Request,
        timeout: float | None = None,
        progress: Progress | None = None,
        request_id: str | None = None,
    ) -> Any:
        """Send a typed request and return its typed reply (see protocol.REPLIES).

        `progress(done, stage)` is called for each progress message the engine sends
        (done in 0-1); `timeout` then bounds the silence between messages, not the whole
        request. `request_id` (from new_request_id()) is what `cancel` names."""
        rid = request_id or new_request_id()
        self.current_request_id = rid
        if self.on_request is not None:
            self.on_request(rid)
        progress = progress or self.progress
        message = P.request_map(request, rid)
        if progress is not None:
            message["progress"] = True
        image = getattr(request, "image", None)
        print_ = None
        if isinstance(image, P.Image) and len(image.data) >= BY_ID_MIN_BYTES:
            print_ = fingerprint(image)
            ref = _known_id(self.endpoint, image, print_)
            if ref is not None:
                by_id = {k: v for k, v in message.items() if k != "image"}
                try:
                    reply = self._send(
                        {**by_id, "image_id": ref}, request.op.value, rid, timeout, progress
                    )
                except EngineReplyError as e:
                    if e.code != P.ErrorCode.UNKNOWN_IMAGE:
                        raise
                    _forget(self.endpoint, ref)  # evicted or restarted: send the image
                else:
                    return self._typed(request, reply)
        reply = self._send(message, request.op.value, rid, timeout, progress)
        if print_ is not None and image is not None and isinstance(reply.get("image_id"), str):
            _remember(self.endpoint, reply["image_id"], print_, image.data)
        return self._typed(request, reply)

    @staticmethod
    def _typed(request: P.Request, reply: dict) -> Any:
        try:
            return P.REPLIES[request.op].from_map(reply)
        except (P.ProtocolError, TypeError, ValueError) as e:
            raise BadReply(f"the engine's '{request.op.value}' reply is not usable: {e}") from None

    def cancel(self, request_id: str, timeout: float | None = None) -> bool:
        """Ask the engine to stop request `request_id` (sent by any client); True when it
        was queued or running. That request's caller then gets a `cancelled` error."""
        reply = self.call(P.CancelRequest(request_id), timeout)
        return bool(reply.cancelled)

    def _send(
        self,
        message: dict,
        op: str,
        rid: Any,
        timeout: float | None,
        progress: Progress | None = None,
    ) -> dict:
        # packb always returns bytes (its Packer resets); pyright infers Optional from the
        # untyped pure-Python fallback.
        payload = cast(bytes, msgpack.packb(message, use_bin_type=True))
        wait = self.timeout if timeout is None else timeout
        self._connected = self._reached = False
        self._refused = None
        self._failures = 0
        for _attempt in range(self.retries + 1):
            sock = self._open()
            sock.send_multipart([b"", payload], copy=False)
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if sock.poll(int(min(left, 0.1) * 1000), zmq.POLLIN):
                    # Not copied out of ZeroMQ's buffer: msgpack makes the one copy.
                    frames = sock.recv_multipart(copy=False)
                    reply = msgpack.unpackb(frames[-1].buffer, raw=False, strict_map_key=False)
                    if not isinstance(reply, dict):
                        continue
                    # One request is in flight per socket, so an error about a frame the
                    # engine could not read (too large, not msgpack), which has no id,
                    # is about this one; other ids are late replies to earlier attempts.
                    if reply.get("id") not in (rid, None):
                        continue
                    if "ok" not in reply and isinstance(reply.get("progress"), dict):
                        deadline = time.monotonic() + wait  # alive: the timeout restarts
                        if progress is not None:
                            done = reply["progress"].get("done", 0.0)
                            progress(float(done), str(reply["progress"].get("stage", "")))
                        continue
                    return self._check(reply)
                self._drain_monitor()
                if self._definitely_refused():
                    self._reset()  # a definite "no": retrying cannot help
                    raise self._auth_error()
            self._drain_monitor()
            self._reset()
        # One connection closed mid-handshake may be an engine that died under us; a CURVE
        # engine refusing closes every reconnect, so it takes a few to mean "refused".
        if not self._connected and self._definitely_refused():
            raise self._auth_error()
        # A stopped engine's kernel still accepts the TCP connection but nothing answers the
        # ZeroMQ handshake: that is an engine not responding, not one that is not running.
        if not self._connected and not self._reached:
            raise EngineNotRunning(
                f"the Chromahint engine is not running at {self.endpoint} "
                "(start it with 'chromahint serve')"
            )
        attempts = self.retries + 1
        raise EngineTimeout(
            f"the Chromahint engine at {self.endpoint} is not responding: it did not answer "
            f"'{op}' within {wait:g} s ({attempts} attempt{'s' if attempts > 1 else ''})"
        )

    def _definitely_refused(self) -> bool:
        return self._refused is not None and (
            self._refused[0] != _NO_DETAIL or self._failures >= _CLOSED_HANDSHAKES
        )

    def _auth_error(self) -> EngineAuthError:
        event, value = self._refused or (_NO_DETAIL, 0)
        where = f"the Chromahint engine at {self.endpoint}"
        needs_keys = (
            f"{where} requires CURVE authentication: give this client the engine's "
            "server.key and a client key pair (--server-key/--client-key, or "
            "'server_key'/'client_key' in the plug-ins' chromahint.json)"
        )
        mismatch = value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            why = (
                f"{where} refused this client's key (status {value}): its public key is not "
                "in the engine's allow folder (ask whoever runs the engine to add it with "
                "'chromahint keys client NAME' or 'chromahint keys allow FILE NAME', then reload "
                "it with SIGHUP or restart it)"
            )
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and mismatch and self.keys is None:
            why = needs_keys
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and mismatch:
            why = f"{where} does not use CURVE authentication, but this client was given keys"
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            why = (
                f"the ZeroMQ handshake with {self.endpoint} failed (protocol error "
                f"{value:#x}): is a Chromahint engine listening there?"
            )
        elif self.keys is None:
            why = (
                f"{where} closed the connection during the handshake, as an engine that "
                "requires CURVE authentication does: give this client the engine's "
                "server.key and a client key pair"
            )
        else:
            why = (
                f"the security handshake with {where} failed: check that the server key "
                "this client uses is that engine's server.key (and that the engine uses CURVE)"
            )
        return EngineAuthError(why + " (see docs/security.md)")

    @staticmethod
    def _check(reply: dict) -> dict:
        if reply.get("ok"):
            return reply
        err = reply.get("error") or {}
        retry = err.get("retry_after_ms")
        raise EngineReplyError(
            str(err.get("code", "unknown")),
            str(err.get("message", reply)),
            retry if isinstance(retry, int) else None,
        )

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

    def recommend_references(
        self, request: P.RecommendReferencesRequest, timeout: float | None = None
    ) -> P.RecommendReferencesReply:
        return self.call(request, timeout)
