"""The follow-up comparison on paper: two saved studies of a patient, earlier beside later.

The same page, fonts, clinic header, footer and disclaimer as the study report. Each
radiograph carries its joint boxes and measurements as in its own report; the findings table
pairs every finding earlier with later (see :mod:`desktop.ui.study_comparison`) and marks the
changed ones. The study reports stay the record of each visit; this page is for the follow-up.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSizeF
from PySide6.QtGui import QImage, QPagedPaintDevice, QTextDocument

from desktop.core.measurement import measurements_summary
from desktop.ui.formatting import counted, study_type_name
from desktop.ui.report.content import report_content
from desktop.ui.report.document import (
    add_picture,
    clinic_header,
    disclaimer_box,
    findings_table,
    html_text,
    logo_html,
    model_name_html,
    new_document,
    pairs_table,
    picture_pair,
    picture_width_px,
)
from desktop.ui.report.render import annotated_radiograph, clinic_logo, paint_pages, prepare_printer, write_pdf
from desktop.ui.study_comparison import (
    ComparedFinding, days_apart, different_patients, findings_headers, result_text,
)

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter

    from desktop.core.records import StudyRecord
    from desktop.ui.clinic_settings import ClinicSettings

__all__ = ["comparison_title", "print_comparison", "write_comparison_pdf"]

_PICTURE_MAX_HEIGHT_MM = 95.0


def comparison_title(earlier: StudyRecord, later: StudyRecord) -> str:
    return f"comparison of {earlier.report_id} and {later.report_id}"


def _picture(study: StudyRecord, pixels: np.ndarray | None) -> QImage:
    """The radiograph with its joints and measurements, or a grey box when it could not be read."""
    if pixels is None:
        blank = QImage(400, 400, QImage.Format.Format_Grayscale8)
        blank.fill(200)
        return blank
    return annotated_radiograph(study, pixels)


def _caption(role: str, study: StudyRecord, pixels: np.ndarray | None) -> str:
    text = f"{role}: {study.created_at:%Y-%m-%d} \u00b7 {study.report_id} \u00b7 {study.original_file_name}"
    return text if pixels is not None else text + " (the archived image could not be read)"


def _findings_table(earlier: StudyRecord, later: StudyRecord, findings: tuple[ComparedFinding, ...]) -> str:
    if not findings:
        return "<p>No model analysed either study.</p>"
    rows = []
    for f in findings:
        later_cell = f"<b>{html_text(result_text(f.later))}</b>" if f.changed else html_text(result_text(f.later))
        rows.append(f"<tr><td>{html_text(f.where)}</td><td>{model_name_html(f.model, f.derived)}</td>"
                    f"<td>{html_text(result_text(f.earlier))}</td><td>{later_cell}</td>"
                    f"<td>{'<b>changed</b>' if f.changed else ''}</td></tr>")
    return findings_table(findings_headers(earlier, later), rows)


def comparison_document(earlier: StudyRecord, later: StudyRecord, findings: tuple[ComparedFinding, ...],
                        pixels: tuple[np.ndarray | None, np.ndarray | None], *, clinic: ClinicSettings,
                        generated_at: datetime, device: QPagedPaintDevice, page_width_mm: float) -> QTextDocument:
    """Lay the comparison out for ``device``; ``findings`` are ``compare_findings(earlier, later)``
    and ``pixels`` the (earlier, later) images."""
    later_content = report_content(later, clinic=clinic, generated_at=generated_at)
    doc = new_document(device)
    pictures = [_picture(earlier, pixels[0]), _picture(later, pixels[1])]
    for name, picture in zip(("earlier", "later"), pictures):
        add_picture(doc, name, picture)
    width_px = picture_width_px(pictures, page_width_mm=page_width_mm, max_height_mm=_PICTURE_MAX_HEIGHT_MM)
    days = days_apart(earlier, later)
    studies = []
    for role, study in (("Earlier", earlier), ("Later", later)):
        measured = measurements_summary(study.measurements, study.acquisition.pixel_spacing_mm)
        studies.append((f"{role} study", f"{study_type_name(study.body_part)}, saved {study.created_at:%Y-%m-%d %H:%M}"
                        + (f"; impression: {study.impression.strip()}" if study.impression.strip() else "")
                        + (f"; measurements: {measured}" if measured else "")))
    sections = [
        clinic_header(later_content.clinic_name, later_content.clinic_address, logo_html(doc, clinic_logo(clinic.logo_path))),
        "<h1>Follow-up comparison</h1>",
        f'<p class="muted">Comparison of {html_text(earlier.report_id)} and {html_text(later.report_id)} \u00b7 {counted(days, "day")} apart'
        f' \u00b7 printed {html_text(later_content.generated_at)}</p>',
        "<h2>Patient</h2>", pairs_table(later_content.patient_rows),
        "<h2>Studies</h2>", pairs_table(tuple(studies), columns=1),
        picture_pair("earlier", _caption("Earlier", earlier, pixels[0]), "later", _caption("Later", later, pixels[1]), width_px),
        "<h2>Findings, earlier and later</h2>", _findings_table(earlier, later, findings),
        disclaimer_box(later_content.disclaimer),
    ]
    if (warning := different_patients(earlier, later)) is not None:
        sections.insert(3, disclaimer_box(warning))
    doc.setHtml(f"<html><body>{''.join(sections)}</body></html>")
    doc.setDocumentMargin(0)
    return doc


def _paint(earlier: StudyRecord, later: StudyRecord, findings: tuple[ComparedFinding, ...],
           pixels: tuple[np.ndarray | None, np.ndarray | None], device: QPagedPaintDevice, *, clinic: ClinicSettings,
           generated_at: datetime | None) -> int:
    def layout(page_width_mm: float, body: QSizeF) -> QTextDocument:
        doc = comparison_document(earlier, later, findings, pixels, clinic=clinic,
                                  generated_at=generated_at or datetime.now().astimezone(), device=device,
                                  page_width_mm=page_width_mm)
        doc.setPageSize(body)
        return doc

    return paint_pages(device, layout, comparison_title(earlier, later))


def write_comparison_pdf(earlier: StudyRecord, later: StudyRecord, findings: tuple[ComparedFinding, ...],
                         pixels: tuple[np.ndarray | None, np.ndarray | None], path: str | os.PathLike[str], *,
                         clinic: ClinicSettings, generated_at: datetime | None = None) -> int:
    """The comparison of two studies, in time order (``in_time_order``), as a PDF at ``path``;
    ``pixels`` are their images (None where one could not be read). Returns the page count."""
    return write_pdf(path, title=f"XRayDesk {comparison_title(earlier, later)}", page=clinic.page_size,
                     paint=lambda writer: _paint(earlier, later, findings, pixels, writer, clinic=clinic,
                                                 generated_at=generated_at))


def print_comparison(earlier: StudyRecord, later: StudyRecord, findings: tuple[ComparedFinding, ...],
                     pixels: tuple[np.ndarray | None, np.ndarray | None], printer: QPrinter, *, clinic: ClinicSettings) -> int:
    """Send the comparison (studies in time order) to a printer the user has already set up."""
    prepare_printer(printer, comparison_title(earlier, later))
    return _paint(earlier, later, findings, pixels, printer, clinic=clinic, generated_at=None)
