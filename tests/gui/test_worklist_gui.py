"""The worklist: several files or a folder queued, stepped through, read ahead, saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from PySide6.QtCore import Qt

from desktop.core.records.values import StudyQuery
from desktop.core.worklist import EntryState
from desktop.ui.prompts import UNSAVED_CANCEL
from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.gui.helpers import DeferredTaskRunner, drop_on, make_app, plain_image, positive_image


@pytest.fixture()
def app(records_app):
    return records_app


def _states(app) -> list[str]:
    return [e.state.value for e in app.window.worklist.worklist.entries]


def _open_name(app) -> str:
    return Path(app.controller.image.source_path).name


def test_dropping_several_files_and_a_folder_queues_them_opens_the_first_and_reads_the_rest(app, qtbot, tmp_path: Path) -> None:
    first = positive_image(tmp_path / "first.png")
    folder = tmp_path / "batch"
    folder.mkdir()
    plain_image(folder / "b_plain.png")
    positive_image(folder / "a_positive.png")
    (folder / "readme.txt").write_text("not an image")
    drop_on(app.window, paths=[first, folder])

    worklist, panel = app.window.worklist.worklist, app.window.worklist.panel
    assert [e.name for e in worklist.entries] == ["first.png", "a_positive.png", "b_plain.png"]
    assert app.window.worklist_dock.isVisible()
    assert _open_name(app) == "first.png"
    qtbot.waitUntil(lambda: worklist.next_to_read() is None)
    assert _states(app) == ["opened", "read", "read"]
    assert [e.findings.flagged for e in worklist.entries] == [True, True, False]
    assert worklist.entries[0].findings.line.startswith("PNEUMONIA")
    assert worklist.entries[2].findings.line.startswith("NORMAL")
    assert panel.table.item(1, 1).font().bold() and not panel.table.item(2, 1).font().bold()
    assert panel.table.item(1, 1).toolTip().startswith("Tiny chest test model: PNEUMONIA")
    assert panel.selected_row() == 0
    assert "file 1 of 3: 0 saved, 2 with a positive finding" in panel.summary.text()
    plain_image(folder / "c_plain.png")
    positive_image(folder / "d_positive.png")
    app.window.worklist.take_files([folder])  # the same folder again: only the new files are added
    qtbot.waitUntil(lambda: worklist.next_to_read() is None)
    panel.triage_button.click()
    assert [e.name for e in worklist.entries] == ["first.png", "a_positive.png", "d_positive.png", "b_plain.png",
                                                  "c_plain.png"]
    assert panel.table.item(2, 0).text() == "d_positive.png" and panel.table.item(2, 1).font().bold()
    assert Path(app.controller.image.source_path).name == "c_plain.png"  # the first new file opened
    assert panel.selected_row() == 4


def test_next_and_previous_step_through_the_list_and_say_when_at_an_end(app, qtbot, tmp_path: Path) -> None:
    files = [plain_image(tmp_path / f"{n}.png") for n in range(2)]
    app.window.worklist.take_files(files)
    actions = app.window.actions
    actions.next_in_worklist.trigger()
    assert _open_name(app) == "1.png" and app.window.worklist.panel.selected_row() == 1
    with qtbot.waitSignal(app.window.worklist.message, check_params_cb=lambda text: "last file" in text):
        actions.next_in_worklist.trigger()
    actions.previous_in_worklist.trigger()
    assert _open_name(app) == "0.png"
    assert _states(app)[:2] == ["opened", "opened"]


def test_an_unreadable_queued_file_is_marked_and_the_open_study_stays(app, qtbot, tmp_path: Path) -> None:
    good = plain_image(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    app.window.worklist.set_read_ahead(False)
    app.window.worklist.take_files([good, broken])
    app.window.actions.next_in_worklist.trigger()
    assert _open_name(app) == "good.png"
    entry = app.window.worklist.worklist.entries[1]
    assert entry.state is EntryState.FAILED and "broken.png" in entry.problem
    assert app.window.worklist.panel.table.item(1, 2).text() == "unreadable"


def test_saving_marks_the_entry_and_a_cancelled_switch_keeps_it_current(app, script: ScriptedPrompts, qtbot,
                                                                         tmp_path: Path) -> None:
    app.window.worklist.take_files([positive_image(tmp_path / "a.png"), plain_image(tmp_path / "b.png")])
    with qtbot.waitSignal(app.window.worklist.message, check_params_cb=lambda text: "Next in the worklist: b.png" in text):
        app.records.save()
    assert _states(app)[0] == "saved"
    app.window.panel.report.notes_edit.setPlainText("Left lower zone opacity.")
    script.unsaved.append(UNSAVED_CANCEL)
    app.window.actions.next_in_worklist.trigger()
    assert _open_name(app) == "a.png" and app.window.worklist.worklist.current == 0
    assert app.window.worklist.panel.summary.text().startswith("file 1 of 2: 1 saved")


def test_ctrl_enter_saves_the_study_and_opens_the_next_file(app, qtbot, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    app.window.worklist.set_read_ahead(False)
    app.window.worklist.take_files([positive_image(tmp_path / f"{n}.png") for n in "abc"])
    app.window.show()
    app.window.activateWindow()
    notes = app.window.panel.report.notes_edit
    notes.setFocus()
    notes.setPlainText("Left lower zone opacity.")
    # Typed in the notes, Ctrl+Enter is the window's command, not a new line.
    qtbot.keyClick(notes, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert _states(app)[:2] == ["saved", "opened"] and _open_name(app) == "b.png"
    (saved,) = app.records.store.search_studies(StudyQuery())
    assert app.records.store.get_study(saved.key).notes == "Left lower zone opacity."
    # A save that fails leaves the open study, and its unsaved work, where it is.
    notes.setPlainText("Not stored yet.")
    monkeypatch.setattr(app.records, "save", lambda: None)
    app.window.actions.save_and_next.trigger()
    assert _open_name(app) == "b.png" and notes.toPlainText() == "Not stored yet."


def test_open_folder_asks_for_a_folder_and_queues_its_films(app, script: ScriptedPrompts, tmp_path: Path) -> None:
    for n in range(2):
        plain_image(tmp_path / "films" / f"{n}.png")
    script.folders.append(str(tmp_path / "films"))
    app.window.actions.open_folder.trigger()
    assert script.asked[-1] == "folder: Open a folder of X-rays"
    assert len(app.window.worklist.worklist) == 2 and _open_name(app) == "0.png"


def test_one_dropped_file_opens_without_a_worklist(app, tmp_path: Path) -> None:
    drop_on(app.window.view.viewport(), paths=[positive_image(tmp_path / "one.png")])
    assert _open_name(app) == "one.png"
    assert len(app.window.worklist.worklist) == 0 and not app.window.worklist_dock.isVisible()


def test_a_folder_without_images_says_so(app, qtbot, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(app.window.worklist.message, check_params_cb=lambda text: "No X-ray files" in text):
        app.window.worklist.take_files([tmp_path / "empty"])
    assert app.controller.image is None


def test_reading_ahead_waits_while_the_open_film_is_analysed(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    runner = DeferredTaskRunner()
    parts = make_app(qtbot, tiny_registry, settings, runner=runner)
    parts.window.worklist.take_files([plain_image(tmp_path / "a.png"), positive_image(tmp_path / "b.png")])
    assert len(runner.queue) == 1  # decoding a.png; nothing read ahead meanwhile
    runner.run()  # a.png decoded: its analysis starts
    assert len(runner.queue) == 1
    runner.run()  # analysed: the study controller is idle, so b.png is read ahead next
    qtbot.waitUntil(lambda: len(runner.queue) == 1)
    runner.run()
    entry = parts.window.worklist.worklist.entries[1]
    assert entry.state is EntryState.READ and entry.findings.flagged


def test_enter_opens_the_selected_row_and_delete_takes_it_off(app, qtbot, tmp_path: Path) -> None:
    app.window.worklist.set_read_ahead(False)
    app.window.worklist.take_files([plain_image(tmp_path / f"{n}.png") for n in range(3)])
    table = app.window.worklist.panel.table
    table.setFocus()
    table.selectRow(2)
    table.setCurrentCell(2, 0)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert _open_name(app) == "2.png"
    table.selectRow(0)
    table.setCurrentCell(0, 0)
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    assert [e.name for e in app.window.worklist.worklist.entries] == ["1.png", "2.png"]
    assert app.window.worklist.worklist.current == 1


def test_export_list_writes_a_csv_triage_log_where_the_user_chooses(app, script: ScriptedPrompts, qtbot,
                                                                     tmp_path: Path) -> None:
    import csv

    app.window.worklist.take_files([positive_image(tmp_path / "=sick.png"), plain_image(tmp_path / "well.png")])
    qtbot.waitUntil(lambda: app.window.worklist.worklist.next_to_read() is None)
    target = tmp_path / "triage.csv"
    script.paths.append(str(target))
    app.window.worklist.panel.export_button.click()
    assert script.asked[-1].startswith("path: Export worklist as CSV: xraydesk-worklist-")
    with open(target, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "folder", "status", "positive finding", "findings", "problem"]
    assert rows[1][0] == "'=sick.png"  # a name that looks like a formula never runs as one
    assert rows[1][2:4] == ["opened", "yes"] and rows[1][4].startswith("Tiny chest test model: PNEUMONIA")
    assert rows[2][2:4] == ["read", ""]
    blocked = tmp_path / "no_such_folder" / "triage.csv"
    with qtbot.waitSignal(app.window.worklist.message, check_params_cb=lambda text: "Could not write triage.csv" in text):
        app.window.worklist.export_csv(str(blocked))


def test_the_list_is_kept_for_the_next_session_with_missing_files_marked(app, qtbot, tiny_registry, settings,
                                                                          _user_data_dir: Path, tmp_path: Path) -> None:
    files = [positive_image(tmp_path / "a.png"), plain_image(tmp_path / "b.png"), plain_image(tmp_path / "c.png")]
    app.window.worklist.take_files(files)
    qtbot.waitUntil(lambda: app.window.worklist.worklist.next_to_read() is None)
    app.records.save()
    kept = _user_data_dir / "worklist.json"
    qtbot.waitUntil(lambda: kept.exists() and '"saved"' in kept.read_text(encoding="utf-8"), timeout=3000)
    files[2].unlink()  # the stick with c.png is not plugged in again

    again = make_records_app(qtbot, tiny_registry, settings, ScriptedPrompts())
    entries = again.window.worklist.worklist.entries
    assert [e.state.value for e in entries] == ["saved", "read", "unreadable"]
    assert entries[1].findings.line.startswith("NORMAL") and entries[2].problem.startswith("not found")
    assert again.window.worklist_dock.isVisible() and again.window.worklist.worklist.current is None
    again.window.worklist.clear()
    again.window.worklist.keep_pending()  # as on quit, within half a second of the change
    assert not kept.exists()
    kept.write_text("written by no one", encoding="utf-8")
    again.window.worklist.keep_pending()  # nothing waiting: the file is not written again
    assert kept.read_text(encoding="utf-8") == "written by no one"


def test_save_reports_writes_the_pdf_of_every_study_saved_from_the_list(app, script: ScriptedPrompts, qtbot,
                                                                         tmp_path: Path) -> None:
    worklist = app.window.worklist
    worklist.set_read_ahead(False)
    worklist.take_files([positive_image(tmp_path / "a.png"), plain_image(tmp_path / "b.png"), plain_image(tmp_path / "c.png")])
    assert not worklist.panel.reports_button.isEnabled()  # nothing saved yet
    first = app.records.save()
    app.window.actions.next_in_worklist.trigger()
    second = app.records.save()
    assert worklist.panel.reports_button.isEnabled()
    folder = tmp_path / "for the referring doctors"
    folder.mkdir()
    script.folders.append(str(folder))
    with qtbot.waitSignal(worklist.message, check_params_cb=lambda text: text.startswith("2 reports saved to")):
        worklist.panel.reports_button.click()
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted([f"{first.report_id}.pdf", f"{second.report_id}.pdf"])
    assert all((folder / name).read_bytes().startswith(b"%PDF") for name in written)
    app.store.delete_study(second.key)  # deleted from the records meanwhile: named, the other still written
    result = worklist.save_reports(str(folder))
    assert [p.name for p in result.written] == [f"{first.report_id}.pdf"] and len(result.problems) == 1


def test_a_list_with_no_file_open_counts_its_files_in_words(qtbot, tmp_path: Path) -> None:
    from desktop.core.worklist import Worklist
    from desktop.ui.worklist_panel import WorklistPanel

    panel = WorklistPanel()
    qtbot.addWidget(panel)
    worklist = Worklist()
    worklist.add([plain_image(tmp_path / "only.png")])  # a kept list comes back with nothing open
    panel.show_worklist(worklist)
    assert panel.summary.text().startswith("1 file: ")
    worklist.add([plain_image(tmp_path / "second.png")])
    panel.show_worklist(worklist)
    assert panel.summary.text().startswith("2 files: ")
