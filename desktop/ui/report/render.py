"""Paint the report onto a PDF file or a printer, page by page, with a footer on every page.

The footer carries the report id and "page i of n", so a loose page can always be matched to
its report. A PDF is written to a temporary name and renamed when complete: a failed render
never leaves half a report with a patient's name on disk.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)

from desktop import __version__
from desktop.core.records.values import RecordError
from desktop.ui.report.content import ReportContent, explained_predictions, report_content
from desktop.ui.report.document import ReportImages, build_fitted_document
from desktop.ui.report.fonts import REPORT_FAMILIES
from desktop.ui.report.images import draw_joint_boxes, draw_measurements, overlay_image, radiograph_image

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter

    from desktop.core.records.values import StudyRecord
    from desktop.ui.clinic_settings import ClinicSettings

__all__ = [
    "PDF_RESOLUTION", "annotated_radiograph", "clinic_logo", "page_size", "paint_pages", "paint_report", "prepare_printer",
    "print_study_report", "report_images", "write_pdf", "write_study_pdf",
]

log = logging.getLogger(__name__)

PDF_RESOLUTION = 300  # layout units per inch; text is vector, so this only sets the layout grid
_MARGINS_MM = QMarginsF(15, 14, 15, 12)
_FOOTER_MM = 7.0
_PAGE_SIZES = {"A4": QPageSize.PageSizeId.A4, "Letter": QPageSize.PageSizeId.Letter}


def page_size(name: str) -> QPageSize:
    return QPageSize(_PAGE_SIZES.get(name, QPageSize.PageSizeId.A4))


def clinic_logo(logo_path: str) -> QImage | None:
    """The clinic's logo, or None without one (or when it cannot be read: the report goes on)."""
    logo = QImage(logo_path) if logo_path else None
    if logo is not None and logo.isNull():
        log.warning("clinic logo %s cannot be read; the report goes without it", logo_path)
        return None
    return logo


def annotated_radiograph(study: StudyRecord, pixels: np.ndarray) -> QImage:
    """The radiograph at report resolution with the study's knee joints outlined and its
    measurements drawn, numbered."""
    radiograph = draw_joint_boxes(radiograph_image(pixels), study.knee_joints or (), image_shape=pixels.shape)
    return draw_measurements(radiograph, study.measurements, image_shape=pixels.shape,
                             spacing_mm=study.acquisition.pixel_spacing_mm)


def report_images(study: StudyRecord, pixels: np.ndarray, *, logo_path: str = "") -> ReportImages:
    """The radiograph, its heat-map overlay (first model with a map, on every joint it read)
    and the clinic logo; located knee joints outlined on both pictures, measurements on the first."""
    explained = explained_predictions(study)
    logo = clinic_logo(logo_path)
    joints = study.knee_joints or ()
    radiograph = annotated_radiograph(study, pixels)
    overlay = None
    if explained:
        overlay = overlay_image(pixels, [(p.heatmap, p.region) for p in explained])
        draw_joint_boxes(overlay, joints, image_shape=pixels.shape)
    return ReportImages(radiograph=radiograph, overlay=overlay, logo=logo)


def paint_pages(device: QPagedPaintDevice, layout: Callable[[float, QSizeF], QTextDocument], footer: str) -> int:
    """Paint the document ``layout(page width in mm, body size in device pixels)`` lays out,
    page by page, with ``footer`` and "Page i of n" under each; return the page count."""
    px_per_mm = device.logicalDpiX() / 25.4
    page_width_mm = device.pageLayout().paintRect(QPageLayout.Unit.Millimeter).width()
    width, height = device.width(), device.height()
    body_height = height - int(_FOOTER_MM * px_per_mm)
    doc = layout(page_width_mm, QSizeF(width, body_height))
    pages = doc.pageCount()
    footer_font = QFont()
    footer_font.setFamilies(list(REPORT_FAMILIES))
    footer_font.setPointSizeF(7.5)
    painter = QPainter()
    if not painter.begin(device):
        raise RecordError("The report could not be started on this printer or file.")
    try:
        for page in range(pages):
            if page and not device.newPage():
                raise RecordError("The printer refused a new page.")
            painter.save()
            painter.translate(0, -page * body_height)
            doc.drawContents(painter, QRectF(0, page * body_height, width, body_height))
            painter.restore()
            painter.setFont(footer_font)
            painter.setPen(QColor("#6a6a6a"))
            area = QRectF(0, body_height, width, height - body_height)
            painter.drawText(area, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, f"XRayDesk {__version__} \u00b7 {footer}")
            painter.drawText(area, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, f"Page {page + 1} of {pages}")
    finally:
        painter.end()
    return pages


def paint_report(content: ReportContent, images: ReportImages, device: QPagedPaintDevice) -> int:
    """Lay out and paint every page of a study's report on ``device``; return the page count."""
    def layout(page_width_mm: float, body: QSizeF) -> QTextDocument:
        return build_fitted_document(content, images, device=device, page_width_mm=page_width_mm, page_size=body)

    return paint_pages(device, layout, f"report {content.report_id}")


def _configure(device: QPagedPaintDevice, page: str) -> None:
    device.setPageSize(page_size(page))
    device.setPageMargins(_MARGINS_MM, QPageLayout.Unit.Millimeter)


def prepare_printer(printer: QPrinter, title: str) -> None:
    """Name the print job and give it the report margins; the page size is the user's choice."""
    printer.setDocName(f"XRayDesk {title}")
    printer.setPageMargins(_MARGINS_MM, QPageLayout.Unit.Millimeter)


def write_pdf(path: str | os.PathLike[str], *, title: str, page: str, paint: Callable[[QPdfWriter], int]) -> int:
    """Have ``paint`` fill a PDF at ``path`` (replaced only once complete); return its page count."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        writer = QPdfWriter(str(temp))
        writer.setResolution(PDF_RESOLUTION)
        _configure(writer, page)
        # The title is in the PDF's metadata, readable without decompressing any page.
        writer.setTitle(title)
        writer.setCreator(f"XRayDesk {__version__}")
        pages = paint(writer)
        del writer  # closes the file before it is renamed
        os.replace(temp, target)
    except OSError as exc:
        raise RecordError(f"Could not write {target.name}: {exc.strerror or exc}.") from exc
    finally:
        temp.unlink(missing_ok=True)
    log.info("wrote %s (%d pages) to %s", title, pages, target)
    return pages


def write_study_pdf(
    study: StudyRecord,
    pixels: np.ndarray,
    path: str | os.PathLike[str],
    *,
    clinic: ClinicSettings,
    generated_at: datetime | None = None,
) -> int:
    """Render ``study``'s report to ``path`` (replaced only once complete); return the page count."""
    content = report_content(study, clinic=clinic, generated_at=generated_at or datetime.now().astimezone())
    images = report_images(study, pixels, logo_path=clinic.logo_path)
    return write_pdf(path, title=f"XRayDesk report {study.report_id}", page=clinic.page_size,
                     paint=lambda writer: paint_report(content, images, writer))


def print_study_report(
    study: StudyRecord,
    pixels: np.ndarray,
    printer: QPrinter,
    *,
    clinic: ClinicSettings,
    generated_at: datetime | None = None,
) -> int:
    """Send ``study``'s report to a printer the user has already set up (page size included)."""
    content = report_content(study, clinic=clinic, generated_at=generated_at or datetime.now().astimezone())
    prepare_printer(printer, f"report {study.report_id}")
    return paint_report(content, report_images(study, pixels, logo_path=clinic.logo_path), printer)
