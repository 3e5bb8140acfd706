"""Start the engine on demand: run the configured command, wait until it answers `info`."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence

from . import protocol as P
from .client import Client, EngineAuthError, EngineError, EngineNotRunning
from .curve import CurveKeys

# An editor's embedded Python (an AppImage's, a Flatpak's) sets these for itself; the
# engine is a Python program of its own and must not inherit them.
_HOST_PYTHON_VARS = ("PYTHONPATH", "PYTHONHOME")
START_TIMEOUT = 120.0  # loading models on a slow CPU can take a while


def is_running(
    endpoint: str, keys: CurveKeys | None = None, auth_errors: bool = False
) -> P.InfoReply | None:
    """The engine's `info`, or None when nothing answers quickly. With `auth_errors`, an
    engine that refuses this client's keys raises EngineAuthError instead of None."""
    with Client(endpoint, timeout=1.5, retries=0, keys=keys) as c:
        try:
            return c.info()
        except EngineAuthError:
            if auth_errors:
                raise
            return None
        except EngineError:
            return None


def start_engine(
    command: str,
    endpoint: str,
    timeout: float = START_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    log_path: str | None = None,
    detach: bool = True,
    keys: CurveKeys | None = None,
    extra: Sequence[str] = (),
) -> tuple[subprocess.Popen, P.InfoReply]:
    """Start `command --endpoint endpoint [extra]` and wait until it answers; return it and
    its info.

    Detached engines outlive the plug-in that started them, so the next run finds them warm.
    """
    # Windows programs parse their own command line: hand it over as one string there.
    argv: str | list[str] = (
        f"{command} --endpoint {endpoint} {subprocess.list2cmdline(extra)}".rstrip()
        if os.name == "nt"
        else [*shlex.split(command), "--endpoint", endpoint, *extra]
    )
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if k not in _HOST_PYTHON_VARS}
    kwargs: dict = {"stdout": log, "stderr": log, "stdin": subprocess.DEVNULL, "env": env}
    if detach and os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
    elif detach:
        kwargs["start_new_session"] = True  # outlives the editor's plug-in process
    try:
        proc = subprocess.Popen(argv, **kwargs)
    except OSError as e:
        raise EngineNotRunning(f"could not start the engine with {command!r}: {e}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if progress:
            progress("Starting the Chromahint engine…")
        info = is_running(endpoint, keys, auth_errors=True)
        if info is not None:
            return proc, info
        if proc.poll() is not None:
            raise EngineNotRunning(
                f"the engine command {command!r} exited with code {proc.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
    raise EngineNotRunning(f"the engine started with {command!r} did not answer in {timeout:g} s")
