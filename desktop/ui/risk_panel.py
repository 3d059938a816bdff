"""What the risk model said about one patient, and what it could not know.

A view: it receives a :class:`~desktop.inference.risk.RiskAssessment` (a plain value; no
onnxruntime here) or an error sentence, and lays them out. Signed factor shares are the exact
log-odds contributions from the model card, so "raises" and "lowers" are the model's arithmetic,
not a heuristic.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from desktop.ui.formatting import DISCLAIMER, percent

if TYPE_CHECKING:
    from desktop.inference.risk import RiskAssessment

__all__ = ["RiskPanel"]

log = logging.getLogger(__name__)

TOP_FACTORS = 6  # more than this reads as noise in a clinic
_BAR_STEPS = 1000
_STYLE = """
QLabel#muted { color: palette(placeholder-text); }
QLabel#raises { color: #a1281f; }
QLabel#lowers { color: #1d6b35; }
QLabel#warning { color: #9a5b00; }
QLabel#error { color: #b3261e; }
QLabel#verdict { font-weight: 600; }
QProgressBar { border: 1px solid palette(mid); border-radius: 3px; text-align: center; min-height: 18px; max-height: 18px; }
QProgressBar::chunk { background: #c0504d; border-radius: 2px; }
"""
_WHO_TEXT = {"normal": "Normal", "osteopenia": "Osteopenia", "osteoporosis": "Osteoporosis"}


def _label(text: str = "", *, name: str | None = None, bold: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    if bold:
        font = label.font()
        font.setBold(True)
        label.setFont(font)
    return label


def _section(title: str) -> QLabel:
    label = _label(title, bold=True)
    label.setContentsMargins(0, 6, 0, 0)
    return label


class RiskPanel(QWidget):
    """Probability bar, label vs threshold, top factors, OST, WHO rule, limits."""

    def __init__(self, parent: QWidget | None = None, *, model_note: str = "") -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(4)
        self._model_note = model_note
        self._content: list[QWidget] = []
        self.assessment: RiskAssessment | None = None
        self.bar: QProgressBar | None = None
        self.verdict: QLabel | None = None
        self.factor_lines: list[str] = []
        disclaimer = _label(DISCLAIMER, name="muted")
        self._layout.addWidget(disclaimer)
        self._layout.addStretch(1)
        self.show_placeholder("Fill in the patient form and press Estimate risk (Enter).")

    # ------------------------------------------------------------------ states
    def _reset(self) -> None:
        for widget in self._content:
            self._layout.removeWidget(widget)
            widget.hide()  # deleteLater waits for the event loop; never show stale text meanwhile
            widget.deleteLater()
        self._content.clear()
        self.assessment, self.bar, self.verdict, self.factor_lines = None, None, None, []

    def _add(self, widget: QWidget | None = None, *, layout: QGridLayout | None = None) -> None:
        if layout is not None:
            holder = QWidget()
            holder.setLayout(layout)
            widget = holder
        self._layout.insertWidget(len(self._content), widget)
        self._content.append(widget)

    @property
    def text(self) -> str:
        """Everything the panel currently says, for tests and copy/paste."""
        return "\n".join(w.text() for c in self._content for w in [c, *c.findChildren(QLabel)] if isinstance(w, QLabel))

    def show_placeholder(self, text: str) -> None:
        self._reset()
        self._add(_label(text, name="muted"))

    def show_error(self, text: str) -> None:
        self._reset()
        self._add(_label(f"The risk could not be estimated: {text}", name="error"))

    def show_assessment(self, assessment: RiskAssessment) -> None:
        self._reset()
        self.assessment = assessment
        self._add(_label(f"Osteoporosis risk model \u00b7 {assessment.model_id} {assessment.model_version}", name="muted"))
        self.bar = QProgressBar()
        self.bar.setRange(0, _BAR_STEPS)
        self.bar.setValue(round(assessment.probability * _BAR_STEPS))
        self.bar.setFormat(f"Model probability {percent(assessment.probability)}")
        self.bar.setAccessibleName("Model probability of osteoporosis")
        self.bar.setToolTip("From a class-balanced model: it ranks patients, and overstates the chance of osteoporosis.")
        self._add(self.bar)
        flagged = assessment.is_positive
        relation = "\u2265" if flagged else "<"
        self.verdict = _label(
            f"{'Flagged: ' + assessment.label if flagged else 'Not flagged (' + assessment.label + ')'} \u2014 "
            f"{percent(assessment.probability)} {relation} threshold {percent(assessment.threshold)}",
            name="verdict",
        )
        self._add(self.verdict)
        self._add_factors(assessment)
        self._add(_section("Comparison (rules, not the model)"))
        ost = assessment.ost
        ost_label = _label(f"OST {ost.value:+.1f}: {ost.category} risk band (weight and age only)")
        ost_label.setToolTip(ost.note)
        self._add(ost_label)
        if assessment.who_category:
            self._add(_label(f"Measured T-score: {_WHO_TEXT.get(assessment.who_category, assessment.who_category)} "
                             "(WHO rule, not a model). A measured T-score outweighs this estimate.", bold=True))
        if self._model_note:
            self._add(_label(self._model_note, name="muted"))
        for warning in assessment.warnings:
            self._add(_label(f"\u26a0 {warning}", name="warning"))
        if assessment.what_the_model_cannot_know:
            self._add(_section("What the model cannot know"))
            self._add(_label("\n".join(f"\u2022 {line}" for line in assessment.what_the_model_cannot_know), name="muted"))

    def _add_factors(self, assessment: RiskAssessment) -> None:
        shown = [c for c in assessment.contributions if not c.imputed and abs(c.log_odds) >= 0.005][:TOP_FACTORS]
        if not shown:
            return
        self._add(_section("Top contributing factors"))
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for row, item in enumerate(shown):
            arrow = "\u25b2" if item.log_odds > 0 else "\u25bc"
            text = f"{arrow} {item.describe()}"
            self.factor_lines.append(text)
            line = _label(text, name="raises" if item.log_odds > 0 else "lowers")
            share = _label(f"{item.log_odds:+.2f}", name="muted", wrap=False)
            share.setToolTip("Change in log-odds from this factor, compared with an average patient in the training data")
            grid.addWidget(line, row, 0)
            grid.addWidget(share, row, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(0, 1)
        self._add(layout=grid)
