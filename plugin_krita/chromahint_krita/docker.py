"""The "Chromahint" docker: widgets that render the model's state and call its methods.

Only widgets live here; state and behaviour are the model's (model.py), and Krita's API is
reached through kritadoc.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from krita import DockWidget
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chromahint_client.protocol import Mode
from chromahint_client.regions import Region, color_for

from . import kritadoc
from .jobs import EngineState, Level
from .model import ChromahintModel
from .reference_widgets import RecommendationList, ReferencePicker
from .swatches import SwatchSet

DOCKER_ID = "chromahint"
REFRESH_MS = 1000  # layer lists have no change signal in Krita 5.1's API: look now and then
SWATCH_SIZE = 30
SWATCH_ROWS_SHOWN = 4  # rows in view before the list scrolls
NO_SWATCHES = "Paint a hint and colorize to get suggestions."
STATE_COLORS = {
    EngineState.READY: "#3cb043",
    EngineState.BUSY: "#e0a800",
    EngineState.OFFLINE: "#d9534f",
    EngineState.UNKNOWN: "#888888",
}
LEVEL_COLORS = {Level.INFO: "palette(text)", Level.WARNING: "#c77c02", Level.ERROR: "#d9534f"}


def _section(title: str) -> QLabel:
    label = QLabel(title)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _line() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.HLine)
    line.setFrameShadow(QFrame.Sunken)
    return line


def _section_head(root: QVBoxLayout, title: str, button_text: str, tip: str) -> QToolButton:
    """A rule, then the section's bold title with its tool button on the right, added to
    `root`; returns the button."""
    root.addWidget(_line())
    head = QHBoxLayout()
    head.addWidget(_section(title))
    head.addStretch(1)
    button = QToolButton()
    button.setText(button_text)
    button.setToolTip(tip)
    head.addWidget(button)
    root.addLayout(head)
    return button


def _colour_button(
    rgb: tuple[int, int, int], look: str, tip: str, on_click: Callable[[], object]
) -> QToolButton:
    """A square button filled with `rgb` that calls `on_click`; `look` adds to its style."""
    r, g, b = rgb
    button = QToolButton()
    button.setFixedSize(SWATCH_SIZE, SWATCH_SIZE)
    button.setStyleSheet(
        f"QToolButton {{ background: rgb({r},{g},{b}); {look} border-radius: 4px; }}"
    )
    button.setToolTip(tip)
    button.clicked.connect(lambda _=False: on_click())
    return button


class ChromahintPanel(QWidget):
    def __init__(self, model: ChromahintModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.swatch_buttons: list[QToolButton] = []  # every row's, top row first
        self.swatch_labels: list[QLabel] = []  # one per row: "Hint 1", …
        self._swatch_rows: list[QWidget] = []
        self.region_buttons: list[QToolButton] = []
        self._layer_rows: list[tuple[str, str]] = []
        self._build()
        self._connect()
        self._refresh = QTimer(self)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self.refresh_layers)
        self._refresh.start()
        self._on_engine(model.engine_state, model.engine_text)
        self._on_busy(False, "")
        self._on_message(*model.message)  # e.g. unusable settings, found before we existed

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(6, 6, 6, 6)
        root.setSpacing(6)

        status = QHBoxLayout()
        self.status_dot = QLabel("●")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.engine_button = QToolButton()
        self.engine_button.setText("↻")
        self.engine_button.setToolTip("Check the engine again")
        status.addWidget(self.status_dot)
        status.addWidget(self.status_label, 1)
        status.addWidget(self.engine_button)
        root.addLayout(status)

        modes = QHBoxLayout()
        self.mode_photo = QRadioButton("Photo")
        self.mode_lineart = QRadioButton("Line art")
        self.mode_photo.setChecked(True)
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.mode_photo)
        self.mode_group.addButton(self.mode_lineart)
        modes.addWidget(QLabel("Mode:"))
        modes.addWidget(self.mode_photo)
        modes.addWidget(self.mode_lineart)
        modes.addStretch(1)
        root.addLayout(modes)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.source_combo = QComboBox()
        self.source_combo.setToolTip("The layer to colorize (a photo or the line art)")
        self.hints_combo = QComboBox()
        self.hints_combo.setToolTip("Paint colour hints on this layer")
        self.add_hints_button = QToolButton()
        self.add_hints_button.setText("+")
        self.add_hints_button.setToolTip("Add hint layer: a 'Hints' paint layer above the source")
        hints_row = QHBoxLayout()
        hints_row.addWidget(self.hints_combo, 1)
        hints_row.addWidget(self.add_hints_button)
        self.reference_picker = ReferencePicker(self.model)
        self.reference_combo = self.reference_picker.combo
        self.recommendations = RecommendationList(self.model)
        for combo in (self.source_combo, self.hints_combo):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        form.addRow("Source:", self.source_combo)
        form.addRow("Hints:", hints_row)
        form.addRow("Reference:", self.reference_picker)
        root.addLayout(form)
        root.addWidget(self.recommendations)

        run = QHBoxLayout()
        self.colorize_button = QPushButton("Colorize")
        self.colorize_button.setDefault(True)
        self.colorize_button.setToolTip("Colorize the source into the 'Colorized' layer")
        self.cancel_button = QPushButton("Cancel")
        self.live_check = QCheckBox("Live")
        self.live_check.setToolTip("Colorize again after every change of the hint layer")
        run.addWidget(self.colorize_button, 1)
        run.addWidget(self.cancel_button)
        run.addWidget(self.live_check)
        root.addLayout(run)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        root.addWidget(self.progress)

        self.swatch_here_button = _section_head(
            root,
            "Suggested colours",
            "At selection",
            "Suggested colours at the centre of the selection",
        )
        self.swatch_title = QLabel(NO_SWATCHES)
        self.swatch_title.setWordWrap(True)
        root.addWidget(self.swatch_title)
        # One row per painted blob ("Hint 1", "Hint 2", … in reading order), like GIMP's
        # palette; past a few rows the list scrolls.
        self.swatch_list = QWidget()
        self.swatch_list_layout = QVBoxLayout(self.swatch_list)
        self.swatch_list_layout.setContentsMargins(0, 0, 0, 0)
        self.swatch_list_layout.setSpacing(4)
        self.swatch_list_layout.addStretch(1)
        self.swatch_area = QScrollArea()
        self.swatch_area.setWidgetResizable(True)
        self.swatch_area.setFrameShape(QFrame.NoFrame)
        self.swatch_area.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.swatch_area.setMaximumHeight(SWATCH_ROWS_SHOWN * (SWATCH_SIZE + 4) + 4)
        self.swatch_area.setWidget(self.swatch_list)
        self.swatch_area.setVisible(False)
        root.addWidget(self.swatch_area)

        self.regions_button = _section_head(
            root, "Regions (line art)", "Next regions", "Number the regions that most need a colour"
        )
        self.regions_row = QHBoxLayout()
        self.regions_row.setSpacing(4)
        self.regions_row.addStretch(1)
        root.addLayout(self.regions_row)

        root.addWidget(_line())
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.message_label)
        root.addStretch(1)

    def _connect(self) -> None:
        m = self.model
        self.engine_button.clicked.connect(m.check_engine)
        self.mode_photo.toggled.connect(lambda on: on and m.set_mode(Mode.PHOTO))
        self.mode_lineart.toggled.connect(lambda on: on and m.set_mode(Mode.LINEART))
        self.source_combo.activated.connect(lambda i: m.set_source(self.source_combo.itemData(i)))
        self.hints_combo.activated.connect(lambda i: m.set_hint_layer(self.hints_combo.itemData(i)))
        self.add_hints_button.clicked.connect(m.add_hint_layer)
        self.colorize_button.clicked.connect(m.colorize)
        self.cancel_button.clicked.connect(m.cancel)
        self.cancel_button.clicked.connect(m.recommender.cancel)
        self.live_check.toggled.connect(m.set_live)
        self.swatch_here_button.clicked.connect(m.swatches_at_selection)
        self.regions_button.clicked.connect(m.next_regions)
        m.engine_changed.connect(self._on_engine)
        m.busy_changed.connect(lambda busy, what: self._on_busy(busy or m.recommender.busy, what))
        m.worker.fraction.connect(self._on_fraction)
        m.recommender.worker.fraction.connect(self._on_fraction)
        m.recommender.busy_changed.connect(lambda busy: self._on_busy(busy or m.busy, ""))
        m.message_changed.connect(self._on_message)
        m.layers_changed.connect(self.refresh_layers)
        m.swatches_changed.connect(self._on_swatches)
        m.regions_changed.connect(self._on_regions)
        m.live_changed.connect(self._on_live)
        m.mode_changed.connect(self._on_mode)

    # -- model -> widgets -----------------------------------------------------------------
    def refresh_layers(self) -> None:
        if any(c.view().isVisible() for c in (self.source_combo, self.hints_combo)):
            return  # never rebuild a list the artist is looking at
        rows = self.model.choices.layers()
        source_id, hints_id = self.model.choices.source_id(), self.model.choices.hint_layer_id()
        if rows != self._layer_rows:
            self._layer_rows = rows
            for combo, empty in ((self.source_combo, "(no paint layer)"),
                                 (self.hints_combo, "(none: add one with +)")):  # fmt: skip
                combo.clear()
                if combo is self.hints_combo or not rows:
                    combo.addItem(empty, None)
                for node_id, name in rows:
                    combo.addItem(name, node_id)
        self._select(self.source_combo, source_id)
        self._select(self.hints_combo, hints_id)
        self.reference_picker.refresh()

    @staticmethod
    def _select(combo: QComboBox, data: str | None) -> None:
        index = combo.findData(data) if data is not None else 0
        combo.setCurrentIndex(max(0, index))

    def _on_engine(self, state: EngineState, text: str) -> None:
        color = STATE_COLORS.get(state, STATE_COLORS[EngineState.UNKNOWN])
        self.status_dot.setStyleSheet(f"color: {color}; font-size: 14pt;")
        self.status_label.setText(text)
        self.status_label.setToolTip(text)

    def _on_busy(self, busy: bool, what: str) -> None:
        self.progress.setRange(0, 0)  # busy, no fraction yet (until the engine reports one)
        self.progress.setVisible(busy)
        self.cancel_button.setEnabled(busy)

    def _on_fraction(self, done: float) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * done))

    def _on_message(self, level: Level, text: str) -> None:
        self.message_label.setStyleSheet(f"color: {LEVEL_COLORS.get(level, 'palette(text)')};")
        self.message_label.setText(text)

    def _on_swatches(self, swatch_set: SwatchSet) -> None:
        for row in self._swatch_rows:
            self.swatch_list_layout.removeWidget(row)
            row.deleteLater()
        self._swatch_rows, self.swatch_buttons, self.swatch_labels = [], [], []
        for i, row in enumerate(swatch_set.rows):
            widget = QWidget()
            line = QHBoxLayout(widget)
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(4)
            label = QLabel(row.title)
            label.setMinimumWidth(52)
            line.addWidget(label)
            for swatch in row.swatches:
                line.addWidget(self._swatch_button(row.title, swatch.rgb, swatch.p))
            line.addStretch(1)
            self.swatch_labels.append(label)
            self._swatch_rows.append(widget)
            self.swatch_list_layout.insertWidget(i, widget)
        self.swatch_title.setText(swatch_set.heading or NO_SWATCHES)
        self.swatch_area.setVisible(bool(swatch_set.rows))

    def _swatch_button(self, title: str, rgb: tuple[int, int, int], p: float) -> QToolButton:
        r, g, b = rgb
        button = _colour_button(
            rgb,
            "border: 1px solid #444;",
            f"{title}: #{r:02x}{g:02x}{b:02x} · {p:.0%} — click to paint with it",
            partial(self.model.pick_swatch, rgb),
        )
        self.swatch_buttons.append(button)
        return button

    def _on_regions(self, regions: list[Region]) -> None:
        for button in self.region_buttons:
            self.regions_row.removeWidget(button)
            button.deleteLater()
        self.region_buttons = []
        for i, region in enumerate(regions):
            button = _colour_button(
                color_for(region.rank),
                "color: white; font-weight: bold;",
                f"Fill region {region.rank} with the foreground colour",
                partial(self.model.color_region, region),
            )
            button.setText(str(region.rank))
            self.region_buttons.append(button)
            self.regions_row.insertWidget(i, button)

    def _on_live(self, on: bool) -> None:
        if self.live_check.isChecked() != on:
            self.live_check.setChecked(on)

    def _on_mode(self, mode: Mode) -> None:
        photo = mode is Mode.PHOTO
        (self.mode_photo if photo else self.mode_lineart).setChecked(True)
        self.regions_button.setEnabled(not photo)
        self.swatch_here_button.setEnabled(photo)
        self.swatch_area.setVisible(photo and bool(self._swatch_rows))
        if not photo:
            self.swatch_title.setText("Suggested colours come from the photo model.")


class ChromahintDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Chromahint")
        self.model = ChromahintModel(parent=self)  # reads chromahint.json beside us
        self.panel = ChromahintPanel(self.model)
        self.panel._on_mode(self.model.mode)
        self.setWidget(self.panel)
        if self.model.settings is not None:  # else the settings error is what the docker shows
            self.model.check_engine()

    def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name)
        self.model.set_document(kritadoc.canvas_document(canvas))
