"""Cancel the engine's work for a plug-in that was killed.

GIMP's Cancel button (the progress bar's ✕) closes a plug-in by SIGKILL
(gimp_plug_in_close), so the plug-in cannot send `cancel` itself and the engine would go on
with work nobody waits for. So before a request the plug-in starts this watcher in a
session of its own (GIMP kills the plug-in's process group, not this one) and writes it
each request id it sends, then "done" when it has its answer. End of input without "done"
means the plug-in died: the watcher sends `cancel` for the last id and exits.

    python -m chromahint_client.cancel_watch SETTINGS_FOLDER
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable

from .client import Client, EngineError
from .settings import SettingsError, load

CANCEL_TIMEOUT = 2.0
DONE = "done"


def orphaned(lines: Iterable[str]) -> str | None:
    """The request id to cancel after these lines from the plug-in: the last one, unless
    the plug-in said it was done."""
    rid = None
    for line in lines:
        word = line.strip()
        if word == DONE:
            return None
        rid = word or rid
    return rid


class KillWatch:
    """The plug-in's side: start the watcher, `arm(rid)` per request, `close()` when done.
    A watcher that cannot start leaves the plug-in working as before (without it)."""

    def __init__(self, settings_folder: str) -> None:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": package_parent}
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable or "python3", "-m", f"{__package__}.cancel_watch", settings_folder],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError:
            self._proc = None

    def _say(self, word: str) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(f"{word}\n".encode())
                self._proc.stdin.flush()
            except OSError:  # the watcher is gone: nothing to tell
                self._proc = None

    def arm(self, request_id: str) -> None:
        self._say(request_id)

    def close(self) -> None:
        self._say(DONE)
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()
            self._proc = None

    def __enter__(self) -> KillWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    rid = orphaned(sys.stdin)
    if rid is None or len(sys.argv) != 2:
        return 0
    try:
        settings = load(sys.argv[1])
        with Client(settings.endpoint, CANCEL_TIMEOUT, 0, keys=settings.curve) as c:
            c.cancel(rid)
    except (SettingsError, EngineError):  # nobody to tell: the plug-in is gone
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
