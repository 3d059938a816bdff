"""Unsaved work kept on disk: written whole, read back, its image copy, damaged drafts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from desktop.core.measurement import Angle, Distance
from desktop.core.records.recovery import RecoveryFolder, UnsavedStudy


def _image(path: Path, data: bytes = b"\x89PNG fake image bytes") -> tuple[Path, str]:
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _study(source: Path, sha: str, **changes) -> UnsavedStudy:
    values = dict(original_file_name=source.name, source_path=str(source), image_sha256=sha, body_part="chest",
                  notes="Opacity right lower zone.", impression="Pneumonia likely.", doctor_name="Dr. Haddad",
                  patient_form={"patient_name": "Иван Петров", "age": 71, "gender": "male"},
                  risk={"probability": 0.31},
                  measurements=(Distance((1.0, 2.0), (30.0, 2.0), reference_mm=50.0),
                                Angle(Distance((0.0, 0.0), (10.0, 0.0)), Distance((0.0, 0.0), (0.0, 10.0)))),
                  knee_sides={"image_left": "left", "image_right": "right"})
    values.update(changes)
    return UnsavedStudy(**values)


def test_kept_work_reads_back_whole_with_a_copy_of_its_image(tmp_path: Path) -> None:
    source, sha = _image(tmp_path / "chest.png")
    folder = RecoveryFolder(tmp_path / "recovery")
    study = _study(source, sha)
    folder.keep(study)
    back = folder.read()
    assert back is not None and back.same_work(study)
    assert back.written_at == study.written_at and back.patient_name == "Иван Петров"
    assert back.measurements == study.measurements
    assert back.knee_sides == {"image_left": "left", "image_right": "right"}
    copy = folder.image_to_open(back)
    assert copy is not None and copy.parent != source.parent and copy.read_bytes() == source.read_bytes()
    assert not list(folder.folder.glob("*.tmp"))  # written through a temporary file, renamed into place


def test_the_copy_outlives_the_original_and_a_changed_original_is_not_used(tmp_path: Path) -> None:
    source, sha = _image(tmp_path / "chest.png")
    folder = RecoveryFolder(tmp_path / "recovery")
    folder.keep(_study(source, sha))
    source.unlink()  # the USB stick is gone
    study = folder.read()
    assert folder.image_to_open(study) == folder.image_copy(study)
    folder.image_copy(study).unlink()
    _image(source)  # the same file is back
    assert folder.image_to_open(study) == source
    _image(source, b"another image under the same name")
    assert folder.image_to_open(study) is None


def test_no_copy_when_the_image_changed_since_it_was_opened(tmp_path: Path) -> None:
    source, sha = _image(tmp_path / "chest.png")
    _image(source, b"overwritten meanwhile")
    folder = RecoveryFolder(tmp_path / "recovery")
    folder.keep(_study(source, sha))
    study = folder.read()
    assert study is not None and folder.image_copy(study) is None and folder.image_to_open(study) is None


def test_a_stored_study_keeps_no_copy_and_opens_from_the_records(tmp_path: Path) -> None:
    source, sha = _image(tmp_path / "chest.png")
    folder = RecoveryFolder(tmp_path / "recovery")
    folder.keep(_study(source, sha, study_key=7))
    study = folder.read()
    assert study.study_key == 7
    assert not (folder.folder / "image").exists() and folder.image_to_open(study) is None


def test_clear_removes_the_draft_and_the_copy_and_set_aside_keeps_the_draft(tmp_path: Path) -> None:
    source, sha = _image(tmp_path / "chest.png")
    folder = RecoveryFolder(tmp_path / "recovery")
    folder.keep(_study(source, sha))
    aside = folder.set_aside()
    assert folder.read() is None and json.loads(aside.read_text(encoding="utf-8"))["notes"] == "Opacity right lower zone."
    folder.keep(_study(source, sha, notes="second"))
    folder.clear()
    assert folder.read() is None and not (folder.folder / "image").exists()
    assert aside.exists()  # declined work is never deleted by a later clear


def test_a_damaged_draft_counts_as_none_and_is_set_aside(tmp_path: Path) -> None:
    folder = RecoveryFolder(tmp_path / "recovery")
    folder.folder.mkdir()
    folder.draft_path.write_text('{"format": 1, "notes": "half writ', encoding="utf-8")
    assert folder.read() is None
    assert not folder.draft_path.exists() and (folder.folder / "declined-study.json").exists()
