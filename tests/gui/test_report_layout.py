"""Report layout: neither a tall film nor many findings may push the findings and the disclaimer off
the first page; measurements are drawn on the radiograph."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QSizeF
from PySide6.QtGui import QColor, QImage, QPageLayout, QPdfWriter

from desktop.core.measurement import Angle, Distance
from desktop.core.records import SQLiteRecordStore
from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.report.content import report_content
from desktop.ui.report.document import ReportImages, build_document, build_fitted_document, disclaimer_page
from desktop.ui.report.images import draw_measurements
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


def test_measurements_are_drawn_numbered_on_the_radiograph(qapp) -> None:
    picture = QImage(200, 100, QImage.Format.Format_RGB32)
    picture.fill(0)
    lines = (Distance((100.0, 50.0), (300.0, 50.0)),)  # image pixels of a 400 x 200 image
    draw_measurements(picture, lines, image_shape=(200, 400), spacing_mm=(0.5, 0.5))
    row = [QColor(picture.pixel(x, 25)).red() for x in range(200)]
    assert min(row[55:95]) > 200  # the line, halved like the image: x 50 to 150 on the picture
    assert max(row[5:40]) == 0  # nothing before its start
    untouched = QImage(picture)
    draw_measurements(untouched, (), image_shape=(200, 400), spacing_mm=None)
    assert untouched == picture  # no measurements: the picture is left alone
    # An angle draws both of its lines.
    angled = QImage(200, 100, QImage.Format.Format_RGB32)
    angled.fill(0)
    flat, upright = Distance((20.0, 100.0), (160.0, 100.0)), Distance((60.0, 20.0), (60.0, 180.0))
    draw_measurements(angled, (Angle(flat, upright),), image_shape=(200, 400), spacing_mm=None)
    assert min(QColor(angled.pixel(x, 50)).red() for x in range(36, 75)) > 200  # right of the crossing
    assert min(QColor(angled.pixel(30, y)).red() for y in range(56, 88)) > 200  # below it and its label


def test_pictures_shrink_until_two_knees_findings_and_warnings_fit_on_the_first_page(qapp, tmp_path: Path) -> None:
    warning = "this image is unlike the images this model was fitted on; its answer may be unreliable"
    knees = [replace(knee_prediction(), region_side=side, warnings=(warning,)) for side in ("image_left", "image_right")]
    store = SQLiteRecordStore.open(tmp_path / "data", clock=lambda: datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    record = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(*knees, *knees),
                                         measurements=(Distance((1.0, 1.0), (9.0, 9.0)),), warnings=(warning,) * 2))
    store.close()
    content = report_content(record, clinic=ClinicSettings(name="Clinic"), generated_at=datetime(2024, 3, 5, 9, 15))
    writer = QPdfWriter(str(tmp_path / "r.pdf"))
    writer.setResolution(PDF_RESOLUTION)
    page_width_mm = writer.pageLayout().paintRect(QPageLayout.Unit.Millimeter).width()
    page = QSizeF(writer.width(), writer.height())
    square = QImage(800, 800, QImage.Format.Format_Grayscale8)
    square.fill(128)
    images = ReportImages(radiograph=square, overlay=square)
    full_size = build_document(content, images, device=writer, page_width_mm=page_width_mm)
    full_size.setPageSize(page)
    assert disclaimer_page(full_size, content) == 2  # at the largest pictures it would not fit
    fitted = build_fitted_document(content, images, device=writer, page_width_mm=page_width_mm, page_size=page)
    assert disclaimer_page(fitted, content) == 1
