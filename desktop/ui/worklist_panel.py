"""The worklist's view: one row per queued file with its state and findings, and the buttons
that step through them. It only shows a :class:`~desktop.core.worklist.Worklist` and asks for
things by signal; :mod:`desktop.ui.worklist_controller` does them."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from desktop.core.worklist import EntryState, Worklist
from desktop.ui.formatting import counted
from desktop.ui.tables import read_only_table

__all__ = ["WorklistPanel"]

# The same amber the warnings banner uses for "look here"; dark enough to read as text.
_FLAG_COLOUR = QColor("#9a5b00")
_FAILED_COLOUR = QColor("#a01818")


class WorklistPanel(QWidget):
    """File | Findings | Status, the open file selected; positive findings in bold amber."""

    open_requested = Signal(int)  # row index
    step_requested = Signal(int)  # +1 next, -1 previous
    remove_requested = Signal(int)
    clear_requested = Signal()
    export_requested = Signal()
    triage_requested = Signal()
    reports_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()  # show_worklist below writes it
        self.summary.setWordWrap(True)
        # Findings before status: in a narrow dock they are what must stay visible.
        self.table = read_only_table(["File", "Findings", "Status"])
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # Sized when rows come and go, not re-measured on every change (see _set_cell).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # long ones end in "…"; the tooltip has all
        widest_state = max(self.table.fontMetrics().horizontalAdvance(state.value) for state in EntryState)
        self.table.setColumnWidth(2, widest_state + 16)
        self.table.setSelectionMode(self.table.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        # Enter or a double-click opens the row (the platform's "activate"); Delete removes it.
        self.table.activated.connect(self._activated)
        remove_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        remove_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove_key.activated.connect(self._remove_selected)
        self.previous_button = QPushButton("\u25c0 Previous")
        self.next_button = QPushButton("Next \u25b6")
        self.open_button = QPushButton("Open")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear")
        self.export_button = QPushButton("Export List\u2026")
        self.reports_button = QPushButton("Save Reports\u2026")
        self.reports_button.clicked.connect(self.reports_requested)
        self.reports_button.setToolTip("Write the report of every file saved from this list as a PDF into one folder")
        self.triage_button = QPushButton("Positive First")
        self.triage_button.clicked.connect(self.triage_requested)
        self.triage_button.setToolTip("Move the files with a positive finding to the top (each group keeps its order)")
        self.export_button.clicked.connect(self.export_requested)
        self.export_button.setToolTip("Save the list with its findings as a CSV file (a triage log)")
        self.previous_button.clicked.connect(self._previous_clicked)
        self.next_button.clicked.connect(self._next_clicked)
        self.open_button.clicked.connect(self._open_selected)
        self.remove_button.clicked.connect(self._remove_selected)
        self.clear_button.clicked.connect(self.clear_requested)
        self.open_button.setToolTip("Open the selected file (or double-click it, or press Enter)")
        self.remove_button.setToolTip("Take the selected file off the list (Delete; the file itself stays)")
        self.clear_button.setToolTip("Empty the list (the files themselves stay)")

        steps = QHBoxLayout()
        for button in (self.previous_button, self.next_button, self.open_button):
            steps.addWidget(button)
        edits = QHBoxLayout()
        edits.addWidget(self.export_button)
        edits.addWidget(self.reports_button)
        edits.addWidget(self.triage_button)
        edits.addStretch(1)
        edits.addWidget(self.remove_button)
        edits.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(steps)
        layout.addLayout(edits)
        self.show_worklist(Worklist())

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _activated(self, index: QModelIndex) -> None:
        self.open_requested.emit(index.row())

    def _previous_clicked(self) -> None:
        self.step_requested.emit(-1)

    def _next_clicked(self) -> None:
        self.step_requested.emit(1)

    def _open_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.open_requested.emit(row)

    def _remove_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.remove_requested.emit(row)

    def _set_cell(self, row: int, column: int, text: str, tooltip: str, *, colour: QColor | None = None,
                  bold: bool = False) -> None:
        # Items are updated in place: a list of hundreds is refreshed after every file read
        # ahead, and making new items (each re-measuring its column) took seconds per refresh.
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
        item.setToolTip(tooltip)
        item.setForeground(QBrush(colour) if colour is not None else QBrush())
        if item.font().bold() != bold:
            font = QFont(item.font())
            font.setBold(bold)
            item.setFont(font)

    def show_worklist(self, worklist: Worklist) -> None:
        entries = worklist.entries
        added = len(entries) != self.table.rowCount()
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            failed = entry.state is EntryState.FAILED
            colour = _FAILED_COLOUR if failed else _FLAG_COLOUR if entry.findings.flagged else None
            self._set_cell(row, 0, entry.name, str(entry.path))
            self._set_cell(row, 1, entry.problem or entry.findings.line, entry.problem or entry.findings.detail, colour=colour,
                           bold=entry.findings.flagged and not failed)
            self._set_cell(row, 2, entry.state.value, "", colour=_FAILED_COLOUR if failed else None)
        if added:
            self.table.resizeColumnToContents(0)
        if worklist.current is not None:
            self.table.selectRow(worklist.current)
            self.table.scrollToItem(self.table.item(worklist.current, 0))
        else:
            self.table.clearSelection()
        self.summary.setText(_summary(worklist))
        has_rows = bool(entries)
        self.previous_button.setEnabled(worklist.next_index(-1) is not None and worklist.current is not None)
        self.next_button.setEnabled(worklist.next_index(1) is not None)
        for button in (self.open_button, self.remove_button, self.clear_button, self.export_button, self.triage_button):
            button.setEnabled(has_rows)
        self.reports_button.setEnabled(bool(worklist.saved_studies()))


def _summary(worklist: Worklist) -> str:
    total = len(worklist)
    if not total:
        return "No files queued. Drop several X-rays or a folder on the window."
    parts = [f"{worklist.count(EntryState.SAVED)} saved"]
    flagged = worklist.flagged_count()
    if flagged:
        parts.append(f"{flagged} with a positive finding")
    failed = worklist.count(EntryState.FAILED)
    if failed:
        parts.append(f"{failed} unreadable")
    waiting = worklist.count(EntryState.WAITING)
    if waiting:
        parts.append(f"{waiting} not read yet")
    position = f"file {worklist.current + 1} of {total}" if worklist.current is not None else counted(total, "file")
    return f"{position}: {', '.join(parts)}."
