"""Engine requests on background threads, with results handed back on Krita's GUI thread.

Each job runs on its own daemon thread with its own ZeroMQ socket, so a cancelled job can
simply be abandoned: its thread finishes (or times out) on its own and its result is
ignored. Signals emitted from those threads are queued to the GUI thread, where the model
lives, so slots may use Krita's API.
"""

from __future__ import annotations

import itertools
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal

from chromahint_client import Client, EngineError

from . import jobs
from .settings import Settings

_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    kind: str  # "colorize", "swatches", "regions", "info"
    run: Callable[[Client], Any]  # called on the worker thread
    context: dict = field(default_factory=dict)  # what the GUI thread needs afterwards
    id: int = field(default_factory=lambda: next(_ids))
    cancelled: bool = False
    start_engine: bool = True  # start the engine when nothing answers


class Worker(QObject):
    finished = pyqtSignal(object, object, object)  # job, result, exception (one is None)
    engine_info = pyqtSignal(object)  # the engine's info dict, when a job fetched it
    progress = pyqtSignal(object, str)  # job, text for people

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings

    def start(self, job: Job) -> None:
        name = f"chromahint-{job.kind}-{job.id}"
        threading.Thread(target=self._run, args=(job,), name=name, daemon=True).start()

    def _run(self, job: Job) -> None:
        client = Client(self.settings.endpoint, timeout=self.settings.timeout, retries=0)
        try:
            if job.start_engine:
                info = jobs.engine_info(self.settings, lambda text: self.progress.emit(job, text))
            else:
                info = client.info(timeout=2.0)
            if info is not None:
                self.engine_info.emit(info)
            result = job.run(client)
        except Exception as e:  # reported to the person in the docker, never raised in Krita
            if not isinstance(e, EngineError):  # a bug of ours: keep the trace in Krita's log
                traceback.print_exc(file=sys.stderr)
            self.finished.emit(job, None, e)
        else:
            self.finished.emit(job, result, None)
        finally:
            client.close()
