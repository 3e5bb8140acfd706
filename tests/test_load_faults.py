"""Load and faults against real engine processes on loopback (issue 14).

- Load: 8 clients at once, mixed requests (colorize of three sizes, swatches, regions, info)
  whose replies prove they reached the right client (tests/load_clients.py). CI tier: 25
  requests per client; long tier (CHROMAHINT_LOAD_LONG=1): 200, with the per-op latency
  percentiles written to artifacts/load-long.json. The benchmark numbers in
  docs/benchmarks.md come from bench/bench_load.py.
- SIGKILL under load with a restart: every request is answered (the Lazy Pirate client
  resends); without a restart every client gets a clear error after its retries.
- SIGSTOP (a hung engine): "not responding" within the client's timeout, and the engine
  serves again after SIGCONT.
- A memory cap (RLIMIT_AS, as `ulimit -v` sets it): what does not fit is refused with an
  error, and the engine keeps serving.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import time
from pathlib import Path

import pytest
from conftest import EngineProcess, free_endpoint, launch_engine
from load_clients import gray_image, run_load, wait_answered

from chromahint_client import Client, EngineNotRunning, EngineReplyError, EngineTimeout
from chromahint_client import protocol as P

REPO = Path(__file__).resolve().parents[1]
LONG = os.environ.get("CHROMAHINT_LOAD_LONG") == "1"
CLIENTS = 8
PER_CLIENT = 200 if LONG else 25


def table(report) -> str:
    return "; ".join(
        f"{op} n={v['n']} p50={v['p50']:.0f} p95={v['p95']:.0f} p99={v['p99']:.0f} ms"
        for op, v in report.percentiles().items()
    )


@pytest.mark.engine
def test_eight_clients_mixed_load_loses_and_misroutes_nothing(engine):
    report = run_load(engine.endpoint, CLIENTS, PER_CLIENT, timeout=120, retries=0)
    print(f"\nload {CLIENTS} x {PER_CLIENT} in {report.seconds:.1f} s: {table(report)}")
    assert not report.misrouted, report.misrouted[:5]
    assert not report.failed, report.failed[:5]
    assert len(report.outcomes) == CLIENTS * PER_CLIENT
    keys = {(o.client, o.index) for o in report.outcomes}
    assert len(keys) == CLIENTS * PER_CLIENT  # every request once, none twice
    assert set(report.latencies()) == {"colorize", "swatches", "regions", "info"}
    if LONG:
        out = REPO / "artifacts" / "load-long.json"
        out.parent.mkdir(exist_ok=True)
        summary = {"clients": CLIENTS, "per_client": PER_CLIENT, "seconds": report.seconds}
        out.write_text(json.dumps({**summary, "ms": report.percentiles()}, indent=1))


@pytest.mark.engine
def test_engine_killed_under_load_answers_every_request_after_its_restart(tmp_path):
    endpoint = free_endpoint()
    engines = [launch_engine(tmp_path, endpoint=endpoint)]
    killed_at: list[int] = []

    def kill_and_restart(outcomes) -> None:
        wait_answered(outcomes, 40)
        killed_at.append(len(outcomes))
        os.kill(engines[0].proc.pid, signal.SIGKILL)
        engines[0].proc.wait()
        engines.append(launch_engine(tmp_path, endpoint=endpoint))

    try:
        # Each attempt waits 20 s; four attempts outlast the restart (a model load).
        report = run_load(endpoint, CLIENTS, 25, timeout=20, retries=3, during=[kill_and_restart])
    finally:
        for e in engines:
            e.stop()
    after = [o for o in report.outcomes if o.ok][killed_at[0] :]
    print(
        f"\nkilled after {killed_at[0]} replies; {len(report.outcomes)} requests: {table(report)}"
    )
    assert not report.misrouted and not report.failed, (report.misrouted + report.failed)[:5]
    assert len(report.outcomes) == CLIENTS * 25 and after


@pytest.mark.engine
def test_engine_killed_for_good_gives_every_client_a_clear_error(tmp_path):
    e = launch_engine(tmp_path)

    def kill(outcomes) -> None:
        wait_answered(outcomes, 16)
        e.proc.kill()
        e.proc.wait()

    t0 = time.monotonic()
    report = run_load(e.endpoint, CLIENTS, 10, timeout=2, retries=1, during=[kill])
    elapsed = time.monotonic() - t0
    assert not report.misrouted
    failed = report.failed
    assert failed and len(report.outcomes) == CLIENTS * 10
    for o in failed:
        assert e.endpoint in o.error and ("not running" in o.error or "not responding" in o.error)
    # Each failed request gave up after its two 2 s attempts, not later.
    assert max(o.seconds for o in failed) < 2 * 2 + 1.5
    assert elapsed < 120


@pytest.mark.engine
def test_hung_engine_is_reported_not_responding_within_the_timeout(tmp_path):
    e = launch_engine(tmp_path)
    try:
        with Client(e.endpoint, timeout=5, retries=0) as c:
            assert c.info().pid == e.proc.pid
        os.kill(e.proc.pid, signal.SIGSTOP)
        try:
            with Client(e.endpoint, timeout=1.0, retries=1) as c:
                t0 = time.monotonic()
                with pytest.raises(EngineTimeout) as err:
                    c.info()
                elapsed = time.monotonic() - t0
        finally:
            os.kill(e.proc.pid, signal.SIGCONT)
        assert "is not responding" in str(err.value) and e.endpoint in str(err.value)
        assert 2.0 <= elapsed < 3.0
        with Client(e.endpoint, timeout=30, retries=0) as c:
            assert c.info().pid == e.proc.pid
    finally:
        e.stop()


def refuses_what_does_not_fit(capped: EngineProcess, bound: str) -> None:
    """A small request is served, a 4000x3000 one (about 550 MiB of work, more than the cap
    leaves) refused with `too_large` naming the bound, and the engine serves on."""
    with Client(capped.endpoint, timeout=120, retries=0) as c:
        small = c.colorize(P.ColorizeRequest(gray_image(256, 192, 1), ()))
        assert (small.layer.width, small.layer.height) == (256, 192)
        with pytest.raises(EngineReplyError) as err:
            c.colorize(P.ColorizeRequest(gray_image(4000, 3000, 2), ()))
        assert err.value.code == P.ErrorCode.TOO_LARGE
        assert bound in err.value.message and "4000x3000" in err.value.message, err.value
        again = c.colorize(P.ColorizeRequest(gray_image(300, 200, 3), ()))
        assert (again.layer.width, again.layer.height) == (300, 200)
    assert capped.proc.poll() is None


def proc_status_bytes(pid: int, field: str) -> int:
    """A /proc/PID/status size (VmSize: address space, VmRSS: resident) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def warm_engine(tmp_path: Path, **kwargs) -> EngineProcess:
    """A fresh engine that has served one small request: what it maps and holds is what
    any engine will, before a cap is put on it."""
    e = launch_engine(tmp_path, **kwargs)
    with Client(e.endpoint, timeout=60, retries=0) as c:
        c.colorize(P.ColorizeRequest(gray_image(256, 256, 0), ()))
    return e


@pytest.mark.engine
def test_engine_under_a_memory_cap_refuses_what_does_not_fit(tmp_path):
    capped = warm_engine(tmp_path)
    try:
        # As `ulimit -v` would have set it, lowered on the running engine (prlimit).
        cap = proc_status_bytes(capped.proc.pid, "VmSize") + (300 << 20)
        resource.prlimit(capped.proc.pid, resource.RLIMIT_AS, (cap, cap))
        refuses_what_does_not_fit(capped, "ulimit -v")
    finally:
        capped.stop()


def memory_cgroup() -> tuple[Path, Path] | None:
    """A fresh memory cgroup (v1 or v2) under this process's, and its limit file; None
    where cgroups cannot be made here (not root, a read-only /sys/fs/cgroup)."""
    name = f"chromahint-test-{os.getpid()}-{time.monotonic_ns()}"
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, rel = line.split(":", 2)
        if controllers == "":
            folder, limit = Path("/sys/fs/cgroup", rel.lstrip("/"), name), "memory.max"
        elif "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory", rel.lstrip("/"), name)
            limit = "memory.limit_in_bytes"
        else:
            continue
        try:
            folder.mkdir()
            if (folder / limit).is_file():
                return folder, folder / limit
        except OSError:
            pass
        if folder.is_dir():
            folder.rmdir()
    return None


@pytest.mark.engine
def test_engine_in_a_memory_cgroup_refuses_what_does_not_fit(tmp_path):
    """systemd's MemoryMax= or a container limit: past it the kernel's OOM killer would end
    the engine; the engine reads the limit and refuses instead."""
    made = memory_cgroup()
    if made is None:
        pytest.skip("no memory cgroup can be made on this machine (needs root and cgroupfs)")
    folder, limit_file = made

    def join() -> None:
        (folder / "cgroup.procs").write_text(str(os.getpid()))

    capped = warm_engine(tmp_path, preexec_fn=join)
    try:
        # 400 MiB beyond what the cgroup is charged now (not the engine's RSS: pages of shared
        # libraries already cached by other processes are charged to their cgroups).
        usage = "memory.current" if limit_file.name == "memory.max" else "memory.usage_in_bytes"
        charged = int((limit_file.parent / usage).read_text())
        limit_file.write_text(str(charged + (400 << 20)))
        refuses_what_does_not_fit(capped, "cgroup")
    finally:
        capped.stop()
        folder.rmdir()


@pytest.mark.engine
def test_nothing_listening_is_not_running_not_a_timeout():
    with Client(free_endpoint(), timeout=0.5, retries=1) as c, pytest.raises(EngineNotRunning):
        c.info()
