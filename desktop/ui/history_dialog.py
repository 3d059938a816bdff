"""File > Study History…: find patients and studies, reopen one, compare two, delete, export CSV.

Talks to a :class:`~desktop.core.records.store.RecordStore` only; reopening is announced by
:attr:`HistoryDialog.open_requested` and done by the records controller. Deleting always asks
first, through the injected :class:`~desktop.ui.prompts.Prompts`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.records import (
    RecordError,
    RecordStore,
    StudyQuery,
    export_studies_csv,
)
from desktop.ui.compare_dialog import CompareDialog
from desktop.ui.formatting import STUDY_TYPES, counted, study_type_name
from desktop.ui.prompts import Prompts
from desktop.ui.report_output import ReportOutput
from desktop.ui.tables import read_only_table

__all__ = ["HistoryDialog"]

log = logging.getLogger(__name__)

_KEY = Qt.ItemDataRole.UserRole
_STUDY_COLUMNS = ("Saved", "Patient", "Patient ID", "Study type", "Findings", "Impression", "Report ID")
_PATIENT_COLUMNS = ("Name", "Patient ID", "Born", "Studies")


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = read_only_table(columns)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    return table


def _fill_row(table: QTableWidget, row: int, key: int | None, cells: list[str]) -> None:
    for column, text in enumerate(cells):
        item = QTableWidgetItem(text)
        item.setData(_KEY, key)
        table.setItem(row, column, item)


class HistoryDialog(QDialog):
    """Patients on the left, their (or everyone's) studies on the right, filters on top."""

    open_requested = Signal(int)  # study key

    def __init__(self, store: RecordStore, *, prompts: Prompts | None = None, output: ReportOutput | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._output = output  # where a comparison is saved or printed
        self.setWindowTitle("Study History")
        self.resize(1100, 620)
        self._store = store
        self._prompts = prompts or Prompts()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Name, patient ID or report ID (any script)")
        self.search.setClearButtonEnabled(True)
        self.from_check, self.from_date = QCheckBox("From"), QDateEdit(QDate.currentDate().addMonths(-1))
        self.to_check, self.to_date = QCheckBox("To"), QDateEdit(QDate.currentDate())
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.study_type = QComboBox()
        self.study_type.addItem("Any study type", None)
        for part, name in STUDY_TYPES:
            self.study_type.addItem(name, part)
        self.label_filter = QLineEdit()
        self.label_filter.setPlaceholderText("Finding, e.g. PNEUMONIA")
        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        for widget in (self.from_check, self.from_date, self.to_check, self.to_date, self.study_type):
            filters.addWidget(widget)
        filters.addWidget(self.label_filter, 1)

        self.patients = _table(_PATIENT_COLUMNS)
        self.studies = _table(_STUDY_COLUMNS)
        # Ctrl/Shift+click picks two studies to compare; open and delete act on one.
        self.studies.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.comparison: CompareDialog | None = None
        splitter = QSplitter()
        splitter.addWidget(self.patients)
        splitter.addWidget(self.studies)
        splitter.setSizes([330, 770])
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.open_button = QPushButton("Open study")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Select two studies (Ctrl+click) to see them side by side with what changed")
        self.open_button.setDefault(True)
        self.delete_study_button = QPushButton("Delete study\u2026")
        self.delete_patient_button = QPushButton("Delete patient\u2026")
        self.export_button = QPushButton("Export CSV\u2026")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for button in (self.export_button, self.delete_patient_button, self.delete_study_button, self.compare_button,
                       self.open_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self.search.textChanged.connect(self.refresh)
        self.label_filter.textChanged.connect(self._refresh_studies)
        self.study_type.currentIndexChanged.connect(self._refresh_studies)
        for check, edit in ((self.from_check, self.from_date), (self.to_check, self.to_date)):
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self._refresh_studies)
            edit.dateChanged.connect(self._refresh_studies)
        self.patients.itemSelectionChanged.connect(self._refresh_studies)
        self.studies.itemSelectionChanged.connect(self._update_buttons)
        self.studies.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.delete_study_button.clicked.connect(self.delete_selected_study)
        self.delete_patient_button.clicked.connect(self.delete_selected_patient)
        self.export_button.clicked.connect(self.export_csv)
        close.clicked.connect(self.reject)
        self.refresh()

    # ----------------------------------------------------------------- queries
    def query(self) -> StudyQuery:
        """The study filters as set; a selected patient narrows to their studies."""
        patient = self.selected_patient_key()
        return StudyQuery(
            # A chosen patient already matched the text; repeating it would hide nothing new.
            text="" if patient is not None else self.search.text(),
            date_from=self.from_date.date().toPython() if self.from_check.isChecked() else None,
            date_to=self.to_date.date().toPython() if self.to_check.isChecked() else None,
            body_part=self.study_type.currentData(),
            label=self.label_filter.text().strip() or None,
            patient_key=patient,
        )

    def selected_patient_key(self) -> int | None:
        items = self.patients.selectedItems()
        return items[0].data(_KEY) if items else None

    def selected_study_keys(self) -> list[int]:
        """The selected studies, top to bottom."""
        rows = sorted({index.row() for index in self.studies.selectedIndexes()})
        return [self.studies.item(row, 0).data(_KEY) for row in rows]

    def selected_study_key(self) -> int | None:
        """The selected study when exactly one is selected."""
        keys = self.selected_study_keys()
        return keys[0] if len(keys) == 1 else None

    def study_keys(self) -> list[int]:
        return [self.studies.item(row, 0).data(_KEY) for row in range(self.studies.rowCount())]

    def select_study(self, key: int) -> None:
        for row in range(self.studies.rowCount()):
            if self.studies.item(row, 0).data(_KEY) == key:
                self.studies.selectRow(row)
                return

    # ----------------------------------------------------------------- filling
    def refresh(self) -> None:
        """Reload patients (keeping the selection when it still matches) and studies."""
        chosen = self.selected_patient_key()
        self.patients.blockSignals(True)
        try:
            patients = self._store.search_patients(text=self.search.text())
            self.patients.setRowCount(len(patients))
            for row, summary in enumerate(patients):
                d = summary.patient.details
                _fill_row(self.patients, row, summary.patient.key,
                          [summary.patient.display_name, d.patient_id, d.date_of_birth, str(summary.study_count)])
                if summary.patient.key == chosen:
                    self.patients.selectRow(row)
        finally:
            self.patients.blockSignals(False)
        self._refresh_studies()

    def _refresh_studies(self) -> None:
        studies = self._store.search_studies(self.query())
        self.studies.setRowCount(len(studies))
        for row, s in enumerate(studies):
            _fill_row(self.studies, row, s.key, [
                f"{s.created_at:%Y-%m-%d %H:%M}", s.patient_name or "(no name)", s.patient_id,
                study_type_name(s.body_part), s.findings, s.impression.replace("\n", " "), s.report_id,
            ])
        self.summary.setText(counted(len(studies), "study", "studies"))
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_study = self.selected_study_key() is not None
        self.open_button.setEnabled(has_study)
        self.compare_button.setEnabled(len(self.selected_study_keys()) == 2)
        self.delete_study_button.setEnabled(has_study)
        self.delete_patient_button.setEnabled(self.selected_patient_key() is not None)
        self.export_button.setEnabled(self.studies.rowCount() > 0)

    # ----------------------------------------------------------------- actions
    def open_selected(self) -> None:
        key = self.selected_study_key()
        if key is not None:
            self.open_requested.emit(key)

    def compare_selected(self) -> CompareDialog | None:
        """Show the two selected studies side by side (a window of its own, so the history stays usable)."""
        keys = self.selected_study_keys()
        if len(keys) != 2:
            return None
        try:
            first, second = (self._store.get_study(key, with_heatmaps=False) for key in keys)
        except RecordError as exc:
            self.summary.setText(str(exc))
            return None
        self.comparison = CompareDialog(first, second, output=self._output, parent=self)
        self.comparison.show()
        return self.comparison

    def delete_selected_study(self) -> bool:
        key = self.selected_study_key()
        if key is None:
            return False
        row = self.study_keys().index(key)
        who, when = self.studies.item(row, 1).text(), self.studies.item(row, 0).text()
        if not self._prompts.confirm(self, "Delete study",
                                     f"Delete the study of {who} saved {when}, with its image copy and results?"
                                     " This cannot be undone."):
            return False
        return self._run(lambda: self._store.delete_study(key))

    def delete_selected_patient(self) -> bool:
        key = self.selected_patient_key()
        if key is None:
            return False
        row = self.patients.currentRow()
        who, count = self.patients.item(row, 0).text(), self.patients.item(row, 3).text()
        if not self._prompts.confirm(self, "Delete patient",
                                     f"Delete {who} and all {count} of their studies? This cannot be undone."):
            return False
        self.patients.clearSelection()
        return self._run(lambda: self._store.delete_patient(key))

    def export_csv(self) -> int:
        suggested = str(Path.home() / "xraydesk-studies.csv")
        path = self._prompts.save_path(self, "Export studies as CSV", suggested, "CSV (*.csv)")
        if not path:
            return 0
        if not path.lower().endswith(".csv"):
            path += ".csv"
        query = self.query()
        try:
            count = export_studies_csv(self._store, path, query=replace(query, limit=1_000_000))
        except RecordError as exc:
            self.summary.setText(str(exc))
            return 0
        self.summary.setText(f"Exported {count} studies to {Path(path).name}.")
        return count

    def _run(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except RecordError as exc:
            self.summary.setText(str(exc))
            return False
        self.refresh()
        return True
