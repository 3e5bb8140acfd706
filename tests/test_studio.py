"""A studio of engines behind `chromahint broker` (libzmq's proxy), on loopback (issue 14).

Three engines connect to one broker; eight clients load it; one engine is killed and started
again and a fourth joins while the load runs: no request is lost (the Lazy Pirate client's
retry reaches another engine), nothing is misrouted, and every engine serves a share (the
per-engine counts from each engine's `info.served` are printed). Then the same with CURVE on
both sides of the broker.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EngineProcess, free_endpoint, launch_engine
from load_clients import run_load, wait_answered

from chromahint.security import create_client_keys, create_server_keys
from chromahint_client import Client, CurveKeys, EngineAuthError

LOAD_OPS = ("colorize", "swatches", "regions")


@dataclass
class Broker:
    clients: str
    engines: str
    proc: subprocess.Popen
    log: Path


@pytest.fixture
def broker(tmp_path, request) -> Iterator[Broker]:
    keys = getattr(request, "param", None)
    clients, engines = free_endpoint(), free_endpoint()
    log = tmp_path / "broker.log"
    extra = ["--curve", "--keys", str(keys(tmp_path))] if keys else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromahint", "broker", "--clients", clients, "--engines", engines]
        + extra,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.0)
    assert proc.poll() is None, log.read_text()
    yield Broker(clients, engines, proc, log)
    proc.terminate()
    proc.wait(20)


def studio_engine(tmp: Path, broker: Broker, name: str, *extra: str) -> EngineProcess:
    """An engine on its own ipc:// endpoint (for the test to ask it directly) that also
    serves the broker."""
    return launch_engine(
        tmp, "--broker", broker.engines, *extra, endpoint=f"ipc://{tmp}/{name}.sock"
    )


def load_served(e: EngineProcess) -> int:
    with Client(e.endpoint, timeout=30, retries=0) as c:
        served = c.info().served
    return sum(served.get(op, 0) for op in LOAD_OPS)


@pytest.mark.engine
def test_three_engines_one_killed_restarted_and_a_fourth_added(tmp_path, broker):
    engines = {f"e{i}": studio_engine(tmp_path, broker, f"e{i}") for i in (1, 2, 3)}
    counts: dict[str, int] = {}
    events: list[str] = []

    def kill_restart_add(outcomes) -> None:
        wait_answered(outcomes, 40)
        counts["e1 (until killed)"] = load_served(engines["e1"])
        engines["e1"].proc.kill()
        engines["e1"].proc.wait()
        events.append(f"killed e1 after {len(outcomes)} replies")
        started: dict[str, EngineProcess] = {}

        def start(name: str) -> None:
            started[name] = studio_engine(tmp_path, broker, name)

        joins = [threading.Thread(target=start, args=(n,)) for n in ("e1-again", "e4")]
        for t in joins:
            t.start()
        for t in joins:
            t.join()
        engines.update(started)
        events.append(f"e1 restarted and e4 added after {len(outcomes)} replies")

    try:
        report = run_load(broker.clients, 8, 40, timeout=10, retries=3, during=[kill_restart_add])
        for name in ("e2", "e3", "e1-again", "e4"):
            counts[name] = load_served(engines[name])
    finally:
        for e in engines.values():
            e.stop()
    print(f"\n{'; '.join(events)}; {len(report.outcomes)} requests in {report.seconds:.1f} s")
    print("requests served per engine:", counts)
    assert not report.misrouted, report.misrouted[:5]
    assert not report.failed, report.failed[:5]
    assert len(report.outcomes) == 8 * 40
    # The load spread: every live engine took a share, the two that joined late included.
    for name in ("e2", "e3", "e1-again", "e4"):
        assert counts[name] >= 5, counts


def studio_keys(tmp: Path) -> Path:
    keys = tmp / "keys"
    create_server_keys(keys)
    create_client_keys(keys, "artist")
    create_client_keys(keys, "engine-1")
    return keys


@pytest.mark.engine
@pytest.mark.parametrize("broker", [studio_keys], indirect=True)
def test_curve_on_both_sides_of_the_broker(tmp_path, broker):
    keys = tmp_path / "keys"
    server = keys / "server.key"
    e = studio_engine(
        tmp_path,
        broker,
        "e1",
        "--broker-server-key",
        str(server),
        "--broker-client-key",
        str(keys / "clients" / "engine-1.key_secret"),
    )
    try:
        artist = CurveKeys.from_files(server, keys / "clients" / "artist.key_secret")
        with Client(broker.clients, timeout=30, retries=0, keys=artist) as c:
            assert c.info().pid == e.proc.pid
        with Client(broker.clients, timeout=5, retries=0) as c, pytest.raises(EngineAuthError):
            c.info()
    finally:
        e.stop()
    # An engine without the broker's keys is never let in: the broker has nobody to ask.
    bare = studio_engine(tmp_path, broker, "e2")
    try:
        with Client(broker.clients, timeout=3, retries=0, keys=artist) as c:
            with pytest.raises(Exception, match="not responding"):
                c.info()
    finally:
        bare.stop()
