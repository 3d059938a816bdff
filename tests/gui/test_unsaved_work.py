"""Unsaved work survives a crash or a power cut: kept aside while typed, offered at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core.measurement import Distance
from desktop.core.records import StudyQuery
from desktop.ui.unsaved_keeper import offer_unsaved_work
from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.gui.helpers import positive_image

LINE = Distance((10.0, 12.0), (60.0, 12.0))


@pytest.fixture()
def app(records_app):
    return records_app


def _work(app, notes: str = "Opacity right lower zone.") -> None:
    app.window.panel.report.notes_edit.setPlainText(notes)
    app.records._patient.form.set_values({"patient_name": "Амина Коэн", "patient_id": "P-7", "gender": "female"})
    app.window.view.measure_tool.set_measurements((LINE,))


def _restart(qtbot, tiny_registry, settings, answers: list[bool]):
    """A new session on the same records and data folder, as after a power cut."""
    script = ScriptedPrompts(confirms=list(answers))
    return make_records_app(qtbot, tiny_registry, settings, script), script


def test_typed_work_is_kept_a_second_after_the_last_change_and_comes_back_without_the_original(
        app, qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    (tmp_path / "usb").mkdir()
    source = positive_image(tmp_path / "usb" / "chest.png")
    app.controller.open_file(source)
    _work(app)
    qtbot.waitUntil(lambda: app.keeper.folder.read() is not None, timeout=3000)
    kept = app.keeper.folder.read()
    assert kept.notes == "Opacity right lower zone." and kept.measurements == (LINE,)
    app.keeper._timer.stop()
    source.unlink()  # the stick was pulled during the power cut

    again, script = _restart(qtbot, tiny_registry, settings, [True])
    assert offer_unsaved_work(again.keeper, again.records, again.window.prompts, again.window)
    assert "chest.png for Амина Коэн had unsaved work" in script.asked[0]
    assert Path(again.controller.image.source_path).name == "chest.png"
    assert again.window.panel.report.values().notes == "Opacity right lower zone."
    assert again.records._patient.details().name == "Амина Коэн"
    assert again.window.view.measure_tool.measurements == (LINE,)
    assert again.records.is_dirty  # put back, not saved: the doctor still decides
    assert again.window.panel.report.status_text.startswith("Put back after XRayDesk closed unexpectedly")
    record = again.records.save()
    assert record is not None and record.original_file_name == "chest.png" and record.measurements == (LINE,)
    assert again.window.panel.report.status_text == f"Saved as {record.report_id}."
    assert again.keeper.folder.read() is None and not (again.keeper.folder.folder / "image").exists()


def test_declining_keeps_the_work_aside_and_opens_nothing(app, qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    _work(app)
    app.keeper.keep_now()
    again, _script = _restart(qtbot, tiny_registry, settings, [False])
    assert not offer_unsaved_work(again.keeper, again.records, again.window.prompts, again.window)
    assert again.controller.image is None
    aside = again.keeper.folder.folder / "declined-study.json"
    assert "Opacity right lower zone." in aside.read_text(encoding="utf-8")
    assert not offer_unsaved_work(again.keeper, again.records, again.window.prompts, again.window)  # asked once


def test_edits_to_a_stored_study_come_back_on_the_stored_study(app, qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    _work(app, notes="First reading.")
    stored = app.records.save()
    assert app.keeper.folder.read() is None  # saved: nothing to recover
    app.window.panel.report.notes_edit.setPlainText("First reading. Follow-up advised.")
    app.keeper.keep_now()
    assert app.keeper.folder.read().study_key == stored.key
    again, _script = _restart(qtbot, tiny_registry, settings, [True])
    assert offer_unsaved_work(again.keeper, again.records, again.window.prompts, again.window)
    assert again.records.record.key == stored.key
    assert again.window.panel.report.values().notes == "First reading. Follow-up advised."
    again.records.save()
    studies = again.store.search_studies(StudyQuery())
    assert len(studies) == 1  # the same study updated, not a second one


def test_nothing_is_kept_without_unsaved_work_and_a_normal_close_clears(app, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    app.keeper.keep_now()
    assert app.keeper.folder.read() is None
    _work(app)
    app.keeper.keep_now()
    assert app.keeper.folder.read() is not None
    app.keeper.forget()
    assert app.keeper.folder.read() is None


def test_an_unwritable_folder_warns_once_and_saving_still_works(app, qtbot, tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the recovery folder should be")
    app.keeper.folder.folder = blocker / "recovery"
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    _work(app)
    with qtbot.waitSignal(app.records.message, check_params_cb=lambda text: "cannot be kept aside" in text):
        app.keeper.keep_now()
    assert app.records.save() is not None
