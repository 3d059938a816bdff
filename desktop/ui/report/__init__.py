"""The PDF / printed report: wording (:mod:`.content`), layout (:mod:`.document`), output (:mod:`.render`)."""

from __future__ import annotations

from desktop.ui.report.fonts import register_bundled_fonts
from desktop.ui.report.render import page_size, print_study_report, write_study_pdf

__all__ = ["page_size", "print_study_report", "register_bundled_fonts", "write_study_pdf"]
