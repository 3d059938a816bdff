"""The PDF report: produced from a stored study, checked as bytes, as text and as pixels.

The byte-level checks need nothing but Python; the text and pixel checks use poppler's
``pdftotext`` / ``pdftoppm`` and are skipped only when those tools are absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop import paths
from desktop.core.imaging import load_image
from desktop.core.records import PatientDetails, SQLiteRecordStore, StudyQuery
from desktop.ui.clinic_settings import (
    ClinicSettings,
    import_logo,
    load_clinic_settings,
    save_clinic_settings,
)
from desktop.ui.report import write_study_pdf
from desktop.ui.settings_dialog import SettingsDialog
from tests.fixtures.records import make_draft
from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.gui.helpers import positive_image, print_to_pdf

SAMPLE = paths.samples_dir() / "chest_pneumonia_sample.jpeg"
NAMES = ("Иван Петров", "محمد علي", "राम शर्मा")
POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdftoppm) not installed")


def _risk() -> dict:
    return {"model_id": "osteoporosis_risk", "model_version": "1.0.0", "probability": 0.42, "label": "osteoporosis",
            "positive_label": "osteoporosis", "threshold": 0.35, "who_category": "osteopenia",
            "top_factors": ["Age 74 years: raises risk", "Weight 52 kg: raises risk"]}


@pytest.fixture()
def study(tmp_path: Path, qapp):
    store = SQLiteRecordStore.open(tmp_path / "records")
    image = load_image(SAMPLE)
    record = store.save_study(make_draft(
        SAMPLE, image.sha256, image_format="JPEG",
        patient=PatientDetails(name=" / ".join(NAMES), patient_id="P-0042", date_of_birth="1950-03-04", sex="female"),
        risk=_risk(), notes="Patchy consolidation, right lower zone.", impression="Right lower lobe pneumonia.",
        doctor_name="Dr. Amal Haddad",
    ))
    yield record, image.pixels
    store.close()


def _pdf_facts(data: bytes) -> tuple[int, str]:
    """(page count, title) read from the raw PDF, no external tool needed."""
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    match = re.search(rb"<dc:title>.*?<rdf:li[^>]*>(.*?)</rdf:li>", data, re.DOTALL)  # XMP metadata is plain text
    return pages, match.group(1).decode("utf-8") if match else ""


def _write(record, pixels, path: Path, **clinic: str) -> int:
    settings = ClinicSettings(name="Клиника «Здоровье»", address="12 Main Street\nSpringfield", **clinic)
    return write_study_pdf(record, pixels, path, clinic=settings, generated_at=datetime(2026, 1, 2, 10, 30))


def test_pdf_bytes_pages_and_report_id(study, tmp_path: Path) -> None:
    record, pixels = study
    target = tmp_path / "report.pdf"
    pages = _write(record, pixels, target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    found_pages, title = _pdf_facts(data)
    assert found_pages == pages == 2
    assert title == f"XRayDesk report {record.report_id}"
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+595", data), "A4 by default"
    assert len(data) < 3_000_000
    assert not list(tmp_path.glob(".*partial")), "no temporary file left behind"


def test_letter_page_size(study, tmp_path: Path) -> None:
    record, pixels = study
    target = tmp_path / "letter.pdf"
    _write(record, pixels, target, page_size="Letter")
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+612(\.0+)?\s+792", target.read_bytes())


def _text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True, timeout=60)
    # Arabic comes out as presentation forms with direction marks: compare in NFKC, without them.
    text = unicodedata.normalize("NFKC", out.stdout.decode("utf-8"))
    return re.sub("[\u200e\u200f\u202a-\u202e]", "", text)


@needs_poppler
def test_pdf_text_has_every_section(study, tmp_path: Path) -> None:
    record, pixels = study
    target = tmp_path / "report.pdf"
    _write(record, pixels, target)
    text = _text(target)
    squeezed = re.sub(r"\s+", "", text)
    assert record.report_id in text
    assert "Клиника «Здоровье»" in text and "Springfield" in text
    assert "Иван Петров" in text
    assert "محمدعلي" in squeezed  # shaped Arabic; pdftotext may split the joined letters
    assert "राम" in text
    assert "P-0042" in text and "1950-03-04" in text and "Female" in text
    for expected in ("Findings", "Tiny chest model", "PNEUMONIA", "93.0%", "1.0.0", "Tiny knee model",
                     "Osteoporosis risk from patient data", "42.0%", "Age 74 years: raises risk", "osteopenia",
                     "Patchy consolidation, right lower zone.", "Right lower lobe pneumonia.", "Dr. Amal Haddad",
                     "Signature", "Decision support only", "2026-01-02 10:30", "Page 1 of 2", "Page 2 of 2"):
        assert expected in text, expected
    assert re.search(r"On 787 held-out images .*right 96% of the time", re.sub(r"\s+", " ", text))
    assert "It is not validated for adults." in text


@needs_poppler
def test_pdf_renders_with_the_heat_map_in_colour(study, tmp_path: Path) -> None:
    record, pixels = study
    target = tmp_path / "report.pdf"
    _write(record, pixels, target)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(target), str(tmp_path / "page")], check=True, timeout=60)
    first = np.asarray(Image.open(tmp_path / "page-1.png").convert("RGB")).astype(int)
    assert first.std() > 20, "page 1 is blank"
    r, g, b = first[..., 0], first[..., 1], first[..., 2]
    warm = (r > 180) & (g < 140) & (b < 110)  # red/orange of the colour map
    cool = (b > 150) & (r < 110)  # blue/cyan of the colour map (the header text is too dark to count)
    assert warm.sum() > 200 and cool.sum() > 50, (warm.sum(), cool.sum())
    grey = (np.abs(r - g) < 6) & (np.abs(g - b) < 6) & (r > 40) & (r < 220)
    assert grey.sum() > 5000, "the plain radiograph is there too"


def test_report_from_the_window_saves_first_and_asks_where(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    script = ScriptedPrompts()
    app = make_records_app(qtbot, tiny_registry, settings, script)
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    app.window.panel.report.notes_edit.setPlainText("Note for the report.")
    script.paths.append(str(tmp_path / "out"))
    app.window.actions.save_pdf.trigger()
    record = app.records.record
    assert record is not None and record.notes == "Note for the report."  # saved before reporting
    assert script.asked[-1] == f"path: Save report as PDF: {record.report_id}.pdf"
    pdf = tmp_path / "out.pdf"
    assert _pdf_facts(pdf.read_bytes())[1] == f"XRayDesk report {record.report_id}"
    # A second export of an unchanged study reuses the stored version.
    script.paths.append(str(tmp_path / "again.pdf"))
    assert app.records.reports.export_pdf() == tmp_path / "again.pdf"
    assert app.records.record.key == record.key
    assert len(app.store.search_studies(StudyQuery())) == 1


def test_print_goes_through_the_print_dialog(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    script = ScriptedPrompts()
    app = make_records_app(qtbot, tiny_registry, settings, script)
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    assert not app.records.reports.print()  # dialog cancelled: nothing printed
    printed = tmp_path / "printed.pdf"
    script.printers.append(print_to_pdf(printed))
    app.window.actions.print_report.trigger()
    assert printed.read_bytes().startswith(b"%PDF-")
    assert _pdf_facts(printed.read_bytes())[0] >= 1


def test_settings_dialog_persists_and_copies_the_logo(qtbot, settings, tmp_path: Path, _user_data_dir: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (20, 90, 160)).save(logo)
    dialog = SettingsDialog(ClinicSettings(), choose_logo=lambda _parent: str(logo))
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Clinique du Parc")
    dialog.address_edit.setPlainText("1 rue de la Paix\nParis")
    dialog.logo_button.click()
    dialog.page_size.setCurrentText("Letter")
    dialog.doctor_edit.setText("Dr. Chen")
    assert not dialog.standard_knee_display.isChecked()  # off unless the clinic vouches for its display
    dialog.standard_knee_display.setChecked(True)
    chosen = dialog.result_settings()
    assert chosen.standard_knee_display
    assert Path(chosen.logo_path).parent == _user_data_dir / "branding"
    assert Path(chosen.logo_path).read_bytes() == logo.read_bytes()
    logo.unlink()  # the original may go away; the copy stays
    save_clinic_settings(settings, chosen)
    assert load_clinic_settings(settings) == chosen

    bad = tmp_path / "not-a-picture.png"
    bad.write_bytes(b"nope")
    dialog2 = SettingsDialog(chosen, choose_logo=lambda _parent: str(bad))
    qtbot.addWidget(dialog2)
    dialog2.logo_button.click()
    assert "not a picture" in dialog2.error_label.text()
    assert dialog2.result_settings().logo_path == chosen.logo_path


@needs_poppler
def test_logo_appears_in_the_pdf(study, tmp_path: Path) -> None:
    record, pixels = study
    source = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), (0, 200, 0)).save(source)  # pure green: not in the colour map's middle
    target = tmp_path / "with-logo.pdf"
    _write(record, pixels, target, logo_path=import_logo(source))
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(target), str(tmp_path / "logo")], check=True)
    page = np.asarray(Image.open(tmp_path / "logo-1.png").convert("RGB")).astype(int)
    top = page[: page.shape[0] // 6]
    green = (top[..., 1] > 170) & (top[..., 0] < 60) & (top[..., 2] < 60)
    assert green.sum() > 100


def test_copy_report_as_text_saves_first_and_fills_the_clipboard(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    from PySide6.QtGui import QGuiApplication

    app = make_records_app(qtbot, tiny_registry, settings, ScriptedPrompts())
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    app.window.panel.report.impression_edit.setPlainText("Pneumonia likely.")
    app.window.actions.copy_report.trigger()
    record = app.records.record
    assert record is not None and not app.records.is_dirty  # saved first: the text names a stored report
    text = QGuiApplication.clipboard().text()
    assert text.startswith(f"X-ray report {record.report_id}") and "Pneumonia likely." in text
    assert record.predictions[0].model_name in text and "copied" in app.window.status.currentMessage()
