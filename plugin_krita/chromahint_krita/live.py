"""Live mode's eyes: notice new hint strokes and say when the artist paused.

Krita 5.1's scripting API has no "layer changed" signal, so the hint layer's fingerprint
(kritadoc.fingerprint) is polled; a change (re)starts a short debounce, and `settled` fires
once the strokes pause. Qt timers on the GUI thread; no Krita API here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

POLL_MS = 100  # how often live mode looks at the hint layer
DEBOUNCE_MS = 150  # quiet time after the last change before re-colorizing


class HintWatch(QObject):
    settled = pyqtSignal()  # the hints changed, then stayed the same for DEBOUNCE_MS

    def __init__(self, fingerprint: Callable[[], tuple], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fingerprint = fingerprint
        self.last: tuple = ()  # the fingerprint last seen
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._look)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.settled)

    def start(self) -> None:
        self.last = self._fingerprint()
        self._poll.start()

    def stop(self) -> None:
        self._poll.stop()
        self._debounce.stop()

    def forget(self) -> None:
        """Another hint layer or document: its first look counts as a change."""
        self.last = ()

    def _look(self) -> None:
        started = time.monotonic()
        current = self._fingerprint()
        # Reading a big hint layer takes a while: look less often so painting stays smooth.
        cost_ms = (time.monotonic() - started) * 1000
        self._poll.setInterval(max(POLL_MS, int(10 * cost_ms)))
        if current != self.last:
            self.last = current
            self._debounce.start()  # restarts while the stroke goes on
