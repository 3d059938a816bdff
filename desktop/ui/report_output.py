"""Where a report goes: asks for the PDF's file name or sets up the printer, and remembers
the folder PDFs were last saved in. Shared by the study report and the follow-up comparison,
so both ask the same way, land in the same folder and use the clinic's page size."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QSettings

from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.prompts import Prompts

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter
    from PySide6.QtWidgets import QWidget

__all__ = ["ReportOutput"]

_REPORT_DIR_KEY = "report/last_folder"


class ReportOutput:
    def __init__(self, settings: QSettings, prompts: Prompts, clinic: Callable[[], ClinicSettings]) -> None:
        self._settings = settings
        self.prompts = prompts
        self.clinic = clinic

    def save_pdf(self, parent: QWidget | None, caption: str, file_name: str,
                 write: Callable[[Path, ClinicSettings], object], *, path: str | None = None) -> Path | None:
        """Ask where (unless ``path`` is given), then ``write(target, clinic)``; None when the
        user cancels. ``write``'s errors reach the caller, which says what failed."""
        if path is None:
            folder = str(self._settings.value(_REPORT_DIR_KEY, "") or Path.home())
            path = self.prompts.save_path(parent, caption, str(Path(folder) / file_name), "PDF (*.pdf)")
            if not path:
                return None
        target = Path(path) if Path(path).suffix.lower() == ".pdf" else Path(f"{path}.pdf")
        write(target, self.clinic())
        self._settings.setValue(_REPORT_DIR_KEY, str(target.parent))
        return target

    def print(self, parent: QWidget | None, write: Callable[[QPrinter, ClinicSettings], int]) -> int | None:
        """Show the print dialog on the clinic's page size, then ``write(printer, clinic)``;
        the page count, or None when the user cancels."""
        from PySide6.QtPrintSupport import QPrinter

        from desktop.ui.report import page_size

        clinic = self.clinic()
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageSize(page_size(clinic.page_size))
        if not self.prompts.print_setup(parent, printer):
            return None
        return write(printer, clinic)
