"""The reports of many saved studies at once, as PDFs in one folder (the end of a batch: for the
referring doctors, a USB stick, the printer queue).

Each report is the same PDF File > Save Report as PDF writes, named by its report ID, read from
the records (never from the window). The work stays on the GUI thread, as every PDF is, but a
progress dialog keeps the window painting between reports and can stop the run; a study that
cannot be read or written is named in the result and the others still get their report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from desktop.core.imaging import ImageLoadError
from desktop.core.records import RecordError
from desktop.core.records.image_archive import load_archived_image
from desktop.ui.formatting import counted

if TYPE_CHECKING:
    from collections.abc import Sequence

    from desktop.core.records import RecordStore
    from desktop.ui.clinic_settings import ClinicSettings

__all__ = ["BatchResult", "write_reports"]

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one sentence per study left out
    cancelled: bool = False

    def summary(self, folder: Path) -> str:
        text = f"{counted(len(self.written), 'report')} saved to {folder}"
        if self.cancelled:
            text += " before the run was stopped"
        if self.problems:
            text += f"; {len(self.problems)} could not be written ({self.problems[0]}" + (", …)" if len(self.problems) > 1 else ")")
        return text + "."


def write_reports(store: RecordStore, study_keys: Sequence[int], folder: Path, *, clinic: ClinicSettings,
                  parent: QWidget | None = None) -> BatchResult:
    """Write the report of every study in ``study_keys`` to ``folder`` as ``<report ID>.pdf``."""
    from desktop.ui.report import write_study_pdf

    result = BatchResult()
    progress = QProgressDialog("Writing reports\u2026", "Stop", 0, len(study_keys), parent)
    progress.setWindowTitle("Save reports")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(300)  # a few reports finish before the dialog would show
    try:
        for done, key in enumerate(study_keys):
            progress.setValue(done)
            QApplication.processEvents()
            if progress.wasCanceled():
                result.cancelled = True
                break
            try:
                record = store.get_study(key)
                target = folder / f"{record.report_id}.pdf"
                write_study_pdf(record, load_archived_image(record).pixels, target, clinic=clinic)
            except (RecordError, ImageLoadError, OSError) as exc:
                log.warning("report of study %s not written: %s", key, exc)
                result.problems.append(f"study {key}: {exc}")
                continue
            result.written.append(target)
        progress.setValue(len(study_keys))
    finally:
        progress.close()
    return result
