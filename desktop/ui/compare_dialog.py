"""Study History > Compare: two saved studies side by side, and what changed between them.

For follow-up visits: a knee graded again a year later, a fracture healing, a pneumonia
clearing. Each study's archived image is shown in a viewer of its own (zoom, pan, window and
invert as in the main window; read-only, so nothing is measured that could not be saved),
with its knee joints outlined and its measurements drawn. Below, every finding of the earlier
study beside the later one; a finding whose result changed is marked. The comparison can be
saved as a PDF or printed (see :mod:`desktop.ui.report.comparison`).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.imaging import ImageLoadError
from desktop.core.measurement import measurements_summary
from desktop.core.records import RecordError, StudyQuery, StudyRecord
from desktop.core.records.image_archive import load_archived_image
from desktop.ui.formatting import counted, study_type_name
from desktop.ui.image_view import ImageView
from desktop.ui.linked_views import LinkedViews, joints_frame
from desktop.ui.results_panel import MessageBanner
from desktop.ui.study_comparison import (
    ComparedFinding, compare_findings, days_apart, different_patients, findings_headers, in_time_order, result_text,
)
from desktop.ui.tables import read_only_table

if TYPE_CHECKING:
    from desktop.ui.records_controller import RecordsController
    from desktop.ui.report_output import ReportOutput

__all__ = ["CompareDialog", "compare_with_previous"]

CHANGED = "changed"


class _StudyPane(QWidget):
    """One study: a heading, its image in a read-only viewer, its measurements and impression."""

    def __init__(self, record: StudyRecord, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record = record
        heading = QLabel(f"<b>{role}</b>: saved {record.created_at:%Y-%m-%d %H:%M} \u00b7 {html.escape(record.report_id)}"
                         f" \u00b7 {html.escape(study_type_name(record.body_part))} \u00b7 {html.escape(record.original_file_name)}")
        heading.setWordWrap(True)
        self.view = ImageView(self)
        self.view.measuring_allowed = False
        self.pixels: np.ndarray | None = None  # None when the archived image could not be shown
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(self.problem)
        layout.addWidget(self.view, 1)
        extra = [("Measurements", measurements_summary(record.measurements, record.acquisition.pixel_spacing_mm)),
                 ("Impression", record.impression.strip())]
        for title, text in extra:
            if text:
                line = QLabel(f"<b>{title}:</b> {html.escape(text)}")
                line.setWordWrap(True)
                layout.addWidget(line)
        self._show_image(record)

    def _show_image(self, record: StudyRecord) -> None:
        try:
            image = load_archived_image(record)
        except ImageLoadError as exc:
            self._fail(f"The archived image could not be read: {exc}")
            return
        except RecordError as exc:
            self._fail(str(exc))
            return
        self.pixels = image.pixels
        self.view.set_image(image.pixels, pixel_spacing_mm=record.acquisition.pixel_spacing_mm)
        self.view.set_joints(record.knee_joints or ())
        self.view.measure_tool.set_measurements(record.measurements)

    def _fail(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)


def _findings_table(findings: tuple[ComparedFinding, ...], earlier: StudyRecord, later: StudyRecord) -> QTableWidget:
    table = read_only_table(findings_headers(earlier, later), len(findings))
    for row, finding in enumerate(findings):
        model = f"\u2013 {finding.model}" if finding.derived else finding.model
        cells = (finding.where, model, result_text(finding.earlier), result_text(finding.later),
                 CHANGED if finding.changed else "")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if finding.changed:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            table.setItem(row, column, item)
    return table


class CompareDialog(QDialog):
    """Two saved studies, the earlier on the left, whichever order they were chosen in."""

    def __init__(self, first: StudyRecord, second: StudyRecord, *, output: ReportOutput | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._output = output
        self.earlier, self.later = in_time_order(first, second)
        patient = self.later.patient
        who = f"{patient.display_name}" + (f" ({patient.details.patient_id})" if patient.details.patient_id else "")
        self.setWindowTitle(f"Compare studies \u2014 {who}")
        self.resize(1280, 860)
        days = days_apart(self.earlier, self.later)
        summary = QLabel(f"<b>{html.escape(who)}</b> \u00b7 {counted(days, 'day')} between the studies")
        self.banner = MessageBanner(self)
        if (warning := different_patients(self.earlier, self.later)) is not None:
            self.banner.show_message(warning, kind="warning")
        self.panes = (_StudyPane(self.earlier, "Earlier"), _StudyPane(self.later, "Later"))
        images = QSplitter()
        for pane in self.panes:
            images.addWidget(pane)
        joints = [joints_frame(pane.record.knee_joints) for pane in self.panes]
        # Knee films are linked through their joints: the same knee lines up however each was framed.
        frames = (joints[0], joints[1]) if joints[0] is not None and joints[1] is not None else None
        self.link = LinkedViews(*(pane.view for pane in self.panes), frames=frames, parent=self)
        self.link_check = QCheckBox("Move both images together (zoom, pan, window)")
        self.link_check.setChecked(True)
        self.link_check.toggled.connect(self.link.set_enabled)
        self.findings = compare_findings(self.earlier, self.later)
        self.table = _findings_table(self.findings, self.earlier, self.later)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(images)
        splitter.addWidget(self.table)
        splitter.setSizes([600, 200])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.pdf_button = buttons.addButton("Save as PDF\u2026", QDialogButtonBox.ButtonRole.ActionRole)
        self.print_button = buttons.addButton("Print\u2026", QDialogButtonBox.ButtonRole.ActionRole)
        self.pdf_button.clicked.connect(lambda: self.save_pdf())
        self.print_button.clicked.connect(self.print_comparison)
        for button in (self.pdf_button, self.print_button):
            button.setVisible(output is not None)
        layout = QVBoxLayout(self)
        heading = QHBoxLayout()
        heading.addWidget(summary, 1)
        heading.addWidget(self.link_check)
        layout.addLayout(heading)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)

    def _pixels(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self.panes[0].pixels, self.panes[1].pixels

    def save_pdf(self, path: str | None = None) -> Path | None:
        """The comparison as a PDF, where the user chooses (or at ``path``)."""
        from desktop.ui.report.comparison import write_comparison_pdf

        if self._output is None:
            return None
        name = f"{self.earlier.report_id}-vs-{self.later.report_id}.pdf"
        try:
            target = self._output.save_pdf(self, "Save comparison as PDF", name, lambda target, clinic: write_comparison_pdf(
                self.earlier, self.later, self.findings, self._pixels(), target, clinic=clinic), path=path)
        except RecordError as exc:
            self.banner.show_message(f"The comparison could not be written: {exc}")
            return None
        if target is not None:
            self.banner.show_message(f"Comparison saved to {target}.", kind="info")
        return target

    def print_comparison(self) -> bool:
        from desktop.ui.report.comparison import print_comparison

        if self._output is None:
            return False
        try:
            pages = self._output.print(self, lambda printer, clinic: print_comparison(
                self.earlier, self.later, self.findings, self._pixels(), printer, clinic=clinic))
        except RecordError as exc:
            self.banner.show_message(f"The comparison could not be printed: {exc}")
            return False
        if pages is not None:
            self.banner.show_message(f"Comparison sent to the printer ({counted(pages, 'page')}).", kind="info")
        return pages is not None


def compare_with_previous(records: RecordsController, parent: QWidget) -> CompareDialog | None:
    """File > Compare with Previous Study: the open study (saved first) beside the same
    patient's latest earlier study, for the follow-up visit."""
    record = records.saved_for_report()
    if record is None or records.store is None:
        return None
    earlier = [s for s in records.store.search_studies(StudyQuery(patient_key=record.patient.key))
               if s.key != record.key and (s.created_at, s.key) < (record.created_at, record.key)]
    if not earlier:
        records.message.emit("No earlier study of this patient is saved. Studies are linked by the patient's "
                             "name and ID in the patient form.")
        return None
    previous = max(earlier, key=lambda s: (s.created_at, s.key))
    try:
        previous_record = records.store.get_study(previous.key, with_heatmaps=False)
    except RecordError as exc:
        records.message.emit(f"The earlier study could not be read: {exc}")
        return None
    dialog = CompareDialog(previous_record, record, output=records.output, parent=parent)
    dialog.show()
    return dialog
