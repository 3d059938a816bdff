"""The patient form: every risk factor, validated by the same core code the model trained on.

A view: it collects text, asks :func:`desktop.core.patient.validate_patient` what is wrong and
shows each message in red under its field, and emits :attr:`PatientForm.assess_requested` with
a valid :class:`PatientRecord`. It never runs a model. Blank is always allowed for optional
answers (unknown), which is why numbers are line edits and yes/no answers have a "—" choice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.patient import FIELDS, OBESITY_BMI, PatientRecord, validate_patient, who_category
from desktop.ui.formatting import counted

__all__ = ["PatientForm"]

log = logging.getLogger(__name__)

UNKNOWN = "\u2014"  # the blank choice of a yes/no answer
_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Patient", ("patient_name", "patient_id", "date_of_birth", "gender", "age")),
    ("Body", ("height_m", "weight_kg")),
    ("Women only", ("postmenopausal", "menopause_age", "pregnancies", "estrogen_use")),
    ("Risk factors", ("smoker", "alcoholic", "diabetic", "hypothyroidism", "seizure_disorder", "history_of_fracture",
                      "dialysis", "family_history", "joint_pain", "walking_distance_km")),
    ("Bone density, if measured", ("t_score", "z_score")),
)
_PLACEHOLDERS = {"date_of_birth": "YYYY-MM-DD", "patient_name": "optional", "patient_id": "optional",
                 "menopause_age": "blank if not yet", "pregnancies": "0\u201320"}
_STYLE = "QLabel#fieldError { color: #b3261e; } QLabel#muted { color: palette(placeholder-text); }"
_UNIT_WIDTH = 40
_WHO_TEXT = {"normal": "Normal", "osteopenia": "Osteopenia", "osteoporosis": "Osteoporosis"}


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("fieldError")
    label.setWordWrap(True)
    label.setVisible(False)
    return label


class PatientForm(QWidget):
    """All fields of the patient form; Enter (outside the history box) asks for a risk estimate."""

    assess_requested = Signal(object)  # PatientRecord

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE)
        self._today = today
        self._attempted = False  # "required" messages only after the first Estimate, not while typing
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._row_labels: list[QLabel] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        for title, names in _SECTIONS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for name in names:
                self._add_field(form, name)
            if title == "Body":
                self._add_derived(form)
            if title == "Bone density, if measured":
                self.who_label = QLabel()
                self.who_label.setObjectName("muted")
                self.who_label.setWordWrap(True)
                self._row_labels.append(QLabel("WHO category:"))
                form.addRow(self._row_labels[-1], self.who_label)
            layout.addWidget(box)
        history_box = QGroupBox("Medical history (kept with the record; the model does not read it)")
        history_layout = QVBoxLayout(history_box)
        self.history = QPlainTextEdit()
        self.history.setTabChangesFocus(True)  # Tab must leave the box, or keyboard users are trapped
        self.history.setFixedHeight(60)
        self.history.setAccessibleName("Medical history")
        history_layout.addWidget(self.history)
        layout.addWidget(history_box)
        buttons = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setObjectName("fieldError")
        self.summary.setWordWrap(True)
        buttons.addWidget(self.summary, 1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.estimate_button = QPushButton("Estimate risk")
        self.estimate_button.setToolTip("Enter")
        self.estimate_button.setDefault(True)
        self.estimate_button.clicked.connect(self.submit)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.estimate_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        # One label width for all sections, so the fields line up from box to box.
        width = max(label.sizeHint().width() for label in self._row_labels)
        for label in self._row_labels:
            label.setMinimumWidth(width)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._set_tab_order()
        self._on_changed()

    # ---------------------------------------------------------------- building
    def _add_field(self, form: QFormLayout, name: str) -> None:
        spec = FIELDS[name]
        if spec.kind == "binary":
            editor: QWidget = QComboBox()
            editor.addItems([UNKNOWN, "No", "Yes"])  # typing N or Y picks an answer
            editor.currentIndexChanged.connect(self._on_changed)
        elif spec.kind == "choice":
            editor = QComboBox()
            editor.addItems([UNKNOWN, "Female", "Male"])
            editor.currentIndexChanged.connect(self._on_changed)
        else:
            editor = QLineEdit()
            if spec.min is not None:
                editor.setPlaceholderText(_PLACEHOLDERS.get(name, f"{spec.min:g}\u2013{spec.max:g}"))
            else:
                editor.setPlaceholderText(_PLACEHOLDERS.get(name, ""))
            editor.textChanged.connect(self._on_changed)
        editor.setAccessibleName(spec.label)
        editor.setObjectName(name)
        self.editors[name] = editor
        row = QWidget()
        row_layout = QVBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(1)
        line = QHBoxLayout()
        line.addWidget(editor, 1)
        # Every row gets a unit column (empty for most), so editors end at one edge.
        unit = QLabel(spec.unit if spec.kind != "binary" else "")
        unit.setFixedWidth(_UNIT_WIDTH)
        line.addWidget(unit)
        row_layout.addLayout(line)
        self.errors[name] = _error_label()
        row_layout.addWidget(self.errors[name])
        label = QLabel(f"{spec.label}{' *' if spec.required else ''}:")
        label.setBuddy(editor)
        self._row_labels.append(label)
        form.addRow(label, row)

    def _add_derived(self, form: QFormLayout) -> None:
        self.bmi_label = QLabel("\u2014")
        self.bmi_label.setToolTip("Weight / height\u00b2, computed from the fields above")
        self.errors["bmi"] = _error_label()
        bmi_row = QWidget()
        bmi_layout = QVBoxLayout(bmi_row)
        bmi_layout.setContentsMargins(0, 0, 0, 0)
        bmi_layout.addWidget(self.bmi_label)
        bmi_layout.addWidget(self.errors["bmi"])
        self._row_labels.append(QLabel("BMI:"))
        form.addRow(self._row_labels[-1], bmi_row)
        self.obesity_label = QLabel("\u2014")
        self.obesity_override = QCheckBox("Override")
        self.obesity_override.setToolTip(f"Obesity follows BMI \u2265 {OBESITY_BMI:g} unless you override it")
        self.obesity_choice = QComboBox()
        self.obesity_choice.addItems(["No", "Yes"])
        self.obesity_choice.setAccessibleName("Obesity (override)")
        self.obesity_override.toggled.connect(self._on_changed)
        self.obesity_choice.currentIndexChanged.connect(self._on_changed)
        line = QHBoxLayout()
        line.addWidget(self.obesity_label, 1)
        line.addWidget(self.obesity_override)
        line.addWidget(self.obesity_choice)
        line.addSpacing(_UNIT_WIDTH + line.spacing())  # line up with the editors' unit column
        self._row_labels.append(QLabel("Obesity:"))
        form.addRow(self._row_labels[-1], line)

    def _set_tab_order(self) -> None:
        # Section by section, with the obesity override right after the weight it follows.
        chain = [self.editors[n] for _, names in _SECTIONS for n in names]
        at = chain.index(self.editors["weight_kg"]) + 1
        ordered = [*chain[:at], self.obesity_override, self.obesity_choice, *chain[at:],
                   self.history, self.clear_button, self.estimate_button]
        for first, second in zip(ordered, ordered[1:]):
            QWidget.setTabOrder(first, second)

    # ---------------------------------------------------------------- values
    def _raw(self, name: str) -> Any:
        editor = self.editors[name]
        if not editor.isEnabled():
            return None  # disabled (women-only for a man): never sent
        if isinstance(editor, QComboBox):
            text = editor.currentText()
            return None if text == UNKNOWN else text.lower()
        return editor.text()

    def values(self) -> dict[str, Any]:
        """What the user typed, keyed like :data:`FIELDS`, ready for ``validate_patient``."""
        data: dict[str, Any] = {name: self._raw(name) for name in self.editors}
        data["medical_history"] = self.history.toPlainText()
        data["obesity_override"] = (self.obesity_choice.currentText() == "Yes") if self.obesity_override.isChecked() else None
        return data

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Fill the form (a loaded record, a test); unknown keys are ignored."""
        for name, value in values.items():
            editor = self.editors.get(name)
            if isinstance(editor, QComboBox):
                text = UNKNOWN if value in (None, "") else {True: "Yes", False: "No"}.get(value, str(value).capitalize())
                editor.setCurrentIndex(max(0, editor.findText(text)))
            elif isinstance(editor, QLineEdit):
                editor.setText("" if value is None else f"{value}")
        if "medical_history" in values:
            self.history.setPlainText(str(values["medical_history"] or ""))

    def clear(self) -> None:
        self._attempted = False
        for editor in self.editors.values():
            editor.setCurrentIndex(0) if isinstance(editor, QComboBox) else editor.clear()
        self.history.clear()
        self.obesity_override.setChecked(False)

    def message_for(self, name: str) -> str:
        """The red message shown under a field ('' when none)."""
        label = self.errors.get(name)
        return label.text() if label is not None and not label.isHidden() else ""

    # ---------------------------------------------------------------- behaviour
    def _on_changed(self, *_: object) -> None:
        is_man = self.editors["gender"].currentText() == "Male"
        for name, spec in FIELDS.items():
            if spec.women_only:
                self.editors[name].setEnabled(not is_man)
        self.obesity_choice.setEnabled(self.obesity_override.isChecked())
        self._update_derived()
        self._validate(show_required=self._attempted)

    def _update_derived(self) -> None:
        bmi = None
        try:
            height = float(self.editors["height_m"].text().replace(",", "."))
            weight = float(self.editors["weight_kg"].text().replace(",", "."))
            # Only a BMI from plausible entries: "0.0 kg/m²" from a half-typed weight helps no one.
            if FIELDS["height_m"].min <= height <= FIELDS["height_m"].max and FIELDS["weight_kg"].min <= weight <= FIELDS["weight_kg"].max:
                bmi = weight / height**2
        except ValueError:
            pass
        self.bmi_label.setText(f"{bmi:.1f} kg/m\u00b2" if bmi is not None else "\u2014")
        if self.obesity_override.isChecked():
            self.obesity_label.setText(f"{self.obesity_choice.currentText()} (set by you)")
        elif bmi is not None:
            obese = bmi >= OBESITY_BMI
            relation = "\u2265" if obese else "<"
            self.obesity_label.setText(f"{'Yes' if obese else 'No'} (BMI {relation} {OBESITY_BMI:g})")
        else:
            self.obesity_label.setText("\u2014 (from BMI)")
        try:
            t_score = float(self.editors["t_score"].text().replace(",", "."))
            category = _WHO_TEXT[who_category(t_score)] if -6 <= t_score <= 6 else None
        except ValueError:
            category = None
        self.who_label.setText(f"{category} (WHO rule, not a model)" if category
                               else "Enter a T-score (WHO rule, not a model)")

    def _validate(self, *, show_required: bool) -> tuple[PatientRecord | None, dict[str, str]]:
        record, errors = validate_patient(self.values(), today=self._today)
        for name, label in self.errors.items():
            message = errors.get(name, "")
            if message.endswith("is required.") or message.startswith("Age is required"):
                message = message if show_required else ""
            label.setText(message)
            label.setVisible(bool(message))
        return record, errors

    def submit(self) -> PatientRecord | None:
        """Validate everything; emit :attr:`assess_requested` only for a valid record."""
        self._attempted = True
        record, errors = self._validate(show_required=True)
        if record is None:
            self.summary.setText(f"Please correct {counted(len(errors), 'field')}.")
            first = next((self.editors[n] for n in self.editors if n in errors), None)
            if first is not None:
                first.setFocus()
            return None
        self.summary.clear()
        log.debug("assess requested for patient %s", record.patient_id or "(no id)")
        self.assess_requested.emit(record)
        return record

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        # Line edits, combo boxes and check boxes pass Enter up to us; the history box keeps it.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
            event.accept()
            return
        super().keyPressEvent(event)
