"""`chromahint broker`: libzmq's own proxy between a studio's clients and its engines.

Clients (the plug-ins, `chromahint colorize`) connect their REQ sockets to the front end, a
ROUTER; engines started with `serve --broker` connect to the back end, a DEALER, which deals
requests out to the engines connected at that moment in turn. An engine that stops or dies
drops out of the deal (its connection closes, or ZMTP heartbeats time it out); one that
starts joins it. A request lost with an engine is sent again by the client's Lazy Pirate
retry and goes to another engine. Nothing here schedules: `zmq.proxy_steerable` moves the
frames, in C. With keys both ends are CURVE servers, and the allow folder holds the keys of
the artists' clients and of the engines alike (docs/studio.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence

import zmq

from .security import ServerKeys
from .serving import check_endpoints, new_socket, start_authenticator

log = logging.getLogger("chromahint.broker")


def run_broker(
    frontends: Sequence[str],
    backends: Sequence[str],
    keys: ServerKeys | None,
    max_message_bytes: int,
    stop: threading.Event | None = None,
) -> None:
    """Proxy until SIGINT/SIGTERM (or `stop` is set)."""
    check_endpoints([*frontends, *backends], keys)
    # A context of its own: with no engine connected the proxy blocks in its send to the
    # back end (a DEALER without peers waits for one), and terminating the context is what
    # unblocks it when the broker stops.
    ctx = zmq.Context()
    auth = start_authenticator(ctx, keys) if keys is not None else None
    front = new_socket(ctx, zmq.ROUTER, max_message_bytes, keys, heartbeat=True)
    back = new_socket(ctx, zmq.DEALER, max_message_bytes, keys, heartbeat=True)
    control = ctx.socket(zmq.PAIR)
    control.setsockopt(zmq.LINGER, 0)
    control_addr = "inproc://chromahint-broker-control"
    control.bind(control_addr)
    stopped = stop or threading.Event()
    try:
        for ep in frontends:
            front.bind(ep)
        for ep in backends:
            back.bind(ep)
    except BaseException:
        for sock in (front, back, control):
            sock.close(0)
        if auth is not None:
            auth.stop()
        ctx.term()
        raise
    proxy = threading.Thread(target=_proxy, args=(ctx, front, back, control_addr), name="proxy")
    proxy.start()
    log.info("broker: clients at %s, engines at %s", ", ".join(frontends), ", ".join(backends))
    old = {}
    if threading.current_thread() is threading.main_thread():
        old = {
            s: signal.signal(s, lambda *_: stopped.set()) for s in (signal.SIGINT, signal.SIGTERM)
        }
    try:
        while not stopped.wait(0.2):
            pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        control.send(b"TERMINATE")
        proxy.join(2.0)
        control.close(0)
        if auth is not None:
            auth.stop()
        ctx.term()  # returns once the proxy thread, unblocked by it if need be, has closed up
        proxy.join()
        log.info("broker stopped")


def _proxy(ctx: zmq.Context, front: zmq.Socket, back: zmq.Socket, control_addr: str) -> None:
    """Runs in its own thread, which owns the two sockets from here on."""
    ctl = ctx.socket(zmq.PAIR)
    ctl.setsockopt(zmq.LINGER, 0)
    ctl.connect(control_addr)
    try:
        zmq.proxy_steerable(front, back, None, ctl)
    except zmq.ContextTerminated:
        pass
    finally:
        for sock in (ctl, front, back):
            sock.close(0)
