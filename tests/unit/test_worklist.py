"""The worklist's bookkeeping and folder expansion (Qt-free)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from desktop.core.joint_regions import JointRegion
from desktop.core.prediction import DerivedPrediction, Prediction
from desktop.core.worklist import EntryState, Findings, Worklist, files_to_queue, findings_of


def _prediction(label: str, probabilities: tuple[float, ...], labels: tuple[str, ...], *, positive: str | None = None,
                side: str | None = None, derived: tuple[DerivedPrediction, ...] = ()) -> Prediction:
    return Prediction(model_id="m", model_version="1", model_name="M", body_part="chest", labels=labels,
                      probabilities=probabilities, label=label, threshold=None, positive_label=positive,
                      calibrated=True, card_sha256="", derived=derived, region_side=side)


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folders_give_their_image_files_sorted_with_extensionless_dicom(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    b = _touch(folder / "b.PNG")
    a = _touch(folder / "a.jpg")
    dicom = _touch(folder / "series" / "IM0001", b"\0" * 128 + b"DICM" + b"\0" * 8)
    _touch(folder / "series" / "DICOMDIR", b"\0" * 128 + b"DICM")  # the index, not an image
    _touch(folder / "notes.txt")
    _touch(folder / ".DS_Store")
    named = _touch(tmp_path / "report.txt")  # named on its own: kept, to be reported unreadable
    files, truncated = files_to_queue([named, folder])
    assert files == [named, a, b, dicom]
    assert not truncated


def test_files_beyond_the_limits_are_left_out_and_said_so(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for index in range(5):
        _touch(folder / f"{index}.png")
    files, truncated = files_to_queue([folder], limit=3)
    assert [f.name for f in files] == ["0.png", "1.png", "2.png"]
    assert truncated
    assert files_to_queue([folder], limit=5) == (sorted(folder.iterdir()), False)
    _touch(folder / "notes.txt")
    files, truncated = files_to_queue([folder], look_at=4)  # a disk dropped by mistake: stop looking
    assert len(files) == 4 and truncated


def test_adding_twice_keeps_one_entry_and_steps_follow_the_open_file(tmp_path: Path) -> None:
    worklist = Worklist()
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    assert worklist.add(paths) == 3
    assert worklist.add([tmp_path / "." / "b.png"]) == 0
    assert worklist.next_index(1) == 0  # nothing open yet: the first not saved
    assert worklist.opened(tmp_path / "b.png") == 1
    assert worklist.entries[1].state is EntryState.OPENED
    assert (worklist.next_index(1), worklist.next_index(-1)) == (2, 0)
    worklist.saved_current()
    assert worklist.entries[1].state is EntryState.SAVED
    worklist.opened(tmp_path / "elsewhere.png")  # a file not on the list (a reopened study)
    assert worklist.current is None
    assert worklist.saved_current() is None
    assert worklist.next_index(1) == 0
    worklist.opened(paths[1])
    assert worklist.entries[1].state is EntryState.SAVED  # opening again does not unsave it


def test_removing_shifts_the_open_index_and_clear_empties(tmp_path: Path) -> None:
    worklist = Worklist()
    worklist.add([tmp_path / f"{n}.png" for n in range(3)])
    worklist.opened(tmp_path / "2.png")
    worklist.remove(0)
    assert worklist.current == 1 and worklist.entries[1].name == "2.png"
    worklist.remove(1)
    assert worklist.current is None
    worklist.clear()
    assert len(worklist) == 0 and worklist.next_index(1) is None


def test_read_ahead_findings_do_not_change_an_opened_entry_and_failures_clear_on_open(tmp_path: Path) -> None:
    worklist = Worklist()
    worklist.add([tmp_path / "a.png", tmp_path / "b.png"])
    worklist.set_findings(1, Findings("NORMAL 90%"), opened=False)
    assert worklist.entries[1].state is EntryState.READ
    assert worklist.next_to_read() == 0
    worklist.opened(tmp_path / "a.png")
    worklist.set_findings(0, Findings("PNEUMONIA 80%", flagged=True), opened=False)
    assert worklist.entries[0].state is EntryState.OPENED and worklist.entries[0].findings.flagged
    assert worklist.next_to_read() is None
    worklist.failed(1, "Opening b.png failed: truncated.")
    assert worklist.entries[1].state is EntryState.FAILED
    worklist.opened(tmp_path / "b.png")
    assert worklist.entries[1].state is EntryState.OPENED and worklist.entries[1].problem == ""


def test_findings_line_names_joints_grades_and_positive_answers() -> None:
    oa = DerivedPrediction(id="oa", name="OA", label="Osteoarthritis", probability=0.8, threshold=0.5,
                           labels=("Normal", "Osteoarthritis"))
    grade = _prediction("2", (0.1, 0.1, 0.6, 0.1, 0.1), ("0", "1", "2", "3", "4"), side="image_left", derived=(oa,))
    density = _prediction("normal", (0.87, 0.13), ("normal", "osteoporosis"), positive="osteoporosis", side="image_left")
    right = _prediction("0", (0.7, 0.2, 0.1, 0.0, 0.0), ("0", "1", "2", "3", "4"), side="image_right")
    ordinal, binary = SimpleNamespace(task="ordinal"), SimpleNamespace(task="binary")
    findings = findings_of([(grade, ordinal), (density, binary), (right, ordinal)])
    assert findings.line == "image left: Grade 2 60%, normal 87%; image right: Grade 0 70%"
    assert findings.detail.splitlines() == ["M (image left): Grade 2 60%", "M (image left): normal 87%",
                                            "M (image right): Grade 0 70%"]
    assert findings.flagged  # the derived OA answer is positive
    assert findings_of([(grade, None)]).line == "image left: 2 60%"  # without its card, the label as it is
    normal = _prediction("NORMAL", (0.93, 0.07), ("NORMAL", "PNEUMONIA"), positive="PNEUMONIA")
    assert (findings_of([(normal, binary)]).line, findings_of([(normal, binary)]).flagged) == ("NORMAL 93%", False)
    assert findings_of([], skipped=True) == Findings("not an X-ray: no model was run")
    assert findings_of([], joints=()) == Findings("no knee joint found")
    sided = (JointRegion((0, 0, 9, 9), 0.9, "image_left", patient_side="right", sided_by="header"),
             JointRegion((0, 20, 9, 9), 0.9, "image_right", patient_side="left", sided_by="header"))
    named = findings_of([(grade, ordinal), (right, ordinal)], joints=sided)
    assert named.line == "right knee (image left): Grade 2 60%; left knee (image right): Grade 0 70%"
    assert named.detail.splitlines() == ["M (right knee (image left)): Grade 2 60%", "M (left knee (image right)): Grade 0 70%"]


def test_stepping_passes_over_unreadable_files(tmp_path: Path) -> None:
    worklist = Worklist()
    worklist.add([tmp_path / f"{n}.png" for n in range(4)])
    worklist.failed(0, "damaged")
    assert worklist.next_index(1) == 1  # none open: the first readable one
    worklist.opened(tmp_path / "1.png")
    worklist.failed(2, "damaged")
    assert worklist.next_index(1) == 3
    assert worklist.next_index(-1) is None  # only an unreadable file before it


def test_positive_first_keeps_each_groups_order_and_the_open_file(tmp_path: Path) -> None:
    worklist = Worklist()
    worklist.add([tmp_path / f"{n}.png" for n in range(5)])
    for index in (1, 3):
        worklist.set_findings(index, Findings("PNEUMONIA 90%", flagged=True), opened=False)
    worklist.opened(tmp_path / "2.png")
    assert worklist.flagged_count() == 2
    worklist.put_flagged_first()
    assert [e.name for e in worklist.entries] == ["1.png", "3.png", "0.png", "2.png", "4.png"]
    assert worklist.entries[worklist.current].name == "2.png"
