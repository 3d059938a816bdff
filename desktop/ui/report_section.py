"""The "Report" section of the side panel: doctor's notes, impression, doctor name, Save study.

A view: it shows and returns text, says when the user edited something and when Save was
pressed; the records controller decides what saving means.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["NotesValues", "ReportSection"]


@dataclass(frozen=True)
class NotesValues:
    notes: str = ""
    impression: str = ""
    doctor_name: str = ""


class ReportSection(QWidget):
    """Free text for the study, and the save button with the save state beside it."""

    changed = Signal()  # the user edited a field
    save_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("Findings, comparison, technique\u2026")
        self.notes_edit.setAccessibleName("Doctor's notes")
        self.notes_edit.setTabChangesFocus(True)  # Tab must leave the box, or keyboard users are trapped
        self.notes_edit.setFixedHeight(84)
        form.addRow("Notes:", self.notes_edit)
        self.impression_edit = QPlainTextEdit()
        self.impression_edit.setPlaceholderText("Final impression")
        self.impression_edit.setAccessibleName("Final impression")
        self.impression_edit.setTabChangesFocus(True)
        self.impression_edit.setFixedHeight(48)
        form.addRow("Impression:", self.impression_edit)
        self.doctor_edit = QLineEdit()
        self.doctor_edit.setPlaceholderText("Reporting doctor")
        form.addRow("Doctor:", self.doctor_edit)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.status_label = QLabel()
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        row.addWidget(self.status_label, 1)
        self.save_button = QPushButton("Save study")
        self.save_button.setToolTip("Store the image, results, patient data and notes (Ctrl+S)")
        self.save_button.clicked.connect(self.save_requested)
        self.save_button.setEnabled(False)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        self.notes_edit.textChanged.connect(self._edited)
        self.impression_edit.textChanged.connect(self._edited)
        self.doctor_edit.textChanged.connect(self._edited)
        self._quiet = False

    def _edited(self) -> None:
        if not self._quiet:
            self.changed.emit()

    def values(self) -> NotesValues:
        return NotesValues(
            notes=self.notes_edit.toPlainText().strip(),
            impression=self.impression_edit.toPlainText().strip(),
            doctor_name=self.doctor_edit.text().strip(),
        )

    def set_values(self, values: NotesValues) -> None:
        """Fill the fields (a new or reopened study) without reporting an edit."""
        self._quiet = True
        try:
            self.notes_edit.setPlainText(values.notes)
            self.impression_edit.setPlainText(values.impression)
            self.doctor_edit.setText(values.doctor_name)
        finally:
            self._quiet = False

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    @property
    def status_text(self) -> str:
        return self.status_label.text()

    def set_can_save(self, enabled: bool) -> None:
        self.save_button.setEnabled(enabled)
