"""What the models said: one card per prediction, plus errors and "nothing to show" states.

The panel is a view: it receives (Prediction, ModelCard) pairs and plain strings from the
main window's wiring and never calls a service. Knee models answer once per knee joint; their
cards are grouped under one heading per joint ("Knee on image left"), after the cards of the
models that read the whole image. Clicking a card asks for its heat map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QToolButton, QVBoxLayout, QWidget

from desktop.core.familiarity import UNFAMILIAR_WARNING, unfamiliar_explanation
from desktop.core.joint_regions import JointRegion, joint_heading, patient_sides
from desktop.core.model_card import readable_label
from desktop.ui.formatting import metric_lines, percent, study_type_name

if TYPE_CHECKING:
    from desktop.core.model_card import ModelCard
    from desktop.core.prediction import Prediction

__all__ = ["MessageBanner", "PredictionCard", "ResultsPanel"]


# Bars count in tenths of a percent so 99.6 % never rounds to a full bar.
_BAR_STEPS = 1000
_CARD_STYLE = """
QFrame#predictionCard { border: 1px solid palette(mid); border-radius: 6px; background: palette(base); }
QFrame#predictionCard[selected="true"] { border: 2px solid #2f6fcc; }
QLabel#jointHeading { font-weight: 600; margin-top: 4px; }
QLabel#muted { color: palette(placeholder-text); }
QLabel#predictedLabel { font-weight: 600; }
QLabel#warning { color: #9a5b00; }
QProgressBar { border: 1px solid palette(mid); border-radius: 3px; text-align: center; min-height: 16px; max-height: 16px; }
QProgressBar::chunk { background: #5b8dd6; border-radius: 2px; }
QProgressBar#top::chunk { background: #2f6fcc; }
"""
_BANNER_STYLES = {
    "error": "QFrame#banner { background: #fdecea; border: 1px solid #f0b8b3; border-radius: 5px; } QLabel { color: #6b1a14; }",
    "info": "QFrame#banner { background: #e8f1fb; border: 1px solid #b6cfee; border-radius: 5px; } QLabel { color: #163a66; }",
    # Stronger than "info": the results below it may not apply to this image at all.
    "warning": "QFrame#banner { background: #fff0cc; border: 2px solid #d9961a; border-radius: 5px; }"
               " QLabel { color: #4d3000; font-weight: 600; }",
}


def _label(text: str = "", *, name: str | None = None, wrap: bool = True, scale: float = 1.0, bold: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    if scale != 1.0 or bold:
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * scale)
        font.setBold(bold)
        label.setFont(font)
    return label


class MessageBanner(QFrame):
    """A non-modal inline message (error or info) with a close button."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 6, 8)
        self._text = _label()
        layout.addWidget(self._text, 1)
        close = QToolButton(self)
        close.setText("\u2715")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._kind = "error"
        self.setVisible(False)

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self._text.text()

    @property
    def kind(self) -> str:
        """The style last shown ("error", "info" or "warning")."""
        return self._kind

    def show_message(self, text: str, *, kind: str = "error") -> None:
        self._kind = kind if kind in _BANNER_STYLES else "info"
        self.setStyleSheet(_BANNER_STYLES[self._kind])
        self._text.setText(text)
        self.setVisible(True)

    def dismiss(self) -> None:
        self._text.clear()
        self.setVisible(False)
        self.closed.emit()


class PredictionCard(QFrame):
    """One model's answer: label, every class probability, threshold, derived outputs, metrics."""

    clicked = Signal(str)  # the prediction's result key

    def __init__(self, prediction: Prediction, card: ModelCard | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prediction = prediction
        self.setObjectName("predictionCard")
        self.setProperty("selected", False)
        if prediction.heatmap is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip("Click to show this result's heat map.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)

        layout.addWidget(_label(prediction.model_name, bold=True, scale=1.1))
        layout.addWidget(_label(f"{prediction.model_id} \u00b7 version {prediction.model_version}", name="muted", scale=0.9))
        self.label_widget = _label(readable_label(prediction.label, card), name="predictedLabel", scale=1.7)
        layout.addWidget(self.label_widget)
        # Right under the answer: a warning that it may not hold must be read before the bars.
        self.warning_widgets = [_label(f"\u26a0 {warning}", name="warning") for warning in prediction.warnings]
        for warning, widget in zip(prediction.warnings, self.warning_widgets):
            if warning == UNFAMILIAR_WARNING:
                widget.setToolTip(unfamiliar_explanation(card.familiarity if card is not None else None))
            layout.addWidget(widget)

        self.bars: dict[str, QProgressBar] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        for row, (name, p) in enumerate(zip(prediction.labels, prediction.probabilities)):
            grid.addWidget(_label(name, wrap=False, bold=name == prediction.label), row, 0)
            bar = QProgressBar()
            bar.setRange(0, _BAR_STEPS)
            bar.setValue(round(p * _BAR_STEPS))
            bar.setFormat(percent(p))
            bar.setAccessibleName(f"Probability of {name}")
            if name == prediction.label:
                bar.setObjectName("top")
            grid.addWidget(bar, row, 1)
            self.bars[name] = bar
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

        if prediction.threshold is not None:
            target = prediction.positive_label or prediction.labels[-1]
            text = f"Decision threshold: {target} when P({target}) \u2265 {prediction.threshold:.2f}"
            threshold = _label(text, name="muted", scale=0.9)
            if card is not None and card.threshold_rationale:
                threshold.setToolTip(card.threshold_rationale)
            layout.addWidget(threshold)
        for derived in prediction.derived:
            layout.addWidget(_label(f"{derived.name}: {percent(derived.probability)} \u2192 {derived.label}", bold=True))
        calibrated = "Calibrated probabilities" if prediction.calibrated else "Uncalibrated scores \u2014 read as a ranking, not a risk"
        layout.addWidget(_label(("\u2713 " if prediction.calibrated else "") + calibrated, name="muted", scale=0.9))
        if prediction.heatmap is not None and prediction.heatmap_label:
            evidence = readable_label(prediction.heatmap_label, card)
            if card is not None and card.heatmap_compared_with:
                evidence += f" compared with {card.heatmap_compared_with}"
            method = prediction.heatmap_method.upper()
            layout.addWidget(_label(f"Heat map: evidence for {evidence} ({method})", name="muted", scale=0.9))
        lines = metric_lines(card.metrics) if card is not None else []
        if lines:
            self.metrics_widget = _label("\n".join(lines), name="muted", scale=0.88)
            self.metrics_widget.setToolTip("Measured on held-out images the model never saw in training.")
            layout.addWidget(self.metrics_widget)
        if card is not None and card.limits_for_readers:
            self.setToolTip("Known limits:\n\u2022 " + "\n\u2022 ".join(card.limits_for_readers))

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", selected)
        self.style().unpolish(self)  # a dynamic property only restyles after a re-polish
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.prediction.heatmap is not None:
            self.clicked.emit(self.prediction.result_key)
        super().mousePressEvent(event)


class ResultsPanel(QWidget):
    """A stack of :class:`PredictionCard` with a placeholder line and the unavailable models."""

    result_selected = Signal(str)  # result key of the card the user clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_CARD_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self._status = _label(name="muted")
        layout.addWidget(self._status)
        self._cards_box = QVBoxLayout()
        self._cards_box.setSpacing(8)
        layout.addLayout(self._cards_box)
        self._unavailable = _label(name="muted", scale=0.9)
        self._unavailable.setVisible(False)
        layout.addWidget(self._unavailable)
        self._cards: list[PredictionCard] = []
        self._headings: list[QLabel] = []
        self._sides: dict[str, str] = {}  # joint side -> the patient's side, where known
        self.show_placeholder("Open an X-ray to see what the models say.")

    # ------------------------------------------------------------------ state
    @property
    def status_text(self) -> str:
        return self._status.text() if not self._status.isHidden() else ""

    def cards(self) -> list[PredictionCard]:
        return list(self._cards)

    def groups(self) -> list[tuple[str, list[PredictionCard]]]:
        """(heading, cards) as shown; heading "" for the models that read the whole image."""
        grouped: dict[str, list[PredictionCard]] = {}
        for card in self._cards:
            side = card.prediction.region_side
            grouped.setdefault(joint_heading(side, self._sides.get(side)) if side else "", []).append(card)
        return list(grouped.items())

    def set_selected_key(self, key: str | None) -> None:
        """Mark the card whose heat map is on show."""
        for card in self._cards:
            card.set_selected(key is not None and card.prediction.result_key == key)

    def show_placeholder(self, text: str) -> None:
        self._clear_cards()
        self._set_status(text)

    def show_busy(self, text: str = "Analysing\u2026") -> None:
        self._clear_cards()
        self._set_status(text)

    def show_results(
        self,
        pairs: Sequence[tuple[Prediction, ModelCard | None]],
        *,
        body_part: str | None = None,
        unavailable: Sequence[tuple[str, str]] = (),
        empty_text: str | None = None,
        joints: Sequence[JointRegion] | None = None,
    ) -> None:
        """One card per (prediction, card); an empty list says no model covers the study type,
        or ``empty_text`` when nothing ran for another reason. Knee-joint answers are grouped
        under their joint, named by ``joints`` (the patient's side, once known)."""
        self._clear_cards()
        self._sides = patient_sides(joints)
        if not pairs and empty_text:
            self._set_status(empty_text)
        elif not pairs:
            kind = f"{study_type_name(body_part)} " if body_part else ""
            self._set_status(f"No models are installed for {kind}studies. Choose another study type or add a model.")
        else:
            self._set_status("")
        whole = [pair for pair in pairs if pair[0].region_side is None]
        by_joint: dict[str, list[tuple[Prediction, ModelCard | None]]] = {}
        for pair in pairs:
            if pair[0].region_side is not None:
                by_joint.setdefault(pair[0].region_side, []).append(pair)
        for prediction, card in whole:
            self._add_card(prediction, card)
        for side, joint_pairs in by_joint.items():
            heading = _label(joint_heading(side, self._sides.get(side)), name="jointHeading", scale=1.1)
            self._headings.append(heading)
            self._cards_box.addWidget(heading)
            for prediction, card in joint_pairs:
                self._add_card(prediction, card)
        self.set_unavailable(unavailable)

    def _add_card(self, prediction: Prediction, card: ModelCard | None) -> None:
        widget = PredictionCard(prediction, card, self)
        widget.clicked.connect(self.result_selected)
        self._cards.append(widget)
        self._cards_box.addWidget(widget)

    def set_unavailable(self, unavailable: Sequence[tuple[str, str]]) -> None:
        """Muted list of models that could not be loaded, with the reason for each."""
        if unavailable:
            lines = [f"\u2022 {model_id}: {reason}" for model_id, reason in unavailable]
            self._unavailable.setText("Unavailable models:\n" + "\n".join(lines))
        self._unavailable.setVisible(bool(unavailable))

    @property
    def unavailable_text(self) -> str:
        return self._unavailable.text() if not self._unavailable.isHidden() else ""

    # ---------------------------------------------------------------- helpers
    def _set_status(self, text: str) -> None:
        self._status.setText(text)
        self._status.setVisible(bool(text))

    def _clear_cards(self) -> None:
        for widget in [*self._cards, *self._headings]:
            self._cards_box.removeWidget(widget)
            widget.hide()  # deleteLater waits for the event loop; never show a stale card meanwhile
            widget.deleteLater()
        self._cards.clear()
        self._headings.clear()
