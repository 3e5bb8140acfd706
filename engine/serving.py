"""The engine's sockets and serving loop.

One ROUTER socket binds the engine's own endpoints. With `serve --broker ENDPOINT` another
ROUTER connects to each broker's back end (`chromahint broker`, docs/studio.md): the broker's
DEALER deals requests out to the engines connected to it, and the routing envelope (the
broker's identity, then the client's) comes back with the reply. Requests are served one at
a time by each of a few worker threads (scheduler.py), whichever socket they came on.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import zmq
from zmq.auth.thread import ThreadAuthenticator

from chromahint_client import protocol as P
from chromahint_client.curve import CurveKeys
from chromahint_client.protocol import ErrorCode

from .framing import pack
from .jobs import DEFAULT_WORKERS, Job
from .scheduler import Scheduler, Task
from .security import ServerKeys, allowed_keys, remote_endpoints
from .server import Engine, error_reply

log = logging.getLogger("chromahint.engine")

POLL_MS = 200  # how often the loop checks for a shutdown signal
# ZMTP heartbeats on broker links: a broker (or an engine) that vanished without closing its
# connection, a machine switched off, is noticed within HEARTBEAT_TIMEOUT_MS.
HEARTBEAT_IVL_MS = 2_000
HEARTBEAT_TIMEOUT_MS = 6_000


@dataclass(frozen=True)
class BrokerLink:
    """A broker's back end this engine connects to, with the CURVE keys the broker wants
    (its server.key and this engine's client pair) when it is not on this machine."""

    endpoint: str
    keys: CurveKeys | None = None


def split_envelope(
    frames: Sequence[bytes | memoryview],
) -> tuple[list[bytes | memoryview], list[bytes | memoryview]]:
    """ROUTER frames -> (routing envelope up to and including the empty delimiter, body
    frames). A broker adds its own identity in front of the client's, and identities are
    never empty, so the first empty frame ends the envelope; a DEALER talking straight to
    the engine may leave the delimiter out, and then its identity alone is the envelope."""
    end = next((i + 1 for i in range(1, len(frames)) if len(frames[i]) == 0), 1)
    return list(frames[:end]), list(frames[end:])


class InsecureEndpoint(ValueError):
    """An endpoint other machines can reach, asked for without CURVE keys."""


def check_endpoints(endpoints: Sequence[str], keys: ServerKeys | None) -> None:
    """Refuse, before anything is bound, to serve a non-loopback endpoint without CURVE."""
    remote = remote_endpoints(endpoints)
    if remote and keys is None:
        raise InsecureEndpoint(
            f"{', '.join(remote)} can be reached from other machines; the engine serves such "
            "endpoints only with CURVE keys (make them with 'chromahint keys server' and "
            "'chromahint keys client NAME'; see docs/security.md)"
        )


def check_brokers(brokers: Sequence[BrokerLink]) -> None:
    """A broker on another machine is reached only with CURVE, as the broker requires."""
    remote = [b.endpoint for b in brokers if b.keys is None and remote_endpoints([b.endpoint])]
    if remote:
        raise InsecureEndpoint(
            f"the broker at {', '.join(remote)} is on another machine; connect to it with "
            "CURVE keys (--broker-server-key, --broker-client-key; see docs/studio.md)"
        )


def start_authenticator(ctx: zmq.Context, keys: ServerKeys) -> ThreadAuthenticator:
    """ZeroMQ's ZAP handler, accepting the CURVE client keys in the allow folder."""
    auth = ThreadAuthenticator(ctx, log=logging.getLogger("chromahint.engine.auth"))
    auth.start()
    load_allowed(auth, keys)
    return auth


def load_allowed(auth: ThreadAuthenticator, keys: ServerKeys) -> None:
    auth.configure_curve(domain="*", location=str(keys.allow_dir))
    n = len(allowed_keys(keys.allow_dir))
    if n:
        log.info("CURVE: %d client key(s) allowed from %s", n, keys.allow_dir)
    else:
        log.warning(
            "CURVE: no client keys in %s, so no client can connect "
            "(add one with 'chromahint keys client NAME')",
            keys.allow_dir,
        )


def new_socket(
    ctx: zmq.Context,
    kind: int,
    max_bytes: int,
    keys: ServerKeys | CurveKeys | None = None,
    heartbeat: bool = False,
) -> zmq.Socket:
    """A socket of `kind` as every engine and broker socket is set up: no linger, frames far
    beyond `max_bytes` dropped by ZeroMQ itself (those just over the limit still arrive, so
    the sender gets a readable error), ZMTP heartbeats on links between machines, and CURVE
    (server with ServerKeys, client with CurveKeys) set before any bind or connect, so it
    applies to every endpoint of the socket, loopback and ipc:// included."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_bytes)
    if heartbeat:
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    if isinstance(keys, ServerKeys):
        sock.curve_secretkey = keys.secret
        sock.curve_publickey = keys.public
        sock.curve_server = True
    elif keys is not None:
        keys.apply(sock)
    return sock


def broker_socket(ctx: zmq.Context, engine: Engine, link: BrokerLink) -> zmq.Socket:
    """A ROUTER connected to one broker's back end, as that broker's CURVE client when keyed."""
    max_bytes = 2 * engine.limits.max_message_bytes
    sock = new_socket(ctx, zmq.ROUTER, max_bytes, link.keys, heartbeat=True)
    sock.connect(link.endpoint)
    return sock


class Front:
    """The serving loop's side: every socket, the outbox the workers answer through."""

    def __init__(self, engine: Engine, sockets: list[zmq.Socket], scheduler: Scheduler) -> None:
        self.engine, self.sockets, self.scheduler = engine, sockets, scheduler

    def receive(self, index: int) -> None:
        """One request off socket `index`: parsed here and answered at once when it is an
        error, `info` or `cancel`, else queued for a worker."""
        # Not copied out of ZeroMQ's buffer: msgpack makes the one copy of the body.
        frames = [f.buffer for f in self.sockets[index].recv_multipart(copy=False)]
        envelope, body = split_envelope(frames)
        route = [bytes([index]), *(bytes(f) for f in envelope)]  # identities: a few bytes
        if len(body) != 1:
            n = len(body)
            self.send(
                route,
                error_reply(None, ErrorCode.BAD_REQUEST, f"a request is one frame; got {n} frames"),
            )
            return
        parsed = self.engine.parse(body[0])
        if isinstance(parsed, dict):
            self.send(route, parsed)
            return
        request = parsed.request
        if isinstance(request, P.CancelRequest):
            found, dropped = self.scheduler.cancel(request.target)
            log.info("cancel %s: %s", request.target, "stopping it" if found else "not found")
            for task in dropped:
                why = "cancelled before it started"
                self.send(task.route, error_reply(task.parsed.rid, ErrorCode.CANCELLED, why))
            self.send(route, P.reply_map(P.CancelReply(found), parsed.rid))
        elif isinstance(request, P.InfoRequest):
            self.send(route, self.engine.run(parsed, Job()))
        else:
            refused = self.scheduler.submit(Task(route, parsed, self.engine.need_bytes(request)))
            if refused is not None:
                self.send(route, refused)

    def send(self, route: list[bytes], message: dict) -> None:
        self.deliver([*route, pack(message)])

    def deliver(self, frames: list) -> None:
        """[socket index, envelope..., payload] from a worker (or from here) to its client."""
        index = frames[0][0] if isinstance(frames[0], bytes) else frames[0].bytes[0]
        try:
            self.sockets[index].send_multipart(frames[1:], copy=False)
        except zmq.ZMQError as e:  # a client gone mid-reply: ROUTER drops it, log the rest
            log.warning("could not send a reply: %s", e)


def serve(
    engine: Engine,
    endpoints: Sequence[str],
    stop: Callable[[], bool] | None = None,
    keys: ServerKeys | None = None,
    brokers: Sequence[BrokerLink] = (),
    workers: int = DEFAULT_WORKERS,
) -> None:
    """Serve on every endpoint, and for every broker, until SIGINT/SIGTERM (or `stop()`).
    With `keys` the bound socket is a CURVE server for all its endpoints and accepts only the
    client keys in the allow folder (SIGHUP reloads it); without, only loopback and ipc://
    endpoints are allowed. `workers` threads serve the requests (scheduler.py)."""
    check_endpoints(endpoints, keys)
    check_brokers(brokers)
    ctx = zmq.Context.instance()
    auth = start_authenticator(ctx, keys) if keys is not None else None
    sockets: list[zmq.Socket] = []
    ipc_paths = []
    try:
        if endpoints:
            sockets.append(new_socket(ctx, zmq.ROUTER, 2 * engine.limits.max_message_bytes, keys))
        for ep in endpoints:
            sockets[0].bind(ep)
            if ep.startswith("ipc://"):
                ipc_paths.append(ep[len("ipc://") :])
        sockets.extend(broker_socket(ctx, engine, link) for link in brokers)
    except BaseException:
        for sock in sockets:
            sock.close(0)
        if auth is not None:
            auth.stop()
        raise
    outbox_addr = f"inproc://chromahint-outbox-{id(engine)}"
    outbox = ctx.socket(zmq.PULL)
    outbox.setsockopt(zmq.LINGER, 0)
    outbox.bind(outbox_addr)
    scheduler = Scheduler(engine, ctx, outbox_addr, workers)
    front = Front(engine, sockets, scheduler)
    stopping = {"flag": False, "reload": False}

    def on_signal(signum, _frame):
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stopping["flag"] = True

    def on_hangup(_signum, _frame):
        stopping["reload"] = True

    old = {}
    if threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        if auth is not None and hasattr(signal, "SIGHUP"):
            old[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    security = " (CURVE: clients need a key in the allow folder)" if keys is not None else ""
    if endpoints:
        log.info("listening on %s%s", ", ".join(endpoints), security)
    for link in brokers:
        log.info("serving broker %s%s", link.endpoint, " (CURVE)" if link.keys else "")
    poller = zmq.Poller()
    for sock in sockets:
        poller.register(sock, zmq.POLLIN)
    poller.register(outbox, zmq.POLLIN)
    index = {sock: i for i, sock in enumerate(sockets)}
    try:
        while not stopping["flag"] and not (stop and stop()):
            if stopping["reload"] and auth is not None and keys is not None:
                stopping["reload"] = False
                log.info("SIGHUP: reloading %s", keys.allow_dir)
                load_allowed(auth, keys)
            for sock, _event in poller.poll(POLL_MS):
                if sock is outbox:
                    front.deliver(outbox.recv_multipart(copy=False))
                else:
                    front.receive(index[sock])
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        scheduler.stop()
        outbox.close(0)
        for sock in sockets:
            sock.close(0)
        if auth is not None:
            auth.stop()
        for path in ipc_paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        log.info("engine stopped")
