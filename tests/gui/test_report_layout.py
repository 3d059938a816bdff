"""Report layout: a tall film must not push the findings off the first page."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QSizeF
from PySide6.QtGui import QImage, QPageLayout, QPdfWriter

from desktop.core.records import SQLiteRecordStore
from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.report.content import report_content
from desktop.ui.report.document import ReportImages, build_document
from desktop.ui.report.render import PDF_RESOLUTION
from tests.fixtures.records import knee_prediction, make_draft, write_test_png


def _findings_page(tmp_path: Path, picture: QImage) -> int:
    store = SQLiteRecordStore.open(tmp_path / "data", clock=lambda: datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    record = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(knee_prediction(),), doctor_name=""))
    store.close()
    content = report_content(record, clinic=ClinicSettings(name="Clinic"), generated_at=datetime(2024, 3, 5, 9, 15))
    writer = QPdfWriter(str(tmp_path / "r.pdf"))
    writer.setResolution(PDF_RESOLUTION)
    page_width_mm = writer.pageLayout().paintRect(QPageLayout.Unit.Millimeter).width()
    doc = build_document(content, ReportImages(radiograph=picture, overlay=picture), device=writer, page_width_mm=page_width_mm)
    doc.setPageSize(QSizeF(writer.width(), writer.height()))
    block = doc.begin()
    while block.isValid() and block.text() != "Findings":
        block = block.next()
    assert block.isValid()
    return int(doc.documentLayout().blockBoundingRect(block).top() // writer.height()) + 1


def test_the_findings_stay_on_the_first_page_for_a_tall_and_a_wide_film(qapp, tmp_path: Path) -> None:
    for name, (width, height) in {"tall": (300, 1200), "wide": (1200, 400)}.items():
        picture = QImage(width, height, QImage.Format.Format_Grayscale8)
        picture.fill(128)
        assert _findings_page(tmp_path / name, picture) == 1, name
