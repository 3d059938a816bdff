"""Backing up the records: a verified zip that opens as a working store when unzipped."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from desktop.core.imaging import load_image
from desktop.core.records import RecordError, SQLiteRecordStore, StudyQuery
from desktop.core.records.backup import prepare_backup, write_backup
from tests.fixtures.records import make_draft, write_test_png


@pytest.fixture()
def store(tmp_path: Path):
    opened = SQLiteRecordStore.open(tmp_path / "data")
    yield opened
    opened.close()


def test_backup_unzips_into_a_store_with_every_study_and_image(store: SQLiteRecordStore, tmp_path: Path) -> None:
    first = store.save_study(make_draft(*write_test_png(tmp_path / "a.png", seed=1)))
    store.save_study(make_draft(*write_test_png(tmp_path / "b.png", seed=2)))
    store.save_study(make_draft(first.image_path, first.image_sha256))  # the same image studied twice
    plan = prepare_backup(store)
    summary = write_backup(plan, tmp_path / "backup.zip")
    assert (summary.studies, summary.images) == (3, 2) and summary.size_bytes == (tmp_path / "backup.zip").stat().st_size
    assert not plan.workdir.exists()
    restored = tmp_path / "restored"
    with zipfile.ZipFile(tmp_path / "backup.zip") as archive:
        archive.extractall(restored)
    again = SQLiteRecordStore.open(restored)
    try:
        studies = again.search_studies(StudyQuery())
        assert len(studies) == 3 and again.integrity_check() == "ok"
        reopened = again.get_study(first.key)
        assert load_image(reopened.image_path).sha256 == first.image_sha256
        assert reopened.notes == first.notes and reopened.patient.details == first.patient.details
    finally:
        again.close()


def test_a_missing_or_changed_image_stops_the_backup_and_leaves_no_file(store: SQLiteRecordStore, tmp_path: Path) -> None:
    record = store.save_study(make_draft(*write_test_png(tmp_path / "a.png", seed=1)))
    target = tmp_path / "backup.zip"
    write_test_png(record.image_path, seed=5)  # changed on disk after it was studied
    with pytest.raises(RecordError, match="differs from the study's image"):
        write_backup(prepare_backup(store), target)
    record.image_path.unlink()
    plan = prepare_backup(store)
    with pytest.raises(RecordError, match="is missing"):
        write_backup(plan, target)
    assert not target.exists() and not list(tmp_path.glob(".backup.zip*")) and not plan.workdir.exists()


def test_an_image_damaged_in_the_written_zip_stops_the_backup(store: SQLiteRecordStore, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.core.records import backup

    store.save_study(make_draft(*write_test_png(tmp_path / "a.png", seed=1)))
    real_verify = backup._verify

    def damaged_then_verified(zip_path: Path, plan) -> None:
        # One byte of the stored image flipped on the way to the USB stick.
        with zipfile.ZipFile(zip_path) as archive:
            info = archive.getinfo(plan.images[0][0])
        data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw = bytearray(zip_path.read_bytes())
        raw[data_start + info.compress_size // 2] ^= 0xFF
        zip_path.write_bytes(bytes(raw))
        real_verify(zip_path, plan)

    monkeypatch.setattr(backup, "_verify", damaged_then_verified)
    target = tmp_path / "backup.zip"
    with pytest.raises(RecordError, match=r"The backup was not written: the backup's copy of .+ does not read back"):
        write_backup(prepare_backup(store), target)
    assert not target.exists()
