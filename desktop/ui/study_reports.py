"""The open study's report: File > Save Report as PDF, Print Report and Copy Report as Text.

Every report matches a stored study, so each command first has the records controller save
the study when needed (:meth:`RecordsController.saved_for_report`); the report then reads that
record, never the window, and a PDF or a printout is always of the study as stored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.core.imaging import ImageLoadError
from desktop.core.records import RecordError, StudyRecord
from desktop.core.records.image_archive import load_archived_image
from desktop.ui.formatting import counted

if TYPE_CHECKING:
    from desktop.ui.controller import StudyController
    from desktop.ui.records_controller import RecordsController

__all__ = ["StudyReports"]

log = logging.getLogger(__name__)


class StudyReports:
    """Writes, prints or copies the report of the open study; messages go out through the
    records controller's ``message`` and ``failed`` signals, like its own."""

    def __init__(self, records: RecordsController, study: StudyController) -> None:
        self._records = records
        self._study = study

    def _fail(self, text: str) -> None:
        log.warning("%s", text)
        self._records.failed.emit(text)

    def _pixels_for(self, record: StudyRecord) -> np.ndarray:
        image = self._study.image
        if image is not None and image.sha256 == record.image_sha256:
            return image.pixels
        return load_archived_image(record).pixels  # never a report on an image the study was not made on

    def export_pdf(self, path: str | None = None) -> Path | None:
        """File > Save Report as PDF…: save the study if needed, ask where, write the PDF."""
        from desktop.ui.report import write_study_pdf

        records = self._records
        record = records.saved_for_report()
        if record is None:
            return None
        try:
            target = records.output.save_pdf(
                records.dialog_parent, "Save report as PDF", f"{record.report_id}.pdf",
                lambda target, clinic: write_study_pdf(record, self._pixels_for(record), target, clinic=clinic), path=path)
        except (RecordError, ImageLoadError) as exc:
            return self._fail(f"The report could not be written: {exc}")
        if target is not None:
            records.message.emit(f"Report {record.report_id} saved to {target}.")
        return target

    def copy_text(self) -> str | None:
        """File > Copy Report as Text: save the study if needed, put its report on the clipboard."""
        from PySide6.QtGui import QGuiApplication

        from desktop.ui.report.content import report_content
        from desktop.ui.report.plain_text import report_text

        records = self._records
        record = records.saved_for_report()
        if record is None:
            return None
        text = report_text(report_content(record, clinic=records.clinic(), generated_at=record.created_at))
        QGuiApplication.clipboard().setText(text)
        records.message.emit(f"Report {record.report_id} copied as text; paste it into the clinic's records.")
        return text

    def print(self) -> bool:
        """File > Print…: save the study if needed, show the print dialog, print."""
        from desktop.ui.report import print_study_report

        records = self._records
        record = records.saved_for_report()
        if record is None:
            return False
        try:
            pages = records.output.print(records.dialog_parent, lambda printer, clinic: print_study_report(
                record, self._pixels_for(record), printer, clinic=clinic))
        except (RecordError, ImageLoadError) as exc:
            self._fail(f"The report could not be printed: {exc}")
            return False
        if pages is None:
            return False
        records.message.emit(f"Report {record.report_id} sent to the printer ({counted(pages, 'page')}).")
        return True
