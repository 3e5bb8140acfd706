"""Shared fixtures: real engine processes on loopback (never a mock of our own engine)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chromahint_client.launcher import is_running

REPO = Path(__file__).resolve().parents[1]
TIERS = ("unit", "engine", "gimp", "krita")  # pyproject.toml's markers; README "Tests"


def pytest_collection_modifyitems(config, items) -> None:
    """Every test belongs to a tier, so `-m unit` / `-m engine` / … together run them all."""
    untiered = [i.nodeid for i in items if not any(i.get_closest_marker(t) for t in TIERS)]
    if untiered:
        raise pytest.UsageError(
            f"tests without a tier marker ({', '.join(TIERS)}): {', '.join(untiered[:10])}"
        )


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@dataclass
class EngineProcess:
    endpoint: str
    proc: subprocess.Popen
    log: Path

    def wait_for_log(self, pattern: str, seconds: float = 15.0) -> None:
        """Until the engine's log matches the regular expression `pattern` (fails after
        `seconds`), then check it still answers."""
        deadline = time.monotonic() + seconds
        while not re.search(pattern, self.log.read_text()):
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)
        assert is_running(self.endpoint) is not None, "the engine stopped answering"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def launch_engine(
    tmp: Path,
    *extra: str,
    endpoint: str | None = None,
    timeout: float = 120,
    preexec_fn: Callable[[], None] | None = None,
) -> EngineProcess:
    """A real engine process serving `endpoint`; `preexec_fn` runs in the child before the
    engine starts (e.g. to set a resource limit)."""
    endpoint = endpoint or free_endpoint()
    log = tmp / f"engine-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromahint", "serve", "--endpoint", endpoint, *extra],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=preexec_fn,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode}: {log.read_text()}")
        if is_running(endpoint):
            return EngineProcess(endpoint, proc, log)
    proc.kill()
    raise RuntimeError(f"engine did not answer within {timeout}s: {log.read_text()}")


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    """One real engine for the session, on a free loopback port."""
    e = launch_engine(tmp_path_factory.mktemp("engine"))
    yield e
    e.stop()


@pytest.fixture
def engine_factory(tmp_path) -> Iterator:
    """Start extra engines (custom limits, restarts); all are stopped after the test."""
    started: list[EngineProcess] = []

    def start(*extra: str, endpoint: str | None = None) -> EngineProcess:
        e = launch_engine(tmp_path, *extra, endpoint=endpoint)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture(scope="module")
def torch_one_thread() -> Iterator[None]:
    """Small tensors: one thread is as fast and avoids OpenMP thrashing on a busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
