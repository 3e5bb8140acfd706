"""A pykrita plug-in that drives a scenario inside a real Krita, for the tests.

The harness installs this file as `pykrita/chromahint_testdriver/__init__.py` next to the
plug-in under test. It runs inside Krita's own Python (the system python3, not pytest's),
so it imports only the standard library, PyQt5 and krita.

A scenario is a module (path in CHROMAHINT_KRITA_SCENARIO) with a generator function
`steps(ctx)`. Between steps Krita's event loop runs, which the GUI needs (a document opened
in one step has an active node only after the loop ran). A step yields:
  - a number: wait that many milliseconds;
  - a callable: poll it every 50 ms until it returns true (ctx.timeout_s per wait).
Results go to the JSON file named by CHROMAHINT_KRITA_RESULTS; then Krita exits at once
with os._exit, since a regular quit can crash or hang in a headless session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback

from krita import Krita
from PyQt5.QtCore import QTimer

SCENARIO = os.environ.get("CHROMAHINT_KRITA_SCENARIO", "")
RESULTS = os.environ.get("CHROMAHINT_KRITA_RESULTS", "")
WATCHDOG_S = float(os.environ.get("CHROMAHINT_KRITA_WATCHDOG", "240"))
POLL_MS = 50


class Context:
    """What a scenario sees: results to fill, checks to record, and a few helpers."""

    def __init__(self) -> None:
        self.results: dict = {"checks": {}, "log": [], "started": time.time()}
        self.timeout_s = 60.0
        self.artifacts = os.environ.get("CHROMAHINT_KRITA_ARTIFACTS", "")
        self.env = dict(os.environ)

    def check(self, name: str, ok: bool, detail: object = None) -> None:
        self.results["checks"][name] = {"ok": bool(ok), "detail": detail}

    def log(self, message: str) -> None:
        self.results["log"].append(f"{time.time() - self.results['started']:.2f}s {message}")


_ctx = Context()
_gen = None
_finished = False


def _finish(error: str | None = None) -> None:
    global _finished
    if _finished:
        return
    _finished = True
    if error:
        _ctx.results["error"] = error
    _ctx.results["elapsed_s"] = round(time.time() - _ctx.results["started"], 2)
    if RESULTS:
        tmp = RESULTS + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_ctx.results, f, indent=1, default=repr)
        os.replace(tmp, RESULTS)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _advance() -> None:
    try:
        step = next(_gen)
    except StopIteration:
        _finish()
        return
    except Exception:
        _finish(traceback.format_exc())
        return
    if callable(step):
        _poll(step, time.monotonic() + _ctx.timeout_s)
    else:
        QTimer.singleShot(int(step or 0), _advance)


def _poll(predicate, deadline: float) -> None:
    try:
        done = predicate()
    except Exception:
        _finish(traceback.format_exc())
        return
    if done:
        QTimer.singleShot(0, _advance)
    elif time.monotonic() > deadline:
        name = getattr(predicate, "__name__", repr(predicate))
        _finish(f"timed out after {_ctx.timeout_s:g} s waiting for {name}")
    else:
        QTimer.singleShot(POLL_MS, lambda: _poll(predicate, deadline))


def _start() -> None:
    global _gen
    if Krita.instance().activeWindow() is None:  # the main window is not up yet
        QTimer.singleShot(200, _start)
        return
    try:
        spec = importlib.util.spec_from_file_location("chromahint_scenario", SCENARIO)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _gen = module.steps(_ctx)
    except Exception:
        _finish(traceback.format_exc())
        return
    _advance()


if SCENARIO:
    QTimer.singleShot(int(WATCHDOG_S * 1000), lambda: _finish(f"watchdog: {WATCHDOG_S:g} s"))
    QTimer.singleShot(500, _start)
