"""The docker's reference widgets: the picker (another document, a layer or a picture file)
and the list of references recommended from a folder, with thumbnails and scores.

Widgets only, like docker.py: the choices are the model's, the ranking its Recommender's.
"""

from __future__ import annotations

from PyQt5.QtCore import QSize
from PyQt5.QtGui import QIcon, QPixmap
from PyQt5.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QToolButton,
    QWidget,
)

from .model import ChromahintModel
from .recommend import THUMB_SIDE, Recommendation

PICTURES = "Pictures (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff)"
LIST_ROWS_SHOWN = 4


class ReferencePicker(QWidget):
    """The reference combo box with a menu for a file or a folder's recommendations."""

    def __init__(self, model: ChromahintModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._rows: list = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setToolTip("Another document, a layer or a picture whose colours to follow")
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(8)
        self.more = QToolButton()
        self.more.setText("…")
        self.more.setToolTip("A picture file, or recommendations from a folder")
        self.more.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.more)
        menu.addAction("Picture file…", self.choose_file)
        menu.addAction("Recommend from folder…", self.choose_folder)
        self.more.setMenu(menu)
        row.addWidget(self.combo, 1)
        row.addWidget(self.more)
        self.combo.activated.connect(self._on_activated)

    def refresh(self) -> None:
        if self.combo.view().isVisible():
            return  # never rebuild a list the artist is looking at
        choices = self.model.choices.reference_choices()
        if choices != self._rows:
            self._rows = choices
            self.combo.clear()
            for label, key in choices:
                self.combo.addItem(label, key)
        current = self.model.reference
        self.combo.setCurrentIndex(next((i for i, (_, k) in enumerate(choices) if k == current), 0))

    def _on_activated(self, index: int) -> None:
        key = self.combo.itemData(index)
        self.model.set_reference(tuple(key) if key else None)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference picture", "", PICTURES)
        if path:
            self.model.set_reference(("file", path))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Recommend references from folder")
        if folder:
            self.model.recommender.recommend(folder)


class RecommendationList(QListWidget):
    """The folder's best references, best first; clicking one makes it the reference."""

    def __init__(self, model: ChromahintModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.docker_model = model
        self.rows: list[Recommendation] = []
        self.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.setMinimumHeight(2 * (THUMB_SIDE + 6) + 4)
        self.setMaximumHeight(LIST_ROWS_SHOWN * (THUMB_SIDE + 6) + 4)
        self.setToolTip("Recommended references (score: how alike): click one to use it")
        self.setVisible(False)
        self.itemClicked.connect(lambda item: self.use(self.row(item)))
        model.recommender.changed.connect(self.show_rows)

    def show_rows(self, rows: list[Recommendation]) -> None:
        self.clear()
        self.rows = list(rows)
        for rec in rows:
            item = QListWidgetItem(rec.label)
            item.setToolTip(rec.path)
            if rec.thumbnail is not None:
                item.setIcon(QIcon(QPixmap.fromImage(rec.thumbnail)))
            self.addItem(item)
        self.setVisible(bool(rows))

    def use(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            self.docker_model.recommender.use(self.rows[index])
