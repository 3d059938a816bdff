"""The right-hand panel: study type, Analyse, busy state, results, heat-map controls, image info.

A view only: it emits what the user asked for and shows what it is told. The disclaimer sits
outside the scroll area so it can never scroll out of sight.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.formatting import DISCLAIMER, STUDY_TYPES
from desktop.ui.info_panel import ImageInfoPanel
from desktop.ui.knee_sides_picker import KneeSidesPicker
from desktop.ui.report_section import ReportSection
from desktop.ui.results_panel import MessageBanner, ResultsPanel

__all__ = ["AnalysisPanel"]


# A yes/no model's map shows the evidence for its positive finding even when it answers no
# (a reader wants to see where pneumonia or a fracture would be): say so, or a red patch on
# a film called normal reads as a contradiction.
_HEATMAP_NOTE = ('Red marks the strongest evidence for the finding each result names after "Heat map:"'
                 " (for a yes/no model, its positive finding, whatever the answer).")
DEFAULT_HEATMAP_OPACITY = 50  # percent: the anatomy stays readable under the colours


def _let_shrink(combo: QComboBox) -> None:
    """A combo box sized to its longest entry ("Knee osteoarthritis severity (Kellgren-Lawrence
    grade)") would widen the whole scrolled panel past the dock and clip every result card on
    the right; this one shrinks with the dock and shows full names in its drop-down list."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)


class AnalysisPanel(QWidget):
    """Controls and read-outs for the open study."""

    study_type_changed = Signal(str)  # body_part value, e.g. "knee"
    analyse_requested = Signal()
    heatmap_visible_changed = Signal(bool)
    heatmap_opacity_changed = Signal(float)  # 0..1
    heatmap_model_changed = Signal(str)  # result key: a model id, or "model@side" for one knee joint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(340)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.setSpacing(8)
        outer.addWidget(self._build_study_box())
        # Outside the scroll area: an error must be seen however far the user has scrolled.
        self.banner = MessageBanner(self)
        outer.addWidget(self.banner)
        # Same reason: results for the wrong body part must never scroll away from their warning.
        self.body_part_banner = MessageBanner(self)
        outer.addWidget(self.body_part_banner)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 4, 0)
        column.setSpacing(10)
        results_box = QGroupBox("Results")
        results_layout = QVBoxLayout(results_box)
        self.results = ResultsPanel(results_box)
        results_layout.addWidget(self.results)
        column.addWidget(results_box)
        column.addWidget(self._build_heatmap_box())
        report_box = QGroupBox("Report")
        report_layout = QVBoxLayout(report_box)
        self.report = ReportSection(report_box)
        report_layout.addWidget(self.report)
        column.addWidget(report_box)
        info_box = QGroupBox("Image information")
        info_layout = QVBoxLayout(info_box)
        self.info = ImageInfoPanel(info_box)
        info_layout.addWidget(self.info)
        column.addWidget(info_box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll, 1)

        self.disclaimer = QLabel(DISCLAIMER)
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setStyleSheet(
            "QLabel#disclaimer { background: #fff6dd; color: #5c4400; border: 1px solid #e9d28f;"
            " border-radius: 5px; padding: 6px; }"
        )
        outer.addWidget(self.disclaimer)
        self.setStyleSheet("QLabel#muted { color: palette(placeholder-text); }")

    def _build_study_box(self) -> QGroupBox:
        box = QGroupBox("Study")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Study type:"))
        self.study_type = QComboBox()
        _let_shrink(self.study_type)
        for part, name in STUDY_TYPES:
            self.study_type.addItem(name, part)
        self.study_type.setToolTip("Which models run: each model is trained on one kind of study.")
        self.study_type.currentIndexChanged.connect(lambda _i: self.study_type_changed.emit(self.body_part))
        row.addWidget(self.study_type, 1)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip("Run the models for this study type on the open image.")
        self.analyse_button.setEnabled(False)
        self.analyse_button.clicked.connect(self.analyse_requested)
        row.addWidget(self.analyse_button)
        layout.addLayout(row)
        self.models_hint = QLabel()
        self.models_hint.setWordWrap(True)
        self.models_hint.setObjectName("muted")
        layout.addWidget(self.models_hint)
        self.guard_label = QLabel()
        self.guard_label.setWordWrap(True)
        self.guard_label.setObjectName("muted")
        self.guard_label.setToolTip("What the body-part check model sees in the image; it picks the study type.")
        self.guard_label.setVisible(False)
        layout.addWidget(self.guard_label)
        self.knee_sides = KneeSidesPicker(box)
        layout.addWidget(self.knee_sides)
        busy_row = QHBoxLayout()
        self.busy_label = QLabel("Analysing\u2026")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: inference reports no progress
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(10)
        busy_row.addWidget(self.busy_label)
        busy_row.addWidget(self.busy_bar, 1)
        self._busy_row = QWidget()
        self._busy_row.setLayout(busy_row)
        busy_row.setContentsMargins(0, 0, 0, 0)
        self._busy_row.setVisible(False)
        layout.addWidget(self._busy_row)
        return box

    def _build_heatmap_box(self) -> QGroupBox:
        box = QGroupBox("Heat map")
        layout = QVBoxLayout(box)
        self.heatmap_check = QCheckBox("Show heat map (H)")
        self.heatmap_check.setChecked(True)
        self.heatmap_check.toggled.connect(self.heatmap_visible_changed)
        layout.addWidget(self.heatmap_check)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(DEFAULT_HEATMAP_OPACITY)
        self.opacity_label = QLabel(f"{DEFAULT_HEATMAP_OPACITY}%")
        self.opacity_label.setMinimumWidth(40)
        self.opacity_slider.valueChanged.connect(self._opacity_moved)
        row.addWidget(self.opacity_slider, 1)
        row.addWidget(self.opacity_label)
        layout.addLayout(row)
        model_row = QHBoxLayout()
        self._model_label = QLabel("Model")
        self.heatmap_model = QComboBox()
        _let_shrink(self.heatmap_model)
        self.heatmap_model.currentIndexChanged.connect(self._model_chosen)
        model_row.addWidget(self._model_label)
        model_row.addWidget(self.heatmap_model, 1)
        layout.addLayout(model_row)
        self.heatmap_note = QLabel(_HEATMAP_NOTE)
        self.heatmap_note.setWordWrap(True)
        self.heatmap_note.setObjectName("muted")
        layout.addWidget(self.heatmap_note)
        self.set_heatmap_sources([])
        return box

    # --------------------------------------------------------------- state in
    @property
    def body_part(self) -> str:
        return str(self.study_type.currentData())

    def set_body_part(self, part: str) -> None:
        index = self.study_type.findData(part)
        if index >= 0:
            self.study_type.setCurrentIndex(index)

    def set_model_names(self, names: list[str]) -> None:
        """Which models the chosen study type runs, so an empty result is never a surprise."""
        if names:
            self.models_hint.setText("Models: " + ", ".join(names))
        else:
            self.models_hint.setText("No models installed for this study type.")

    def show_error(self, text: str) -> None:
        self.banner.show_message(text, kind="error")

    def clear_error(self) -> None:
        if not self.banner.isHidden():
            self.banner.dismiss()

    def show_body_part_check(self, verdict: str, warnings: Sequence[str] = ()) -> None:
        """The guard's verdict line and, when the models do not fit the image, its warning.

        An empty verdict hides the line (no guard installed, or nothing analysed yet).
        """
        self.guard_label.setText(verdict)
        self.guard_label.setVisible(bool(verdict))
        if warnings:
            self.body_part_banner.show_message("Warning: " + " ".join(warnings), kind="warning")
        elif not self.body_part_banner.isHidden():
            self.body_part_banner.dismiss()

    @property
    def body_part_warning_text(self) -> str:
        """The body-part warning shown ('' when none)."""
        return self.body_part_banner.text

    @property
    def guard_text(self) -> str:
        return self.guard_label.text() if not self.guard_label.isHidden() else ""

    @property
    def error_text(self) -> str:
        """The error currently shown ('' when none)."""
        return self.banner.text

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_label.setText(text or "Working\u2026")
        self._busy_row.setVisible(busy)

    def set_can_analyse(self, enabled: bool) -> None:
        self.analyse_button.setEnabled(enabled)

    def set_heatmap_sources(self, sources: list[tuple[str, str]]) -> None:
        """(model id, display name) of the predictions that carry a heat map."""
        self.heatmap_model.blockSignals(True)
        self.heatmap_model.clear()
        for model_id, name in sources:
            self.heatmap_model.addItem(name, model_id)
        self.heatmap_model.blockSignals(False)
        # A chooser with one entry is noise; it appears once several models explain the image.
        several = len(sources) > 1
        self.heatmap_model.setVisible(several)
        self._model_label.setVisible(several)
        for widget in (self.heatmap_check, self.opacity_slider, self.opacity_label):
            widget.setEnabled(bool(sources))
        self.heatmap_note.setText(
            _HEATMAP_NOTE if sources else "No heat map for this image yet."
        )

    def select_heatmap_source(self, key: str) -> None:
        """Show the heat map of one result (a click on its card); unknown keys are ignored."""
        index = self.heatmap_model.findData(key)
        if index >= 0:
            self.heatmap_model.setCurrentIndex(index)  # emits heatmap_model_changed when it changes

    @property
    def heatmap_model_id(self) -> str | None:
        data = self.heatmap_model.currentData()
        return str(data) if data is not None else None

    @property
    def heatmap_opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    # -------------------------------------------------------------- internals
    def _opacity_moved(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.heatmap_opacity_changed.emit(value / 100.0)

    def _model_chosen(self, _index: int) -> None:
        model_id = self.heatmap_model_id
        if model_id is not None:
            self.heatmap_model_changed.emit(model_id)
