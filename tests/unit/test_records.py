"""The records store: round trips, migrations, search, deletion, CSV export, durability settings."""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from desktop.core.body_part import BodyPartCheck
from desktop.core.joint_regions import JointRegion
from desktop.core.measurement import Distance
from desktop.core.model_card import load_card
from desktop.core.records import (
    PatientDetails,
    RecordError,
    SQLiteRecordStore,
    StudyQuery,
    export_studies_csv,
)
from desktop.core.records.export import study_rows
from desktop.core.records.sqlite_store import DATABASE_NAME, MIGRATIONS
from desktop.core.records.values import CardSummary
from tests.fixtures.records import chest_prediction, knee_prediction, make_draft, write_test_png
from tests.fixtures.tiny_models import make_tiny_model_dir


class Clock:
    """A hand-set clock so date-range searches are deterministic."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def store(tmp_path: Path):
    s = SQLiteRecordStore.open(tmp_path / "data")
    yield s
    s.close()


def _png(tmp_path: Path, seed: int = 0) -> tuple[Path, str]:
    return write_test_png(tmp_path / f"scan-{seed}.png", seed=seed)


def test_fresh_database_settings(store: SQLiteRecordStore) -> None:
    db = store._db
    assert store.schema_version == len(MIGRATIONS) == 5
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.integrity_check() == "ok"


def test_study_round_trip(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    draft = make_draft(image, sha)
    saved = store.save_study(draft)

    again = store.get_study(saved.key)
    assert again == saved
    assert again.patient.details == draft.patient
    assert again.notes == draft.notes and again.impression == draft.impression and again.doctor_name == draft.doctor_name
    assert again.patient_form == dict(draft.patient_form) and again.risk == dict(draft.risk)
    assert again.acquisition == draft.acquisition
    assert again.report_id.startswith("XR-") and len(again.report_id) == len("XR-YYYYMMDD-ABCDEF")
    assert again.report_id[3:11] == again.created_at.strftime("%Y%m%d")
    # The image is a content-addressed copy, not the user's file.
    assert again.image_path == store.root / "images" / f"{sha}.png"
    assert again.image_path.read_bytes() == image.read_bytes()
    image.unlink()  # the user deletes the original: the study keeps working
    assert store.archive.verify("images/" + again.image_path.name, sha)
    chest, knee = again.predictions
    assert chest == draft.predictions[0] and knee == draft.predictions[1]
    assert chest.card is not None and chest.card.metrics["n"] == 787
    assert knee.derived[0].label == "Osteoarthritis" and knee.warnings == ("Image is small.",)
    # 8-bit storage of the heat map: within half a level.
    assert np.abs(chest.heatmap - draft.predictions[0].heatmap).max() <= 0.5 / 255 + 1e-6
    assert knee.heatmap is None
    assert store.get_study(saved.key, with_heatmaps=False).predictions[0].heatmap is None


KNEE_CHECK = BodyPartCheck(label="knee", probability=0.93,
                            probabilities={"knee": 0.93, "chest": 0.04, "other_bone": 0.02, "not_xray": 0.01},
                            model_id="body_part", model_version="1.0.0")
CHEST_ON_KNEE = "This looks like a knee X-ray (93%); the chest models are not valid for it."


def test_body_part_check_and_warning_round_trip(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    saved = store.save_study(make_draft(image, sha, body_part_check=KNEE_CHECK, warnings=(CHEST_ON_KNEE,)))
    again = store.get_study(saved.key)
    assert again.body_part_check == KNEE_CHECK and again.warnings == (CHEST_ON_KNEE,)
    # Saved again without a guard answer (e.g. re-run as a knee study): nothing stale remains.
    store.save_study(make_draft(image, sha, study_key=saved.key))
    again = store.get_study(saved.key)
    assert again.body_part_check is None and again.warnings == ()


def test_version_2_database_upgrades_with_no_warnings(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = SQLiteRecordStore.open(root)
    old = store.save_study(make_draft(*_png(tmp_path)))
    db = store._db
    # Back to schema 2: what a database written by an older release looks like.
    _drop_schema_4(db)
    db.execute("ALTER TABLE studies DROP COLUMN body_part_check_json")
    db.execute("ALTER TABLE studies DROP COLUMN warnings_json")
    db.execute("PRAGMA user_version = 2")
    store.close()

    store = SQLiteRecordStore.open(root)
    assert store.schema_version == len(MIGRATIONS)
    study = store.get_study(old.key)
    assert study.report_id == old.report_id and study.body_part_check is None and study.warnings == ()
    later = store.save_study(make_draft(*_png(tmp_path, 1), warnings=(CHEST_ON_KNEE,)))
    assert store.get_study(later.key).warnings == (CHEST_ON_KNEE,)
    store.close()


def _drop_schema_5(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE studies DROP COLUMN measurements_json")


def _drop_schema_4(db: sqlite3.Connection) -> None:
    _drop_schema_5(db)
    db.execute("ALTER TABLE predictions DROP COLUMN region_json")
    db.execute("ALTER TABLE predictions DROP COLUMN region_side")
    db.execute("ALTER TABLE studies DROP COLUMN knee_joints_json")


LEFT = JointRegion(box=(40, -6, 120, 120), score=0.91, side="image_left")
RIGHT = JointRegion(box=(44, 300, 118, 118), score=0.84, side="image_right")


def test_knee_joints_and_regions_round_trip(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    left = replace(knee_prediction(), region=LEFT.box, region_side=LEFT.side)
    right = replace(knee_prediction(), region=RIGHT.box, region_side=RIGHT.side, label="3")
    saved = store.save_study(make_draft(image, sha, body_part="knee", predictions=(chest_prediction(), left, right),
                                        knee_joints=(LEFT, RIGHT)))
    again = store.get_study(saved.key)
    assert again.knee_joints == (LEFT, RIGHT)
    chest, left_again, right_again = again.predictions
    assert chest.region is None and chest.region_side is None
    assert left_again.region == (40, -6, 120, 120) and left_again.region_side == "image_left"  # past the edge is kept
    assert right_again == right and right_again.to_prediction().region == RIGHT.box
    assert right_again.to_prediction().region_side == "image_right"
    # Searched and found nothing is not the same as never searched.
    nothing = store.save_study(make_draft(*_png(tmp_path, 1), knee_joints=()))
    assert store.get_study(nothing.key).knee_joints == ()
    assert store.get_study(store.save_study(make_draft(*_png(tmp_path, 2))).key).knee_joints is None
    [summary] = [s for s in store.search_studies(StudyQuery()) if s.key == saved.key]
    assert "image left: 2 50%" in summary.findings and "image right: 3" in summary.findings
    header, rows = study_rows([again])
    assert header[-4:] == ["tiny_knee (image left) label", "tiny_knee (image left) probability",
                           "tiny_knee (image right) label", "tiny_knee (image right) probability"]
    assert rows[0][-4] == "2" and rows[0][-2] == "3"  # each knee in its own columns
    # The doctor named the knees: the study list says which knee each finding is about.
    named = (replace(LEFT, patient_side="right", sided_by="user"), replace(RIGHT, patient_side="left", sided_by="user"))
    store.save_study(make_draft(image, sha, body_part="knee", predictions=(left, right), knee_joints=named,
                                study_key=saved.key))
    [summary] = [s for s in store.search_studies(StudyQuery()) if s.key == saved.key]
    assert summary.findings == "right knee (image left): 2 50%; left knee (image right): 3 25%"


def test_version_3_database_upgrades_with_whole_image_predictions(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = SQLiteRecordStore.open(root)
    old = store.save_study(make_draft(*_png(tmp_path), warnings=(CHEST_ON_KNEE,)))
    db = store._db
    # Back to schema 3: what a database written by the previous release looks like.
    _drop_schema_4(db)
    db.execute("PRAGMA user_version = 3")
    store.close()

    store = SQLiteRecordStore.open(root)
    assert store.schema_version == len(MIGRATIONS)
    study = store.get_study(old.key)
    assert study.report_id == old.report_id and study.warnings == (CHEST_ON_KNEE,)
    assert study.knee_joints is None and all(p.region is None and p.region_side is None for p in study.predictions)
    later = store.save_study(make_draft(*_png(tmp_path, 1), knee_joints=(LEFT,),
                                        predictions=(replace(knee_prediction(), region=LEFT.box, region_side="single"),)))
    again = store.get_study(later.key)
    assert again.knee_joints == (LEFT,) and again.predictions[0].region_side == "single"
    store.close()


def test_update_in_place_keeps_report_id_and_replaces_predictions(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    first = store.save_study(make_draft(image, sha))
    updated = store.save_study(make_draft(image, sha, study_key=first.key, notes="Revised.",
                                          predictions=(chest_prediction(p_positive=0.2),)))
    assert updated.key == first.key and updated.report_id == first.report_id
    assert updated.notes == "Revised." and [p.label for p in updated.predictions] == ["NORMAL"]
    assert store._db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 1


def test_patient_id_links_studies_and_blanks_do_not_erase(store: SQLiteRecordStore, tmp_path: Path) -> None:
    a = store.save_study(make_draft(*_png(tmp_path, 1)))
    b = store.save_study(make_draft(*_png(tmp_path, 2), patient=PatientDetails(patient_id="P-001")))
    assert a.patient.key == b.patient.key
    assert b.patient.details.name == "Иван Петров"  # the blank name did not erase the stored one
    walk_in = store.save_study(make_draft(*_png(tmp_path, 3), patient=PatientDetails(name="Walk-in")))
    assert walk_in.patient.key != a.patient.key
    [summary] = [p for p in store.search_patients() if p.patient.key == a.patient.key]
    assert summary.study_count == 2


def test_changed_file_is_refused_and_nothing_is_stored(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    image.write_bytes(image.read_bytes() + b"edited")
    with pytest.raises(RecordError, match="changed on disk"):
        store.save_study(make_draft(image, sha))
    assert store.search_studies(StudyQuery()) == []
    assert list((store.root / "images").iterdir()) == []


def test_search_by_text_date_type_and_label(tmp_path: Path) -> None:
    tz = timezone(timedelta(hours=3))
    clock = Clock(datetime(2024, 5, 1, 9, 0, tzinfo=tz))
    store = SQLiteRecordStore.open(tmp_path / "data", clock=clock)
    ivan = store.save_study(make_draft(*_png(tmp_path, 1)))
    clock.now = datetime(2024, 5, 10, 23, 30, tzinfo=tz)
    arabic = store.save_study(make_draft(*_png(tmp_path, 2), body_part="knee",
                                         patient=PatientDetails(name="محمد علي", patient_id="AR-7"),
                                         predictions=(chest_prediction(p_positive=0.1),)))
    clock.now = datetime(2024, 6, 2, 8, 0, tzinfo=tz)
    hindi = store.save_study(make_draft(*_png(tmp_path, 3), patient=PatientDetails(name="राम शर्मा", patient_id="IN-9")))

    def keys(**kw: object) -> list[int]:
        return [s.key for s in store.search_studies(StudyQuery(**kw))]

    assert keys() == [hindi.key, arabic.key, ivan.key]  # newest first
    assert keys(text="иван") == [ivan.key]  # Unicode case folding, not SQLite's ASCII-only LIKE
    assert keys(text="ПЕТРОВ") == [ivan.key]
    assert keys(text="علي") == [arabic.key]
    assert keys(text="शर्मा") == [hindi.key]
    assert keys(text="ar-7") == [arabic.key]
    assert keys(text=hindi.report_id.lower()) == [hindi.key]
    assert keys(text="100%") == []  # wildcards in the query are literal
    assert keys(date_from=date(2024, 5, 10), date_to=date(2024, 5, 10)) == [arabic.key]  # 23:30 counts for its day
    assert keys(date_from=date(2024, 5, 2)) == [hindi.key, arabic.key]
    assert keys(date_to=date(2024, 5, 9)) == [ivan.key]
    assert keys(body_part="knee") == [arabic.key]
    assert keys(label="normal") == [arabic.key]
    assert keys(label="PNEUMONIA", body_part="chest") == [hindi.key, ivan.key]
    assert keys(patient_key=arabic.patient.key) == [arabic.key]
    [summary] = store.search_studies(StudyQuery(text="محمد"))
    assert summary.findings == "NORMAL 90%" and summary.patient_id == "AR-7"
    assert [p.patient.details.name for p in store.search_patients(text="ram")] == []
    assert [p.patient.details.patient_id for p in store.search_patients(text="in-")] == ["IN-9"]
    everyone = [p.patient.key for p in store.search_patients()]
    assert len(everyone) == 3 and [p.patient.key for p in store.search_patients(limit=2)] == everyone[:2]
    store.close()


def test_delete_study_and_patient_cascade(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path, 1)
    first = store.save_study(make_draft(image, sha))
    second = store.save_study(make_draft(image, sha))  # same image, same patient: one shared copy
    other = store.save_study(make_draft(*_png(tmp_path, 2), patient=PatientDetails(name="Other")))
    assert first.image_path == second.image_path

    store.delete_study(first.key)
    assert second.image_path.exists(), "the copy is still used by the second study"
    with pytest.raises(RecordError):
        store.get_study(first.key)

    removed = store.delete_patient(second.patient.key)
    assert removed == 1
    assert not second.image_path.exists()
    db = store._db
    assert db.execute("SELECT count(*) FROM predictions WHERE study IN (?, ?)", (first.key, second.key)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM patients WHERE id = ?", (second.patient.key,)).fetchone()[0] == 0
    assert [s.key for s in store.search_studies(StudyQuery())] == [other.key]
    assert other.image_path.exists()
    assert store.integrity_check() == "ok"


def test_csv_export(store: SQLiteRecordStore, tmp_path: Path) -> None:
    sided = (JointRegion((0, 0, 9, 9), 0.9, "image_left", patient_side="right", sided_by="header"),
             JointRegion((0, 20, 9, 9), 0.9, "image_right", patient_side="left", sided_by="header"))
    one = store.save_study(make_draft(*_png(tmp_path, 1), measurements=(Distance((0.0, 0.0), (30.0, 40.0)),),
                                      knee_joints=sided))
    two = store.save_study(make_draft(*_png(tmp_path, 2), patient=PatientDetails(name="=HYPERLINK(\"x\")"),
                                      predictions=(chest_prediction(p_positive=0.2),), impression="Clear lungs.",
                                      warnings=(CHEST_ON_KNEE,)))
    target = tmp_path / "studies.csv"
    assert export_studies_csv(store, target) == 2
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so spreadsheets read the names as UTF-8
    with open(target, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["report_id"] for r in rows] == [one.report_id, two.report_id]
    first, second = rows
    assert first["patient_name"] == "Иван Петров" and first["patient_id"] == "P-001"
    assert first["study_type"] == "chest" and first["impression"] == "Likely pneumonia."
    assert first["tiny_chest label"] == "PNEUMONIA" and float(first["tiny_chest probability"]) == pytest.approx(0.93)
    assert first["tiny_knee label"] == "2" and float(first["tiny_knee probability"]) == pytest.approx(0.5)
    assert second["tiny_knee label"] == "" and second["tiny_chest label"] == "NORMAL"
    assert float(second["tiny_chest probability"]) == pytest.approx(0.8)
    # A model's own warning about its reading is named by model, after the study's warnings.
    assert first["warnings"] == "Tiny knee model: Image is small." and second["warnings"] == CHEST_ON_KNEE
    # 30 columns of 0.15 mm and 40 rows of 0.143 mm: hypot(4.5, 5.72) = 7.28 mm.
    assert first["measurements"] == "1: 7.3 mm" and second["measurements"] == ""
    assert first["knee_sides"] == "image left: right knee, image right: left knee (DICOM header)"
    assert second["knee_sides"] == ""
    assert second["patient_name"].startswith("'=")  # never a live formula
    assert datetime.fromisoformat(first["study_saved_at"]) == one.created_at


def test_version_1_database_upgrades(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    db = sqlite3.connect(root / DATABASE_NAME)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO patients (id, name, patient_id, created_at, updated_at) VALUES (1, 'Иван Петров', 'OLD-1', '2023-01-01T10:00:00+00:00', '2023-01-01T10:00:00+00:00')")
    db.execute(
        "INSERT INTO studies (id, patient, created_at, updated_at, body_part, image_path, image_sha256, image_format,"
        " original_file_name, report_id) VALUES (1, 1, '2023-01-01T10:00:00+00:00', '2023-01-01T10:00:00+00:00',"
        " 'chest', 'images/x.png', 'x', 'PNG', 'x.png', 'XR-20230101-ABCDEF')"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    store = SQLiteRecordStore.open(root)
    assert store.schema_version == len(MIGRATIONS)
    assert [s.report_id for s in store.search_studies(StudyQuery(text="иван"))] == ["XR-20230101-ABCDEF"]
    indexes = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"patients_search_key", "studies_created_at", "predictions_label"} <= indexes
    store.close()
    assert SQLiteRecordStore.open(root).schema_version == len(MIGRATIONS)  # reopening does not migrate twice


def test_newer_database_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "data"
    SQLiteRecordStore.open(root).close()
    db = sqlite3.connect(root / DATABASE_NAME)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(RecordError, match="newer XRayDesk"):
        SQLiteRecordStore.open(root)


def test_not_a_database_is_a_record_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / DATABASE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RecordError, match="cannot be used"):
        SQLiteRecordStore.open(root)


def test_store_defaults_to_the_user_data_folder(_user_data_dir: Path) -> None:
    store = SQLiteRecordStore.open()
    assert store.root == _user_data_dir and (_user_data_dir / DATABASE_NAME).is_file()
    store.close()


def test_report_ids_are_unique(store: SQLiteRecordStore, tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    ids = {store.save_study(make_draft(image, sha)).report_id for _ in range(20)}
    assert len(ids) == 20


def test_draft_helpers_keep_frozen_values(tmp_path: Path) -> None:
    image, sha = _png(tmp_path)
    draft = make_draft(image, sha)
    with pytest.raises(AttributeError):
        draft.notes = "x"  # type: ignore[misc]
    assert replace(draft, notes="y").notes == "y"


def test_acquisition_facts_come_from_the_dicom_info() -> None:
    from desktop.core.imaging import XRayImage
    from desktop.core.records import Acquisition

    image = XRayImage(
        pixels=np.zeros((16, 16), dtype=np.float32), source_path=Path("x.dcm"), format="DICOM", bits_stored=12,
        pixel_spacing_mm=(0.139, 0.139), sha256="0" * 64,
        info={"Modality": "CR", "Study date": "2021-06-30", "Body part": "KNEE", "Manufacturer": "Agfa CR 85"},
    )
    assert Acquisition.from_image(image) == Acquisition(
        modality="CR", study_date="2021-06-30", body_part="KNEE", manufacturer="Agfa CR 85", pixel_spacing_mm=(0.139, 0.139)
    )
    plain = XRayImage(pixels=np.zeros((16, 16), dtype=np.float32), source_path=Path("x.png"), format="PNG",
                      bits_stored=8, pixel_spacing_mm=None, sha256="0" * 64, info={})
    assert Acquisition.from_image(plain) == Acquisition()


def test_measurements_round_trip_and_version_4_database_upgrades_without_any(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = SQLiteRecordStore.open(root)
    lines = (Distance((10.5, 20.0), (110.0, 20.0)), Distance((5.0, 5.0), (5.0, 45.25)))
    measured = store.save_study(make_draft(*_png(tmp_path), measurements=lines))
    assert store.get_study(measured.key).measurements == lines
    # Saved again after the doctor cleared them: none come back.
    store.save_study(make_draft(*_png(tmp_path), study_key=measured.key))
    assert store.get_study(measured.key).measurements == ()
    older = store.save_study(make_draft(*_png(tmp_path, 1), measurements=lines))
    # Back to schema 4: what a database written by the previous release looks like.
    _drop_schema_5(store._db)
    store._db.execute("PRAGMA user_version = 4")
    store.close()

    store = SQLiteRecordStore.open(root)
    assert store.schema_version == len(MIGRATIONS)
    assert store.get_study(older.key).measurements == ()
    later = store.save_study(make_draft(*_png(tmp_path, 2), measurements=lines[:1]))
    assert store.get_study(later.key).measurements == lines[:1]
    store.close()


def test_an_archived_image_is_refused_once_changed_on_disk(store: SQLiteRecordStore, tmp_path: Path) -> None:
    from desktop.core.records.image_archive import load_archived_image

    record = store.save_study(make_draft(*_png(tmp_path, 3)))
    assert load_archived_image(record).sha256 == record.image_sha256
    write_test_png(record.image_path, seed=4)
    with pytest.raises(RecordError, match="changed on disk"):
        load_archived_image(record)


def test_a_study_keeps_the_limits_its_report_states(tmp_path: Path) -> None:
    card_path = make_tiny_model_dir(tmp_path) / "model.json"
    card = replace(load_card(card_path), clinical_limitations=("Detects blobs, not disease.",))
    assert CardSummary.from_card(card).limitations == ("Detects blobs, not disease.",)
    assert CardSummary.from_card(load_card(card_path)).limitations == load_card(card_path).limitations
