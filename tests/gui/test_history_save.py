"""Saving a study from the window, and the guard that never drops unsaved patient data."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from desktop.core.measurement import Angle, Distance
from desktop.core.records import StudyQuery
from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.prompts import UNSAVED_CANCEL, UNSAVED_DISCARD, UNSAVED_SAVE
from desktop.ui.report.content import report_content
from tests.fixtures.records_gui import ScriptedPrompts
from tests.gui.helpers import drop_on, plain_image, positive_image


@pytest.fixture()
def app(records_app):
    return records_app


def _type_notes(app, notes: str = "Opacity right lower zone.", impression: str = "Pneumonia likely.") -> None:
    report = app.window.panel.report
    report.notes_edit.setPlainText(notes)
    report.impression_edit.setPlainText(impression)


def _fill_patient(app, name: str = "Иван Петров", patient_id: str = "P-42") -> None:
    app.records._patient.form.set_values({"patient_name": name, "patient_id": patient_id, "date_of_birth": "1950-03-04",
                                          "gender": "male"})


def test_ctrl_s_saves_image_results_notes_and_patient(app, tmp_path: Path, _user_data_dir: Path) -> None:
    source = positive_image(tmp_path / "chest.png")
    app.controller.open_file(source)
    assert not app.window.isWindowModified() and app.records.is_dirty is False
    _type_notes(app)
    _fill_patient(app)
    app.window.panel.report.doctor_edit.setText("Dr. Amal Haddad")
    assert app.records.is_dirty and app.window.isWindowModified()

    assert app.window.actions.save_study.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    app.window.actions.save_study.trigger()

    [summary] = app.store.search_studies(StudyQuery())
    study = app.store.get_study(summary.key)
    assert study.notes == "Opacity right lower zone." and study.impression == "Pneumonia likely."
    assert study.doctor_name == "Dr. Amal Haddad"
    assert study.patient.details.name == "Иван Петров" and study.patient.details.patient_id == "P-42"
    assert study.patient.details.date_of_birth == "1950-03-04" and study.patient.details.sex == "male"
    assert study.patient_form["patient_name"] == "Иван Петров"
    assert study.risk is None  # no estimate was made
    outcome = app.controller.outcome
    assert [(p.model_id, p.label) for p in study.predictions] == [(p.model_id, p.label) for p in outcome.predictions]
    assert study.predictions[0].heatmap is not None and study.predictions[0].card is not None
    assert study.image_path.parent == _user_data_dir / "images"
    assert study.image_path.read_bytes() == source.read_bytes()
    assert study.original_file_name == "chest.png" and study.body_part == "chest"
    assert not app.records.is_dirty and not app.window.isWindowModified()
    assert app.window.panel.report.status_text == f"Saved as {study.report_id}."


def test_saving_again_updates_the_same_study(app, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    _type_notes(app)
    first = app.records.save()
    app.window.panel.report.notes_edit.setPlainText("Revised after comparison.")
    assert "changes not saved" in app.window.panel.report.status_text
    second = app.records.save()
    assert second.key == first.key and second.report_id == first.report_id
    assert [s.key for s in app.store.search_studies(StudyQuery())] == [first.key]
    assert app.store.get_study(first.key).notes == "Revised after comparison."


def test_save_without_an_image_explains(app, qtbot) -> None:
    assert not app.window.panel.report.save_button.isEnabled()
    with qtbot.waitSignal(app.records.failed) as blocker:
        assert app.records.save() is None
    assert "Open an X-ray" in blocker.args[0]
    assert "Open an X-ray" in app.window.panel.error_text


def test_guard_cancel_keeps_the_study_and_its_notes(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    first = positive_image(tmp_path / "first.png")
    app.controller.open_file(first)
    _type_notes(app)
    script.unsaved.append(UNSAVED_CANCEL)
    app.controller.open_file(plain_image(tmp_path / "second.png"))
    assert script.asked == ["unsaved"]
    assert Path(app.controller.image.source_path).name == "first.png"
    assert app.window.panel.report.values().notes == "Opacity right lower zone."
    assert app.store.search_studies(StudyQuery()) == []


def test_guard_save_stores_then_opens(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    _type_notes(app)
    _fill_patient(app, name="محمد علي")
    script.unsaved.append(UNSAVED_SAVE)
    drop_on(app.window.view.viewport(), paths=[plain_image(tmp_path / "second.png")])  # drops are guarded too
    [summary] = app.store.search_studies(StudyQuery())
    assert summary.patient_name == "محمد علي"
    assert Path(app.controller.image.source_path).name == "second.png"
    # The next study starts empty: the last patient's name must not ride along.
    assert app.window.panel.report.values().notes == ""
    assert app.records._patient.details().name == ""
    assert not app.records.is_dirty


def test_guard_discard_opens_without_saving(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    _fill_patient(app)  # patient data alone counts as unsaved
    script.unsaved.append(UNSAVED_DISCARD)
    app.window.actions.recent_menu.chosen.emit(str(plain_image(tmp_path / "second.png")))
    assert script.asked == ["unsaved"]
    assert Path(app.controller.image.source_path).name == "second.png"
    assert app.store.search_studies(StudyQuery()) == []


def test_no_question_when_nothing_was_typed_or_all_is_saved(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    app.controller.open_file(plain_image(tmp_path / "second.png"))
    _type_notes(app)
    app.records.save()
    app.controller.open_file(positive_image(tmp_path / "third.png"))
    assert script.asked == []
    assert Path(app.controller.image.source_path).name == "third.png"


def test_closing_the_window_is_guarded(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    _type_notes(app)
    script.unsaved.append(UNSAVED_CANCEL)
    app.window.close()
    assert app.window.isVisible(), "cancel keeps the window open"
    script.unsaved.append(UNSAVED_SAVE)
    app.window.close()
    assert not app.window.isVisible()
    assert len(app.store.search_studies(StudyQuery())) == 1


def test_risk_assessment_is_stored_and_restored(app, tmp_path: Path) -> None:
    from desktop.inference.risk import Contribution, OstComparison, RiskAssessment

    assessment = RiskAssessment(
        model_id="osteoporosis_risk", model_version="1.0.0", card_sha256="c" * 64, probability=0.71,
        label="osteoporosis", positive_label="osteoporosis", threshold=0.5, logit=0.9, intercept=float("nan"),
        contributions=(Contribution(name="age", label="Age", unit="years", kind="number", value=74.0, used_value=74.0,
                                    log_odds=0.8),),
        ost=OstComparison(value=-3.0, category="moderate"), who_category="osteopenia",
        what_the_model_cannot_know=("Falls history",),
    )
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    _fill_patient(app)
    app.records._patient.panel.show_assessment(assessment)
    record = app.records.save()
    assert record.risk["probability"] == pytest.approx(0.71) and record.risk["who_category"] == "osteopenia"
    assert record.risk["top_factors"] == ["Age 74 years: raises risk"]
    assert record.risk["intercept"] is None  # NaN is stored as null, never as a bare NaN token

    app.controller.open_file(plain_image(tmp_path / "second.png"))
    assert app.records._patient.panel.assessment is None
    assert app.records.reopen(record.key)
    restored = app.records._patient.panel.assessment
    assert restored is not None and restored.probability == pytest.approx(0.71)
    assert restored.contributions[0].describe() == "Age 74 years: raises risk"
    assert not app.records.is_dirty


def test_patient_typed_before_the_first_image_carries_over(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    """The patient often arrives before the X-ray: opening the image must not wipe the form."""
    _fill_patient(app, name="राम शर्मा")
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    assert script.asked == []
    assert app.records._patient.details().name == "राम शर्मा"
    assert app.records.is_dirty, "still unsaved"
    script.unsaved.append(UNSAVED_CANCEL)
    app.controller.open_file(plain_image(tmp_path / "second.png"))  # now there is a study to lose
    assert script.asked == ["unsaved"]
    assert app.records.save().patient.details.name == "राम शर्मा"


def test_patient_panel_can_be_shown_again_from_the_view_menu(app) -> None:
    toggle = app.window.patient_dock.toggleViewAction()
    view_menu = next(a.menu() for a in app.window.menuBar().actions() if a.text() == "&View")
    assert toggle in view_menu.actions()
    app.window.patient_dock.close()
    toggle.trigger()
    assert app.window.patient_dock.isVisible()


def test_measurements_are_unsaved_work_stored_reopened_and_reported(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    assert not app.records.is_dirty
    lines = (Distance((4.0, 4.0), (40.0, 4.0)), Distance((10.0, 5.0), (10.0, 50.0)))
    app.window.view.measure_tool.set_measurements(lines)
    assert app.records.is_dirty  # a measurement is the doctor's work: leaving asks first
    record = app.records.save()
    assert record.measurements == lines and not app.records.is_dirty

    app.controller.open_file(plain_image(tmp_path / "second.png"))
    assert app.window.view.measure_tool.measurements == ()  # a new image starts clean
    assert app.records.reopen(record.key)
    assert app.window.view.measure_tool.measurements == lines and not app.records.is_dirty
    content = report_content(app.store.get_study(record.key), clinic=ClinicSettings(), generated_at=record.created_at)
    # A PNG gives no pixel size, so the report gives pixels and says why.
    assert dict(content.study_rows)["Measurements"] == "1: 36 px; 2: 45 px (image pixels: the file gives no pixel size)"
    app.window.actions.undo_measurement.trigger()
    assert app.window.view.measure_tool.measurements == lines[:1] and app.records.is_dirty
    app.window.actions.clear_measurements.trigger()
    assert app.window.view.measure_tool.measurements == () and app.records.is_dirty
    app.window.actions.undo_measurement.trigger()  # nothing left to take back: no error
    assert app.window.view.measure_tool.measurements == ()


def test_scale_from_a_reference_line_and_angles_are_stored_and_reported(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "ruler.png"))
    tool = app.window.view.measure_tool
    angle = Angle(Distance((4.0, 40.0), (60.0, 40.0)), Distance((10.0, 4.0), (10.0, 60.0)))
    tool.set_measurements((angle,))
    app.window.actions.calibrate.trigger()  # no line to take the scale from: says what to do, asks nothing
    assert "real length" not in script.asked and "known length" in app.window.status.currentMessage()
    tool.set_measurements((angle, Distance((0.0, 50.0), (50.0, 50.0)), Distance((20.0, 0.0), (20.0, 30.0))))
    script.lengths += [None, 10.0]
    app.window.actions.calibrate.trigger()  # cancelled: nothing changes
    assert tool.labels() == ["90.0\u00b0", "50 px", "30 px"]
    app.window.actions.calibrate.trigger()
    assert tool.labels() == ["90.0\u00b0", "16.7 mm", "10.0 mm reference"]  # the newest line is the reference
    assert "10.0 mm" in app.window.status.currentMessage()
    tool.begin((0.0, 10.0))
    tool.stretch((15.0, 10.0))
    tool.finish()
    assert tool.labels() == ["90.0\u00b0", "16.7 mm", "10.0 mm reference", "5.0 mm"]
    record = app.records.save()
    app.controller.open_file(plain_image(tmp_path / "other.png"))
    assert app.records.reopen(record.key)
    assert tool.measurements == record.measurements and tool.labels()[1] == "16.7 mm"
    content = report_content(app.store.get_study(record.key), clinic=ClinicSettings(), generated_at=record.created_at)
    assert dict(content.study_rows)["Measurements"] == (
        "1: 90.0\u00b0; 2: 16.7 mm; 3: 10.0 mm reference; 4: 5.0 mm (lengths scaled to reference line 3)")


def test_ctrl_z_in_the_notes_undoes_typing_not_a_measurement(app, qtbot, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "first.png"))
    line = Distance((4.0, 4.0), (40.0, 4.0))
    app.window.view.measure_tool.set_measurements((line,))
    notes = app.window.panel.report.notes_edit
    app.window.activateWindow()
    qtbot.waitActive(app.window)
    notes.setFocus()
    qtbot.keyClicks(notes, "Effusion")
    qtbot.keyClick(notes, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert notes.toPlainText() == ""  # the text field's own undo
    assert app.window.view.measure_tool.measurements == (line,)
    app.window.view.setFocus()
    qtbot.keyClick(app.window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert app.window.view.measure_tool.measurements == ()


def test_back_up_records_asks_where_writes_a_checked_zip_and_says_so(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    import zipfile

    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    record = app.records.save()
    assert not app.window.back_up_records()  # the file dialog was cancelled
    assert script.asked[-1].startswith("path: Back up records: xraydesk-backup-")
    script.paths.append(str(tmp_path / "usb" / "clinic-backup"))
    (tmp_path / "usb").mkdir()
    app.window.actions.backup.trigger()
    written = tmp_path / "usb" / "clinic-backup.zip"
    assert "Backup of 1 study (1 image" in app.window.status.currentMessage() and "checked" in app.window.status.currentMessage()
    with zipfile.ZipFile(written) as archive:
        assert "records.sqlite3" in archive.namelist() and any(record.image_sha256 in name for name in archive.namelist())
    script.paths.append(str(tmp_path / "missing-folder" / "backup.zip"))
    app.window.actions.backup.trigger()  # a folder that does not exist: a clear message, no crash
    assert "The backup was not written" in app.window.status.currentMessage()
