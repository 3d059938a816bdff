"""The records side of the patient form and risk panel: read them for a save, refill them on reopen.

The form and the panel belong to the patient feature (``patient_dock.py``); this adapter is
the only place that knows their shape, so the records controller depends on four methods,
not on widgets. It watches every editor generically, so new form fields count as edits
without changes here.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QWidget

from desktop.core.records.values import PatientDetails
from desktop.ui.report.content import risk_lines

__all__ = ["PatientLink", "risk_to_dict"]

log = logging.getLogger(__name__)

TOP_FACTORS = 6  # as many as the risk panel shows
_MIN_SHARE = 0.005  # log-odds below this read as "no effect" in the panel, so not as a top factor


def _clean(value: Any) -> Any:
    """JSON-safe: NaN (an unknown intercept) becomes None instead of a non-standard token."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def risk_to_dict(assessment: Any) -> dict[str, Any]:
    """A risk assessment as stored with the study, plus its top factors in words."""
    data = _clean(dataclasses.asdict(assessment)) if dataclasses.is_dataclass(assessment) else dict(assessment)
    shown = [c for c in getattr(assessment, "contributions", ())
             if not getattr(c, "imputed", False) and abs(getattr(c, "log_odds", 0.0)) >= _MIN_SHARE]
    data["top_factors"] = [c.describe() for c in shown[:TOP_FACTORS]]
    return data


class PatientLink(QObject):
    """Wraps a ``PatientRiskWidget`` (``.form`` and ``.panel``) for the records controller."""

    changed = Signal()

    def __init__(
        self,
        widget: QWidget,
        *,
        decode_risk: Callable[[Mapping[str, Any]], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``decode_risk`` turns a stored risk dict back into what the risk panel shows; the
        composition root supplies it, because only it may import the inference layer."""
        super().__init__(parent)
        self.widget = widget
        self._decode_risk = decode_risk
        self.form = widget.form
        self.panel = widget.panel
        self._quiet = False
        for edit in self.form.findChildren(QLineEdit):
            edit.textChanged.connect(self._edited)
        for box in self.form.findChildren(QComboBox):
            box.currentIndexChanged.connect(self._edited)
        for box in self.form.findChildren(QPlainTextEdit):
            box.textChanged.connect(self._edited)
        for box in self.form.findChildren(QCheckBox):
            box.toggled.connect(self._edited)
        self.form.assess_requested.connect(self._edited)

    def _edited(self, *_: object) -> None:
        if not self._quiet:
            self.changed.emit()

    def details(self) -> PatientDetails:
        values = self.form.values()

        def text(key: str) -> str:
            return str(values.get(key) or "").strip()

        return PatientDetails(name=text("patient_name"), patient_id=text("patient_id"),
                              date_of_birth=text("date_of_birth"), sex=text("gender"))

    def form_values(self) -> dict[str, Any] | None:
        """What was typed, or None when the form is untouched (nothing worth storing)."""
        values = self.form.values()
        return values if any(v not in (None, "", False) for v in values.values()) else None

    def risk(self) -> dict[str, Any] | None:
        assessment = getattr(self.panel, "assessment", None)
        return risk_to_dict(assessment) if assessment is not None else None

    def snapshot(self) -> tuple[Any, ...]:
        """Compared before and after, to tell whether the user changed anything."""
        values = self.form.values()
        return (tuple(sorted((k, str(v)) for k, v in values.items())), getattr(self.panel, "assessment", None) is not None)

    def clear(self) -> None:
        self._quiet = True
        try:
            self.form.clear()
            self.panel.show_placeholder("Fill in the patient form and press Estimate risk (Enter).")
        finally:
            self._quiet = False

    def restore(self, form_values: Mapping[str, Any] | None, risk: Mapping[str, Any] | None, *, details: PatientDetails) -> None:
        """Refill the form from a stored study (the patient row fills identity gaps) and show its risk."""
        self._quiet = True
        try:
            self.form.clear()
            identity = {"patient_name": details.name, "patient_id": details.patient_id,
                        "date_of_birth": details.date_of_birth, "gender": details.sex}
            self.form.set_values({**{k: v for k, v in identity.items() if v}, **(form_values or {})})
            if not risk:
                self.panel.show_placeholder("No risk estimate was stored with this study.")
                return
            try:
                if self._decode_risk is None:
                    raise ValueError("no risk decoder")
                self.panel.show_assessment(self._decode_risk(risk))
            except Exception as exc:
                log.info("stored risk shown as text: %s", exc)
                self.panel.show_placeholder("Stored estimate: " + " ".join(risk_lines(risk)))
        finally:
            self._quiet = False
