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

__all__ = [
    "HTML_PX_PER_MM", "ReportImages", "add_picture", "build_document", "build_fitted_document", "clinic_header",
    "disclaimer_box", "disclaimer_page", "findings_table", "html_text", "logo_html", "model_name_html", "new_document",
    "pairs_table", "picture_pair", "picture_width_px",
]

log = logging.getLogger(__name__)

_STYLE_FILE = ("report", "report.css")
_LOGO_HEIGHT_MM = 16.0
_IMAGE_GAP_MM = 4.0
# A tall film drawn at full column width would fill the first page and push the findings and
# the disclaimer, which belong on it, over to the next one. When warnings, two joints' findings
# or measurements still push them over, the pictures shrink in these steps until they fit.
_IMAGE_MAX_HEIGHTS_MM = (100.0, 85.0, 70.0, 55.0)
# Qt scales <img> sizes by device DPI / 96 itself, so HTML widths are in 96-dpi pixels.
HTML_PX_PER_MM = 96.0 / 25.4


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


def html_text(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br/>")


def pairs_table(rows: tuple[tuple[str, str], ...], columns: int = 2) -> str:
    """Label/value pairs laid out ``columns`` pairs per line."""
    cells = [f'<td class="label" width="14%">{html_text(k)}</td><td width="{int(72 / columns)}%"><b>{html_text(v)}</b></td>' for k, v in rows]
    lines = ["".join(cells[i:i + columns]) for i in range(0, len(cells), columns)]
    return '<table width="100%" cellspacing="0" cellpadding="2">' + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>"


def clinic_header(clinic_name: str, clinic_address: tuple[str, ...], logo_html: str) -> str:
    """The logo on the left, the clinic's name and address on the right."""
    clinic = f'<span class="clinic">{html_text(clinic_name)}</span><br/>' if clinic_name else ""
    address = "<br/>".join(html_text(line) for line in clinic_address)
    right = (f'<p align="right">{clinic}<span class="muted">{address}</span></p>')
    return (f'<table width="100%" cellspacing="0" cellpadding="0"><tr><td valign="middle">{logo_html}</td>'
            f'<td valign="middle" align="right">{right}</td></tr></table>')


def _header(content: ReportContent, logo_html: str) -> str:
    return (clinic_header(content.clinic_name, content.clinic_address, logo_html)
            + f'<h1>X-ray report</h1><p class="muted">Report {html_text(content.report_id)} \u00b7 study saved '
            f'{html_text(content.saved_at)} \u00b7 printed {html_text(content.generated_at)}</p>')


def disclaimer_box(text: str) -> str:
    return (f'<table width="100%" cellpadding="5" cellspacing="0" style="margin-top: 5pt;"><tr>'
            f'<td class="disclaimer">{html_text(text)}</td></tr></table>')


def model_name_html(name: str, derived: bool) -> str:
    """A finding's model name; a derived output (OA from the KL grade) indented under its model."""
    return f'<span class="derived">\u2003\u2013 {html_text(name)}</span>' if derived else html_text(name)


def findings_table(headers: tuple[str, ...], rows: list[str]) -> str:
    """The bordered findings table of the report and the comparison page; ``rows`` are <tr> HTML."""
    head = "".join(f"<th>{html_text(h)}</th>" for h in headers)
    return ('<table class="findings" width="100%" border="1" cellspacing="0" cellpadding="3" '
            f'style="border-collapse: collapse;"><tr>{head}</tr>{"".join(rows)}</table>')


def _findings(content: ReportContent) -> str:
    if not content.findings:
        return "<p>No model analysed this study.</p>"
    body = []
    joint = ""
    for row in content.findings:
        if row.joint and row.joint != joint:
            # One heading row per knee joint: its grades must never be read as the other knee's.
            body.append(f'<tr><td colspan="5" class="joint"><b>{html_text(row.joint)}</b></td></tr>')
        joint = row.joint
        body.append(f'<tr><td>{model_name_html(row.model, row.derived)}</td><td class="result">{html_text(row.result)}</td>'
                    f'<td>{html_text(row.probability)}</td><td>{html_text(row.threshold)}</td><td>{html_text(row.version)}</td></tr>')
    return findings_table(("Model", "Result", "Probability", "Decision rule", "Version"), body)


def _warnings(content: ReportContent) -> str:
    """The body-part warnings, boxed like the disclaimer: a reader must see them before the table."""
    if not content.warnings:
        return ""
    lines = "<br/>".join(f"Warning: {html_text(w)}" for w in content.warnings)
    return (f'<table width="100%" cellpadding="5" cellspacing="0" style="margin-bottom: 4pt;"><tr>'
            f'<td class="warning">{lines}</td></tr></table>')


def picture_pair(left: str, left_caption: str, right: str | None, right_caption: str, width_px: int) -> str:
    """Two pictures (document resource names) side by side with their captions; ``right``
    None leaves its column empty but for the caption."""
    gap_px = int(_IMAGE_GAP_MM * HTML_PX_PER_MM)
    right_picture = f'<img src="report://{right}" width="{width_px}"/>' if right is not None else ""
    # An explicit gap column: Qt sizes 50% columns by their content and would butt the pictures.
    # The table is as wide as the pictures and centred, so shrunk pictures stay side by side.
    return (f'<table width="{2 * width_px + gap_px}" align="center" cellspacing="0" cellpadding="0" '
            'style="margin-top: 4pt;"><tr>'
            f'<td width="{width_px}" valign="top"><img src="report://{left}" width="{width_px}"/></td>'
            f'<td width="{gap_px}"></td><td width="{width_px}" valign="top">{right_picture}</td></tr>'
            f'<tr><td class="caption">{html_text(left_caption)}</td><td></td>'
            f'<td class="caption">{html_text(right_caption)}</td></tr></table>')


def picture_width_px(pictures: list[QImage], *, page_width_mm: float, max_height_mm: float) -> int:
    """The width (96-dpi HTML pixels) of each of two pictures side by side: half the page, or
    less so that the tallest stays within ``max_height_mm``."""
    column_px = int((page_width_mm - _IMAGE_GAP_MM) / 2 * HTML_PX_PER_MM)
    height_per_width = max(picture.height() / max(picture.width(), 1) for picture in pictures)
    return min(column_px, int(max_height_mm * HTML_PX_PER_MM / max(height_per_width, 1e-6)))


def add_picture(doc: QTextDocument, name: str, picture: QImage) -> None:
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"report://{name}"), picture)


def logo_html(doc: QTextDocument, logo: QImage | None) -> str:
    """The clinic logo added to ``doc``, as the header's <img> ("" without one)."""
    if logo is None or logo.isNull():
        return ""
    add_picture(doc, "logo", logo)
    height_px = int(_LOGO_HEIGHT_MM * HTML_PX_PER_MM)
    width_px = int(logo.width() * height_px / max(logo.height(), 1))
    return f'<img src="report://logo" height="{height_px}" width="{width_px}"/>'


def _models(content: ReportContent) -> str:
    parts = []
    for note in content.model_notes:
        limits = "".join(f"<li>{html_text(line)}</li>" for line in note.limits)
        parts.append(f"<p><b>{html_text(note.title)}.</b> {html_text(note.performance)}</p>"
                     + (f'<ul class="small" style="margin-top: 0pt;">{limits}</ul>' if limits else ""))
    return "".join(parts) or "<p>No model was used.</p>"


def _signature(content: ReportContent) -> str:
    doctor = html_text(content.doctor_name) if content.doctor_name else "&nbsp;" * 40
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


def new_document(device: QPaintDevice) -> QTextDocument:
    """An empty document laid out for ``device`` in the report's fonts and style sheet."""
    register_bundled_fonts()
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(device)
    font = QFont()
    font.setFamilies(list(REPORT_FAMILIES))
    font.setPointSizeF(9.5)
    doc.setDefaultFont(font)
    doc.setDefaultStyleSheet(_style_sheet())
    return doc


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
    doc = new_document(device)
    picture_px = picture_width_px([images.radiograph], page_width_mm=page_width_mm, max_height_mm=picture_max_height_mm)
    add_picture(doc, "radiograph", images.radiograph)
    if images.overlay is not None:
        add_picture(doc, "overlay", images.overlay)
    sections = [
        _header(content, logo_html(doc, images.logo)),
        "<h2>Patient</h2>", pairs_table(content.patient_rows),
        "<h2>Study</h2>", pairs_table(content.study_rows),
        picture_pair("radiograph", "Radiograph (default window)", "overlay" if images.overlay is not None else None,
                     content.heatmap_caption, picture_px),
        "<h2>Findings</h2>", _warnings(content), _findings(content),
        # Right under the findings, on the first page: the reader must not miss it.
        disclaimer_box(content.disclaimer),
    ]
    if content.risk:
        sections += ["<h2>Osteoporosis risk from patient data</h2>", "".join(f"<p>{html_text(line)}</p>" for line in content.risk)]
    sections += [
        "<h2>Doctor's notes</h2>", f"<p>{html_text(content.notes) or '<i>None.</i>'}</p>",
        "<h2>Impression</h2>", f'<p class="impression">{html_text(content.impression) or "<i>None recorded.</i>"}</p>',
        _signature(content),
        "<h2>About the models</h2>", _models(content),
    ]
    doc.setHtml(f"<html><body>{''.join(sections)}</body></html>")
    doc.setDocumentMargin(0)
    return doc
