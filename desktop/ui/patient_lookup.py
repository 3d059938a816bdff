"""Returning patients: known patients offered while the name or ID is typed.

Studies belong to one patient when the name and ID match what was stored before, and the
follow-up comparison finds earlier studies that way; a typo or a different spelling on the
second visit makes a stranger of the same person. So as the doctor types two or more letters
of a name or ID, the patients in the records whose name or ID contains them (any case, any
script, as the history search finds them) drop down under the field, with their ID, date of
birth and study count; choosing one fills name, ID, date of birth and sex exactly as stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter

from desktop.core.records import RecordError
from desktop.ui.formatting import counted

if TYPE_CHECKING:
    from desktop.core.records import PatientSummary, RecordStore
    from desktop.ui.patient_form import PatientForm

__all__ = ["PatientLookup"]

log = logging.getLogger(__name__)

MIN_LETTERS = 2
MAX_SHOWN = 12
_NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # what the name field receives
_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # what the ID field receives
_KEY_ROLE = Qt.ItemDataRole.UserRole + 3  # the patient's row in the records


def _line(summary: PatientSummary) -> str:
    d = summary.patient.details
    parts = [d.name or "(no name)"]
    if d.patient_id:
        parts.append(f"ID {d.patient_id}")
    if d.date_of_birth:
        parts.append(f"born {d.date_of_birth}")
    parts.append(counted(summary.study_count, "study", "studies"))
    return " \u00b7 ".join(parts)


class PatientLookup(QObject):
    """Completers on the patient form's name and ID fields, fed from the records."""

    def __init__(self, store: RecordStore, form: PatientForm, *, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._form = form
        self.model = QStandardItemModel(self)
        self._found: dict[int, PatientSummary] = {}
        self.completers: dict[str, QCompleter] = {}
        for field, role in (("patient_name", _NAME_ROLE), ("patient_id", _ID_ROLE)):
            editor = form.editors[field]
            completer = QCompleter(self.model, editor)
            # The records already matched the text (folded the way the history search folds it);
            # the completer must not filter again with its narrower rules.
            completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
            completer.setCompletionRole(role)  # the field gets its own value, not the whole line
            completer.activated[QModelIndex].connect(self._chosen)
            editor.setCompleter(completer)
            editor.textEdited.connect(self.refresh)  # typing only: filling the form asks nothing
            self.completers[field] = completer

    def refresh(self, text: str) -> None:
        """Look the typed text up in the records; fewer than two letters clears the list."""
        self.model.clear()
        self._found.clear()
        if len(text.strip()) < MIN_LETTERS:
            return
        try:
            found = self._store.search_patients(text=text, limit=MAX_SHOWN)
        except RecordError as exc:  # a lookup is a convenience: typing goes on without it
            log.warning("patient lookup failed: %s", exc)
            return
        for summary in found:
            item = QStandardItem(_line(summary))
            item.setData(summary.patient.details.name, _NAME_ROLE)
            item.setData(summary.patient.details.patient_id, _ID_ROLE)
            item.setData(summary.patient.key, _KEY_ROLE)
            self._found[summary.patient.key] = summary
            self.model.appendRow(item)
        for completer in self.completers.values():  # as wide as the lines, not only the field
            popup = completer.popup()
            popup.setMinimumWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 12)

    def _chosen(self, index: QModelIndex) -> None:
        summary = self._found.get(index.data(_KEY_ROLE))
        if summary is not None:
            self.fill(summary)

    def fill(self, summary: PatientSummary) -> None:
        """Put a known patient's identity into the form, as stored (blank parts stay as typed)."""
        d = summary.patient.details
        values = {"patient_name": d.name, "patient_id": d.patient_id, "date_of_birth": d.date_of_birth, "gender": d.sex}
        self._form.set_values({k: v for k, v in values.items() if v})
