"""Engine requests on background threads, with results handed back on Krita's GUI thread.

Each job runs on its own daemon thread with its own ZeroMQ socket, so a cancelled job can
simply be abandoned: the engine is asked to stop it (the `cancel` op, from another short
thread), its thread ends with the engine's `cancelled` error and its result is ignored.
Signals emitted from those threads are queued to the GUI thread, where the model lives, so
slots may use Krita's API.
"""

from __future__ import annotations

import sys
import threading
import traceback

from PyQt5.QtCore import QObject, pyqtSignal

from chromahint_client import Client, EngineError
from chromahint_client.session import engine_info
from chromahint_client.settings import Settings

from .engine_work import ENGINE_LOG
from .jobs import Job

INFO_TIMEOUT = 2.0  # a status check must not hang on a busy engine
CANCEL_TIMEOUT = 2.0


class Worker(QObject):
    finished = pyqtSignal(object, object, object)  # Job, result, exception (one is None)
    engine_info = pyqtSignal(object)  # protocol.InfoReply, when a job fetched it
    progress = pyqtSignal(object, str)  # Job, text for people
    fraction = pyqtSignal(float)  # 0-1, the current job's progress as the engine reports it

    def start(self, job: Job, settings: Settings) -> None:
        name = f"chromahint-{job.kind.value}-{job.id}"
        thread = threading.Thread(target=self._run, args=(job, settings), name=name, daemon=True)
        thread.start()

    def _run(self, job: Job, settings: Settings) -> None:
        def report(done: float, _stage: str) -> None:
            if not job.cancelled:
                self.fraction.emit(done)

        client = Client(
            settings.endpoint, settings.timeout, retries=0, keys=settings.curve, progress=report
        )
        job.client = client
        try:
            if job.start_engine:
                info = engine_info(settings, lambda text: self.progress.emit(job, text), ENGINE_LOG)
            else:
                info = client.info(timeout=INFO_TIMEOUT)
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

    def abandon(self, job: Job, settings: Settings | None) -> None:
        """Drop `job`'s result and ask the engine to stop working on it."""
        job.cancelled = True
        rid = job.client.current_request_id if job.client is not None else None
        if rid is None or settings is None:
            return

        def cancel() -> None:
            try:
                with Client(settings.endpoint, CANCEL_TIMEOUT, 0, keys=settings.curve) as c:
                    c.cancel(rid)
            except EngineError:  # the engine is gone or busy: the stale reply is dropped anyway
                pass

        threading.Thread(target=cancel, name="chromahint-cancel", daemon=True).start()
