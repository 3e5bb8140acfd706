"""Recommend references from a folder (the engine's `recommend_references`): the ranking
with a thumbnail per picture, and choosing one as the reference.

Its own Worker, so looking through a folder never cancels a colorize (live mode goes on)
and a colorize never cancels it. The folder is read on the engine's machine, which is this
one for an engine the plug-in starts (allowed by the settings' `reference_folders`);
thumbnails are read here, and a picture this machine cannot read is listed without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QImage

from chromahint_client import Client
from chromahint_client import protocol as P
from chromahint_client.settings import Settings

from . import kritadoc, reference_files
from .jobs import Job, Level, RecommendContext, failure_message
from .worker import Worker

if TYPE_CHECKING:
    from .model import ChromahintModel

SHOWN = 8  # recommendations listed
THUMB_SIDE = 64
TARGET_SIDE = 256  # the picture is described at 128 px: this is plenty


@dataclass(frozen=True)
class Recommendation:
    path: str
    score: float
    thumbnail: QImage | None

    @property
    def label(self) -> str:
        return f"{reference_files.label(self.path)} · {self.score:.2f}"


@dataclass(frozen=True)
class Ranked:
    rows: tuple[Recommendation, ...]
    skipped: int
    indexed: int


def rank_folder(client: Client, image: P.Image, folder: str, limit: int) -> Ranked:
    """Off the GUI thread: the engine's ranking, with thumbnails read here."""
    reply = client.recommend_references(
        P.RecommendReferencesRequest(image, folder=folder, limit=limit)
    )
    rows = tuple(
        Recommendation(r.path, r.score, reference_files.read_scaled(r.path, THUMB_SIDE))
        for r in reply.ranking
        if r.path is not None
    )
    return Ranked(rows, reply.skipped, reply.indexed)


class Recommender(QObject):
    changed = pyqtSignal(list)  # [Recommendation], best first
    busy_changed = pyqtSignal(bool)

    def __init__(self, model: ChromahintModel) -> None:
        super().__init__(model)
        self.model = model
        self.rows: list[Recommendation] = []
        self.worker = Worker(self)
        self.worker.finished.connect(self._on_finished)
        self._job: Job | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def recommend(self, folder: str) -> None:
        m = self.model
        doc, source = m.document(), m.source()
        if doc is None or source is None:
            m.say(Level.WARNING, "Open a document and pick the photo layer first.")
            return
        settings = m.usable_settings()
        if settings is None:
            return
        image = kritadoc.thumbnail_image(source, TARGET_SIDE)
        self.cancel(quiet=True)
        self._job = Job(RecommendContext(folder), lambda c: rank_folder(c, image, folder, SHOWN))
        self.busy_changed.emit(True)
        m.say(Level.INFO, f"Looking for references in {folder}…")
        self.worker.start(self._job, settings)

    def cancel(self, quiet: bool = False) -> None:
        if self._job is not None:
            self.worker.abandon(self._job, self.model.settings)
            self._job = None
            self.busy_changed.emit(False)
            if not quiet:
                self.model.say(Level.INFO, "Cancelled.")

    def use(self, row: Recommendation) -> None:
        """Make a recommended picture the reference (live mode colorizes with it at once)."""
        self.model.set_reference(("file", row.path))
        self.model.say(Level.INFO, f"Reference: {reference_files.label(row.path)}.")

    def _on_finished(self, job: Job, result: object, error: Exception | None) -> None:
        if job is not self._job or job.cancelled:
            return
        self._job = None
        self.busy_changed.emit(False)
        m = self.model
        if error is not None:
            m.say(*failure_message(job, error, m.settings or Settings()))
            return
        ctx = job.context
        if not isinstance(result, Ranked) or not isinstance(ctx, RecommendContext):
            m.say(Level.ERROR, f"a recommend job returned {type(result)}")
            return
        self.set_rows(list(result.rows))
        n = result.skipped
        skipped = f"; {n} picture{'' if n == 1 else 's'} could not be read" if n else ""
        if self.rows:
            m.say(Level.INFO, f"Best references in {ctx.folder}{skipped}: click one to use it.")
        else:
            m.say(Level.WARNING, f"No readable pictures in {ctx.folder}{skipped}.")

    def forget(self) -> None:
        """Another document or source layer: the ranking (and one in the works) was not for it."""
        self.cancel(quiet=True)
        self.set_rows([])

    def set_rows(self, rows: list[Recommendation]) -> None:
        self.rows = rows
        self.changed.emit(rows)
