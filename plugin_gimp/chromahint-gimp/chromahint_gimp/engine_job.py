"""One engine request per run, made in a worker thread while GIMP's progress bar moves.

GIMP's API may only be called from the plug-in's main thread, so the worker touches
nothing but the network; the main thread shows the worker's status text and the engine's
progress (its progress messages), or pulses until the engine sends one.
Starting the engine and the words for failures are `chromahint_client.session`'s, the same
as the Krita plug-in's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from chromahint_client import Client, EngineError, session
from chromahint_client.cancel_watch import KillWatch
from chromahint_client.settings import Settings, SettingsError
from chromahint_client.settings import load as _load

from .errors import PluginError

PULSE_SECONDS = 0.1
T = TypeVar("T")


def run_in_background(
    work: Callable[[Callable[[str], None], Callable[[float], None]], T],
    pulse: Callable[[str | None, float | None], None],
    interval: float = PULSE_SECONDS,
) -> T:
    """Run `work(report, fraction)` in a thread; call `pulse(text, done)` every `interval`
    until it ends.

    `text` is the newest status `work` reported, given once when it changes, else None;
    `done` the newest fraction (0-1) it reported (the engine's progress messages), else
    None. Whatever `work` returns or raises is returned or raised here, in the calling thread.
    """
    outcome: dict[str, Any] = {}
    status: list[str] = []
    done: list[float] = []

    def target() -> None:
        try:
            outcome["value"] = work(status.append, done.append)
        except BaseException as e:  # handed to the main thread, which decides
            outcome["error"] = e

    worker = threading.Thread(target=target, name="chromahint-request", daemon=True)
    worker.start()
    shown = None
    while worker.is_alive():
        worker.join(interval)
        newest = status[-1] if status else None
        pulse(newest if newest != shown else None, done[-1] if done else None)
        shown = newest
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def load_settings(folder: str) -> Settings:
    """The plug-in's chromahint.json (defaults when absent); a broken one is a PluginError
    naming the file and the field."""
    try:
        return _load(folder)
    except SettingsError as e:
        raise PluginError(str(e)) from None


def ask(
    settings: Settings,
    call: Callable[[Client], T],
    what: str,
    report: Callable[[str], None],
    log_path: str | None = None,
    fraction: Callable[[float], None] | None = None,
) -> T:
    """Make sure an engine runs (starting the configured command if nothing listens), then
    `call(client)`: one typed Client method, returning its typed reply. `what` names the
    action for messages ("colorize in photo mode"); failures become a PluginError in words
    for people."""
    try:
        session.engine_info(settings, report, log_path)
        report("Chromahint: waiting for the engine…")
        # Not retried: a resend would queue the same work again behind the first.
        progress = (lambda done, _stage: fraction(done)) if fraction is not None else None
        # GIMP's Cancel kills this process: the watcher then cancels the engine's work.
        with KillWatch(os.path.dirname(settings.path)) as watch, Client(
            settings.endpoint, settings.timeout, retries=0, keys=settings.curve,
            progress=progress, on_request=watch.arm,
        ) as client:  # fmt: skip
            return call(client)
    except EngineError as e:
        raise PluginError(session.describe(e, settings, what)) from None
