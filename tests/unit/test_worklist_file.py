"""The worklist kept between sessions: written whole, read back, missing files marked."""

from __future__ import annotations

from pathlib import Path

from desktop.core.worklist import EntryState, Findings, Worklist
from desktop.core.worklist_file import NOT_FOUND, load_worklist, save_worklist


def test_the_list_reads_back_as_it_was_and_an_empty_list_removes_the_file(tmp_path: Path) -> None:
    files = [tmp_path / f"{n}.png" for n in range(3)]
    for path in files[:2]:
        path.write_bytes(b"x")
    worklist = Worklist()
    worklist.add(files)
    worklist.set_findings(0, Findings("PNEUMONIA 93%", "Chest: PNEUMONIA 93%", flagged=True), opened=False)
    worklist.opened(files[1])
    worklist.saved_current(study_key=42)
    assert worklist.saved_studies() == [42]
    kept = tmp_path / "data" / "worklist.json"
    save_worklist(kept, worklist)
    back = load_worklist(kept)
    assert [(e.path, e.state) for e in back.entries] == [(files[0], EntryState.READ), (files[1], EntryState.SAVED),
                                                          (files[2], EntryState.FAILED)]
    assert back.entries[0].findings == Findings("PNEUMONIA 93%", "Chest: PNEUMONIA 93%", flagged=True)
    assert back.entries[2].problem == NOT_FOUND and back.current is None
    assert back.saved_studies() == [42]
    save_worklist(kept, Worklist())
    assert not kept.exists() and len(load_worklist(kept)) == 0


def test_a_damaged_or_foreign_file_gives_an_empty_list(tmp_path: Path) -> None:
    kept = tmp_path / "worklist.json"
    kept.write_text('{"format": 1, "entries": [{"path": "a.png", "state": "opened"', encoding="utf-8")
    assert len(load_worklist(kept)) == 0
    kept.write_text('{"format": 99, "entries": []}', encoding="utf-8")
    assert len(load_worklist(kept)) == 0


def test_a_saved_file_gone_stays_saved_and_a_missing_file_back_is_read_again(tmp_path: Path) -> None:
    saved, missing = tmp_path / "saved.png", tmp_path / "stick.png"
    saved.write_bytes(b"x")
    worklist = Worklist()
    worklist.add([saved, missing])
    worklist.opened(saved)
    worklist.saved_current(study_key=7)
    kept = tmp_path / "data" / "worklist.json"
    save_worklist(kept, worklist)
    saved.unlink()  # the source is gone; the records hold the study's own copy

    back = load_worklist(kept)
    assert [e.state for e in back.entries] == [EntryState.SAVED, EntryState.FAILED]
    assert back.saved_studies() == [7]  # still in Save Reports
    save_worklist(kept, back)  # as the app keeps it again after the restore

    missing.write_bytes(b"x")  # the USB stick is plugged in again
    again = load_worklist(kept)
    assert [e.state for e in again.entries] == [EntryState.SAVED, EntryState.WAITING]
    assert again.entries[1].problem == "" and again.saved_studies() == [7]
