"""One engine request per run, made in a worker thread while GIMP's progress bar pulses.

GIMP's API may only be called from the plug-in's main thread, so the worker touches
nothing but the network; the main thread pulses and shows the worker's status text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chromahint_client import Client, EngineError, EngineNotRunning, EngineReplyError
from chromahint_client.launcher import ensure_engine

from .settings import Settings

PULSE_SECONDS = 0.1


class EngineFailure(Exception):
    """A request failed; str() is the message to show (never a traceback)."""


def run_in_background(
    work: Callable[[Callable[[str], None]], Any],
    pulse: Callable[[str | None], None],
    interval: float = PULSE_SECONDS,
) -> Any:
    """Run `work(report)` in a thread; call `pulse(text)` every `interval` until it ends.

    `text` is the newest status `work` reported, given once when it changes, else None.
    Whatever `work` returns or raises is returned or raised here, in the calling thread.
    """
    outcome: dict[str, Any] = {}
    status: list[str] = []

    def target() -> None:
        try:
            outcome["value"] = work(status.append)
        except BaseException as e:  # handed to the main thread, which decides
            outcome["error"] = e

    worker = threading.Thread(target=target, name="chromahint-request", daemon=True)
    worker.start()
    shown = None
    while worker.is_alive():
        worker.join(interval)
        newest = status[-1] if status else None
        pulse(newest if newest != shown else None)
        shown = newest
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def describe(error: EngineError, settings: Settings, op: str) -> str:
    """Words for people, saying what to do where we know it."""
    if isinstance(error, EngineReplyError):
        if error.code == "unsupported":
            return f"The Chromahint engine cannot do this ('{op}'): {error.message}"
        return f"The Chromahint engine reported an error ({error.code}): {error.message}"
    if isinstance(error, EngineNotRunning):
        where = f" (settings: {settings.path})" if settings.path else ""
        return (
            f"Chromahint engine not available: {error}. Check that 'engine_command' "
            f"({settings.engine_command!r}) starts it at {settings.endpoint}{where}, or start "
            "it yourself with 'chromahint serve'."
        )
    return f"Chromahint: {error}"


def request(
    settings: Settings,
    op: str,
    report: Callable[[str], None],
    log_path: str | None = None,
    **fields: Any,
) -> dict:
    """Make sure an engine runs (starting the configured command if needed), then ask it."""
    try:
        ensure_engine(
            settings.endpoint, settings.engine_command, progress=report, log_path=log_path
        )
        report("Chromahint: waiting for the engine…")
        with Client(settings.endpoint, timeout=settings.timeout, retries=0) as client:
            return client.request(op, **fields)
    except EngineError as e:
        raise EngineFailure(describe(e, settings, op)) from None
