"""The report as a ``QTextDocument``: escaped HTML from :class:`ReportContent`, plus its pictures.

Layout is in the paint device's own pixels (the document's layout is given the PDF writer
or the printer), so point sizes and millimetre widths come out the same on paper whatever
the screen's DPI.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from PySide6.QtCore import QSizeF, QUrl
from PySide6.QtGui import QFont, QImage, QPaintDevice, QTextDocument

from desktop import paths
from desktop.ui.report.content import ReportContent
from desktop.ui.report.fonts import (
    REPORT_FAMILIES,
    css_font_family,
    register_bundled_fonts,
)

__all__ = ["ReportImages", "build_document", "build_fitted_document", "disclaimer_page"]

log = logging.getLogger(__name__)

_STYLE_FILE = ("report", "report.css")
_LOGO_HEIGHT_MM = 16.0
_IMAGE_GAP_MM = 4.0
# A tall film drawn at full column width would fill the first page and push the findings and
# the disclaimer, which belong on it, over to the next one. When warnings, two joints' findings
# or measurements still push them over, the pictures shrink in these steps until they fit.
_IMAGE_MAX_HEIGHTS_MM = (100.0, 85.0, 70.0, 55.0)
_HTML_DPI = 96.0


@dataclass(frozen=True)
class ReportImages:
    radiograph: QImage
    overlay: QImage | None = None  # None: no heat map for this study
    logo: QImage | None = None


def _style_sheet() -> str:
    path = paths.resources_dir().joinpath(*_STYLE_FILE)
    try:
        css = path.read_text(encoding="utf-8")
    except OSError:
        log.warning("report style sheet %s missing; using plain defaults", path)
        css = ""
    return f"body {{ font-family: {css_font_family()}; }}\n{css}"


def _e(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")


def _rows(rows: tuple[tuple[str, str], ...], columns: int = 2) -> str:
    """Label/value pairs laid out ``columns`` pairs per line."""
    cells = [f'<td class="label" width="14%">{_e(k)}</td><td width="{int(72 / columns)}%"><b>{_e(v)}</b></td>' for k, v in rows]
    lines = ["".join(cells[i:i + columns]) for i in range(0, len(cells), columns)]
    return '<table width="100%" cellspacing="0" cellpadding="2">' + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>"


def _header(content: ReportContent, logo_html: str) -> str:
    clinic = f'<span class="clinic">{_e(content.clinic_name)}</span><br/>' if content.clinic_name else ""
    address = "<br/>".join(_e(line) for line in content.clinic_address)
    right = (f'<p align="right">{clinic}<span class="muted">{address}</span></p>')
    return (f'<table width="100%" cellspacing="0" cellpadding="0"><tr><td valign="middle">{logo_html}</td>'
            f'<td valign="middle" align="right">{right}</td></tr></table>'
            f'<h1>X-ray report</h1><p class="muted">Report {_e(content.report_id)} \u00b7 study saved '
            f'{_e(content.saved_at)} \u00b7 printed {_e(content.generated_at)}</p>')


def _findings(content: ReportContent) -> str:
    if not content.findings:
        return "<p>No model analysed this study.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("Model", "Result", "Probability", "Decision rule", "Version"))
    body = []
    joint = ""
    for row in content.findings:
        if row.joint and row.joint != joint:
            # One heading row per knee joint: its grades must never be read as the other knee's.
            body.append(f'<tr><td colspan="5" class="joint"><b>{_e(row.joint)}</b></td></tr>')
        joint = row.joint
        model = f'<span class="derived">\u2003\u2013 {_e(row.model)}</span>' if row.derived else _e(row.model)
        body.append(f'<tr><td>{model}</td><td class="result">{_e(row.result)}</td><td>{_e(row.probability)}</td>'
                    f'<td>{_e(row.threshold)}</td><td>{_e(row.version)}</td></tr>')
    return ('<table class="findings" width="100%" border="1" cellspacing="0" cellpadding="3" '
            f'style="border-collapse: collapse;"><tr>{head}</tr>{"".join(body)}</table>')


def _warnings(content: ReportContent) -> str:
    """The body-part warnings, boxed like the disclaimer: a reader must see them before the table."""
    if not content.warnings:
        return ""
    lines = "<br/>".join(f"Warning: {_e(w)}" for w in content.warnings)
    return (f'<table width="100%" cellpadding="5" cellspacing="0" style="margin-bottom: 4pt;"><tr>'
            f'<td class="warning">{lines}</td></tr></table>')


def _pictures(content: ReportContent, images: ReportImages, width_px: int, gap_px: int) -> str:
    side = f'<img src="report://overlay" width="{width_px}"/>' if images.overlay is not None else ""
    caption = _e(content.heatmap_caption)
    # An explicit gap column: Qt sizes 50% columns by their content and would butt the pictures.
    # The table is as wide as the pictures and centred, so shrunk pictures stay side by side.
    return (f'<table width="{2 * width_px + gap_px}" align="center" cellspacing="0" cellpadding="0" '
            'style="margin-top: 4pt;"><tr>'
            f'<td width="{width_px}" valign="top"><img src="report://radiograph" width="{width_px}"/></td>'
            f'<td width="{gap_px}"></td><td width="{width_px}" valign="top">{side}</td></tr>'
            f'<tr><td class="caption">Radiograph (default window)</td><td></td><td class="caption">{caption}</td></tr></table>')


def _models(content: ReportContent) -> str:
    parts = []
    for note in content.model_notes:
        limits = "".join(f"<li>{_e(line)}</li>" for line in note.limits)
        parts.append(f"<p><b>{_e(note.title)}.</b> {_e(note.performance)}</p>"
                     + (f'<ul class="small" style="margin-top: 0pt;">{limits}</ul>' if limits else ""))
    return "".join(parts) or "<p>No model was used.</p>"


def _signature(content: ReportContent) -> str:
    doctor = _e(content.doctor_name) if content.doctor_name else "&nbsp;" * 40
    return ('<table class="signature" width="100%" cellspacing="0" cellpadding="4" style="margin-top: 14pt;"><tr>'
            f'<td width="40%">Doctor: <b>{doctor}</b></td>'
            '<td width="35%">Signature: ______________________</td>'
            '<td width="25%">Date: ______________</td></tr></table>')


def disclaimer_page(doc: QTextDocument, content: ReportContent) -> int:
    """The page (1-based) on which the disclaimer under the findings ends, at the document's
    page size."""
    block = doc.begin()
    while block.isValid() and block.text() != content.disclaimer:
        block = block.next()
    if not block.isValid():
        return 1
    rect = doc.documentLayout().blockBoundingRect(block)
    return int(rect.bottom() // doc.pageSize().height()) + 1


def build_fitted_document(content: ReportContent, images: ReportImages, *, device: QPaintDevice,
                          page_width_mm: float, page_size: QSizeF) -> QTextDocument:
    """:func:`build_document` with the largest pictures that keep the findings and the
    disclaimer on the first page (the smallest pictures when none does)."""
    for height_mm in _IMAGE_MAX_HEIGHTS_MM:
        doc = build_document(content, images, device=device, page_width_mm=page_width_mm, picture_max_height_mm=height_mm)
        doc.setPageSize(page_size)
        if disclaimer_page(doc, content) == 1:
            break
    return doc


def build_document(content: ReportContent, images: ReportImages, *, device: QPaintDevice, page_width_mm: float,
                   picture_max_height_mm: float = _IMAGE_MAX_HEIGHTS_MM[0]) -> QTextDocument:
    """Lay the report out for ``device`` (a ``QPdfWriter`` or ``QPrinter``)."""
    register_bundled_fonts()
    # Qt scales <img> sizes by device DPI / 96 itself, so HTML widths are in 96-dpi pixels.
    px_per_mm = _HTML_DPI / 25.4
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(device)
    font = QFont()
    font.setFamilies(list(REPORT_FAMILIES))
    font.setPointSizeF(9.5)
    doc.setDefaultFont(font)
    doc.setDefaultStyleSheet(_style_sheet())
    column_px = int((page_width_mm - _IMAGE_GAP_MM) / 2 * px_per_mm)
    height_per_width = images.radiograph.height() / max(images.radiograph.width(), 1)
    picture_px = min(column_px, int(picture_max_height_mm * px_per_mm / max(height_per_width, 1e-6)))
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("report://radiograph"), images.radiograph)
    if images.overlay is not None:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("report://overlay"), images.overlay)
    logo_html = ""
    if images.logo is not None and not images.logo.isNull():
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("report://logo"), images.logo)
        logo_px = int(_LOGO_HEIGHT_MM * px_per_mm)
        logo_w = int(images.logo.width() * logo_px / max(images.logo.height(), 1))
        logo_html = f'<img src="report://logo" height="{logo_px}" width="{logo_w}"/>'
    sections = [
        _header(content, logo_html),
        "<h2>Patient</h2>", _rows(content.patient_rows),
        "<h2>Study</h2>", _rows(content.study_rows),
        _pictures(content, images, picture_px, int(_IMAGE_GAP_MM * px_per_mm)),
        "<h2>Findings</h2>", _warnings(content), _findings(content),
        # Right under the findings, on the first page: the reader must not miss it.
        (f'<table width="100%" cellpadding="5" cellspacing="0" style="margin-top: 5pt;"><tr>'
         f'<td class="disclaimer">{_e(content.disclaimer)}</td></tr></table>'),
    ]
    if content.risk:
        sections += ["<h2>Osteoporosis risk from patient data</h2>", "".join(f"<p>{_e(line)}</p>" for line in content.risk)]
    sections += [
        "<h2>Doctor's notes</h2>", f"<p>{_e(content.notes) or '<i>None.</i>'}</p>",
        "<h2>Impression</h2>", f'<p class="impression">{_e(content.impression) or "<i>None recorded.</i>"}</p>',
        _signature(content),
        "<h2>About the models</h2>", _models(content),
    ]
    doc.setHtml(f"<html><body>{''.join(sections)}</body></html>")
    doc.setDocumentMargin(0)
    return doc
