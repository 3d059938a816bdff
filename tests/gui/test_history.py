"""The history dialog: search, reopen a stored study, delete with confirmation, export CSV."""

from __future__ import annotations

import csv
import shutil
import subprocess
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QDate

from desktop.core.records import PatientDetails, StudyQuery
from desktop.ui.history_dialog import HistoryDialog
from desktop.ui.prompts import UNSAVED_DISCARD
from tests.fixtures.records import chest_prediction, make_draft, write_test_png
from tests.fixtures.records_gui import ScriptedPrompts
from tests.gui.helpers import plain_image, positive_image, print_to_pdf, render_scene


@pytest.fixture()
def app(records_app):
    return records_app


def _save_from_window(app, image: Path, *, name: str, notes: str) -> object:
    app.controller.open_file(image)
    app.records._patient.form.set_values({"patient_name": name, "patient_id": f"ID-{name[:3]}"})
    app.window.panel.report.notes_edit.setPlainText(notes)
    return app.records.save()


def test_reopen_from_history_restores_image_results_notes_and_patient(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    source = positive_image(tmp_path / "chest.png")
    saved = _save_from_window(app, source, name="Иван Петров", notes="Right lower zone opacity.")
    heatmap_before = app.window.view.heatmap.copy() if app.window.view.heatmap is not None else None
    source.unlink()  # the user's file is gone: the study lives on in the archive
    app.controller.open_file(plain_image(tmp_path / "other.png"))
    assert app.window.panel.report.values().notes == ""

    dialog = app.window.show_history()
    assert isinstance(dialog, HistoryDialog) and dialog.isVisible()
    dialog.search.setText("иван")  # case-insensitive Cyrillic search
    assert dialog.study_keys() == [saved.key]
    dialog.select_study(saved.key)
    dialog.open_selected()

    assert not dialog.isVisible(), "the dialog closes once the study is open"
    assert app.controller.image.sha256 == saved.image_sha256
    assert app.window.view.has_image
    cards = app.window.panel.results.cards()
    assert [c.prediction.model_id for c in cards] == ["tiny_chest"]
    assert cards[0].label_widget.text() == saved.predictions[0].label
    assert cards[0].prediction.warnings == ()  # same model installed: no version note
    assert app.window.panel.report.values().notes == "Right lower zone opacity."
    assert app.records._patient.details().name == "Иван Петров"
    assert "chest.png" in app.window.windowTitle() and "Иван Петров" in app.window.windowTitle()
    assert app.window.panel.info.value("File") == "chest.png"
    assert not app.records.is_dirty
    # The stored heat map is overlaid again (8-bit storage: the same picture).
    assert app.window.view.heatmap is not None and heatmap_before is not None
    assert np.abs(app.window.view.heatmap - heatmap_before).max() < 0.01
    assert render_scene(app.window.view).std() > 0

    # Editing the reopened study and saving updates it, never duplicates it.
    app.window.panel.report.impression_edit.setPlainText("Pneumonia.")
    assert app.records.save().key == saved.key
    assert len(app.store.search_studies(StudyQuery())) == 1


def test_reopen_says_when_the_installed_model_differs(app, tmp_path: Path) -> None:
    old = chest_prediction(version="0.9.0")
    record = app.store.save_study(make_draft(*write_test_png(tmp_path / "old.png", seed=3), predictions=(old,)))
    gone = chest_prediction()
    gone = type(gone)(**{**gone.__dict__, "model_id": "retired_model", "model_name": "Retired model"})
    other = app.store.save_study(make_draft(*write_test_png(tmp_path / "older.png", seed=4), predictions=(gone,)))

    assert app.records.reopen(record.key)
    [card] = app.window.panel.results.cards()
    assert card.prediction.model_version == "0.9.0"
    assert any("installed model is version 1.0.0" in w for w in card.prediction.warnings)
    assert "787" in card.metrics_widget.text()  # the stored card's figures, not today's
    assert app.records.reopen(other.key)
    [card] = app.window.panel.results.cards()
    assert any("no longer installed" in w for w in card.prediction.warnings)


def test_reopen_is_guarded(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    saved = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="n")
    app.controller.open_file(plain_image(tmp_path / "b.png"))
    app.window.panel.report.notes_edit.setPlainText("typed, not saved")
    script.unsaved.append("cancel")
    assert not app.records.reopen(saved.key)
    assert app.window.panel.report.values().notes == "typed, not saved"
    script.unsaved.append(UNSAVED_DISCARD)
    assert app.records.reopen(saved.key)


def test_delete_study_asks_first(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    keep = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="a")
    doomed = _save_from_window(app, plain_image(tmp_path / "b.png"), name="Boris", notes="b")
    dialog = app.window.show_history()
    dialog.select_study(doomed.key)

    script.confirms.append(False)
    assert not dialog.delete_selected_study()
    assert set(dialog.study_keys()) == {keep.key, doomed.key}
    assert "Boris" in script.asked[-1] and "cannot be undone" in script.asked[-1]

    script.confirms.append(True)
    assert dialog.delete_selected_study()
    assert dialog.study_keys() == [keep.key]
    assert not doomed.image_path.exists()
    assert keep.image_path.exists()


def test_delete_patient_removes_all_their_studies(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    first = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="a")
    app.records._patient.form.set_values({"patient_name": "Anna", "patient_id": "ID-Ann"})
    second = app.store.save_study(make_draft(*write_test_png(tmp_path / "c.png", seed=9),
                                             patient=PatientDetails(name="Anna", patient_id="ID-Ann")))
    other = _save_from_window(app, plain_image(tmp_path / "b.png"), name="Boris", notes="b")
    assert first.patient.key == second.patient.key
    dialog = app.window.show_history()
    dialog.search.setText("anna")
    dialog.patients.selectRow(0)
    assert set(dialog.study_keys()) == {first.key, second.key}
    script.confirms.append(True)
    assert dialog.delete_selected_patient()
    assert "all 2 of their studies" in script.asked[-1]
    dialog.search.setText("")
    assert dialog.study_keys() == [other.key]
    assert [p.patient.details.name for p in app.store.search_patients()] == ["Boris"]


def test_filters_and_csv_export(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    chest = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="a")
    app.window.panel.set_body_part("knee")
    knee = _save_from_window(app, positive_image(tmp_path / "k.png", size=96), name="Boris", notes="k")
    dialog = app.window.show_history()
    assert set(dialog.study_keys()) == {chest.key, knee.key}
    dialog.study_type.setCurrentIndex(dialog.study_type.findData("knee"))
    assert dialog.study_keys() == [knee.key]
    dialog.study_type.setCurrentIndex(0)
    dialog.label_filter.setText(chest.predictions[0].label.lower())
    assert chest.key in dialog.study_keys() and knee.key not in dialog.study_keys()
    dialog.label_filter.setText("")
    today = date.today()
    dialog.from_check.setChecked(True)
    dialog.from_date.setDate(QDate(today.year + 1, 1, 1))
    assert dialog.study_keys() == []
    dialog.from_date.setDate(QDate(today.year, today.month, today.day))
    assert set(dialog.study_keys()) == {chest.key, knee.key}

    target = tmp_path / "export"  # no suffix: .csv is added
    script.paths.append(str(target))
    assert dialog.export_csv() == 2
    with open(tmp_path / "export.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["patient_name"] for r in rows] == ["Anna", "Boris"]
    assert rows[0]["tiny_chest label"] == chest.predictions[0].label
    assert rows[1]["tiny_knee label"] == knee.predictions[0].label and rows[1]["study_type"] == "knee"
    assert "Exported 2 studies" in dialog.summary.text()
    assert dialog.export_csv() == 0  # cancelled file dialog: nothing written, no error


def test_two_studies_compare_side_by_side_earlier_first_with_changes_marked(app, tmp_path: Path) -> None:
    from desktop.ui.compare_dialog import CHANGED

    first = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="first visit")
    app.records._patient.form.set_values({"patient_name": "Anna", "patient_id": "ID-Ann"})
    later = app.store.save_study(make_draft(*write_test_png(tmp_path / "c.png", seed=9), patient=PatientDetails(
        name="Anna", patient_id="ID-Ann"), predictions=(chest_prediction(p_positive=0.2),), impression="Cleared."))
    assert first.patient.key == later.patient.key
    dialog = app.window.show_history()
    dialog.select_study(first.key)
    assert not dialog.compare_button.isEnabled()
    dialog.studies.selectAll()  # both (Ctrl+click in use)
    assert dialog.compare_button.isEnabled() and not dialog.open_button.isEnabled()
    assert not dialog.delete_study_button.isEnabled()  # delete acts on one study only
    comparison = dialog.compare_selected()
    assert comparison.isVisible() and comparison.earlier.key == first.key and comparison.later.key == later.key
    assert not comparison.banner.text  # one patient
    earlier_pane, later_pane = comparison.panes
    assert earlier_pane.view.has_image and later_pane.view.has_image and not later_pane.problem.isVisible()
    assert not later_pane.view.measuring_allowed
    assert comparison.link_check.isChecked()  # zooming one film zooms the other to the same place
    earlier_pane.view.zoom_in()
    assert not later_pane.view.is_fitted
    [chest] = comparison.findings
    assert chest.changed and chest.later.result == "NORMAL"
    assert comparison.table.item(0, 4).text() == CHANGED and comparison.table.item(0, 3).text() == "NORMAL (80.0%)"


def test_comparing_other_patients_warns_and_a_changed_archive_image_is_not_shown(app, tmp_path: Path) -> None:
    anna = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="a")
    boris = _save_from_window(app, plain_image(tmp_path / "b.png"), name="Boris", notes="b")
    boris.image_path.write_bytes(b"not the archived image")
    dialog = app.window.show_history()
    dialog.studies.selectAll()
    comparison = dialog.compare_selected()
    assert "different patients" in comparison.banner.text and comparison.banner.kind == "warning"
    later_pane = comparison.panes[1]
    assert not later_pane.view.has_image and later_pane.problem.isVisible()
    assert "could not be read" in later_pane.problem.text() or "changed on disk" in later_pane.problem.text()
    assert comparison.panes[0].view.has_image and anna.key == comparison.earlier.key
    # Its page still prints: a grey box where the unreadable image would be, and the reason.
    written = comparison.save_pdf(str(tmp_path / "cmp.pdf"))
    assert written is not None and written.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        raw = subprocess.run(["pdftotext", str(written), "-"], capture_output=True, check=True, timeout=60).stdout.decode()
        text = " ".join(unicodedata.normalize("NFKC", raw).split())  # ligatures undone, lines re-joined
        assert "could not be read" in text and "different patients" in text


def test_the_comparison_saves_as_a_pdf_and_prints(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    import re

    first = _save_from_window(app, positive_image(tmp_path / "a.png"), name="Anna", notes="first visit")
    later = app.store.save_study(make_draft(*write_test_png(tmp_path / "c.png", seed=9), patient=PatientDetails(
        name="Anna", patient_id="ID-Ann"), predictions=(chest_prediction(p_positive=0.2),), impression="Cleared."))
    dialog = app.window.show_history()
    dialog.studies.selectAll()
    comparison = dialog.compare_selected()
    assert comparison.pdf_button.isVisible() and comparison.print_button.isVisible()
    assert comparison.save_pdf() is None  # the file dialog was cancelled
    assert script.asked[-1] == f"path: Save comparison as PDF: {first.report_id}-vs-{later.report_id}.pdf"
    script.paths.append(str(tmp_path / "follow-up"))
    target = comparison.save_pdf()
    assert target == tmp_path / "follow-up.pdf" and "saved" in comparison.banner.text
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and f"comparison of {first.report_id} and {later.report_id}".encode() in data
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) >= 1
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(target), "-"], capture_output=True, check=True,
                              timeout=60).stdout.decode("utf-8")
        assert "Follow-up comparison" in text and f"Comparison of {first.report_id}" in text and "Cleared." in text and "NORMAL (80.0%)" in text and "changed" in text
    printed = tmp_path / "printed.pdf"
    script.printers.append(print_to_pdf(printed))
    assert comparison.print_comparison() and printed.read_bytes().startswith(b"%PDF-")


def test_compare_with_previous_saves_the_open_study_and_finds_the_patients_latest_earlier_one(app, tmp_path: Path) -> None:
    oldest = _save_from_window(app, plain_image(tmp_path / "a.png"), name="Anna", notes="first")
    previous = _save_from_window(app, positive_image(tmp_path / "b.png"), name="Anna", notes="second")
    _save_from_window(app, positive_image(tmp_path / "x.png"), name="Boris", notes="someone else")
    assert app.window.compare_with_previous() is None  # Boris, the open study, has no earlier one
    assert "No earlier study" in app.window.status.currentMessage()
    app.controller.open_file(plain_image(tmp_path / "c.png"))
    app.records._patient.form.set_values({"patient_name": "Anna", "patient_id": "ID-Ann"})
    app.window.actions.compare_previous.trigger()  # unsaved: saved first, then compared
    comparison = app.window.comparison
    assert comparison.isVisible() and comparison.earlier.key == previous.key != oldest.key
    assert comparison.later.key == app.records.record.key and not app.records.is_dirty
