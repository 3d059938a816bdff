"""The embedded records database: SQLite in the user's data folder, behind :class:`RecordStore`.

A study is saved in ONE transaction, after its image copy is complete on disk; deleting runs
the other way round (rows first, then the images nothing references any more), so a crash
leaves at worst an orphaned copy that the next open sweeps away, never a study without its
image.

Beside this module: :mod:`~desktop.core.records.sqlite_schema` (connection settings, the write
lock, schema and migrations), :mod:`~desktop.core.records.sqlite_rows` (rows to value objects)
and :mod:`~desktop.core.records.sqlite_search` (the history lists). All SQL stays in these
``sqlite_*`` modules.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from desktop import paths
from desktop.core.records import sqlite_search
from desktop.core.records.image_archive import ImageArchive
from desktop.core.records.sqlite_rows import (
    PREDICTION_COLUMNS,
    prediction_from_row,
    study_from_row,
    to_json,
)
from desktop.core.records.sqlite_schema import (
    MIGRATIONS,
    configure_connection,
    fold,
    migrate,
    schema_version,
    write_transaction,
)
from desktop.core.records.store import new_report_id, now_local
from desktop.core.records.values import (
    PatientDetails,
    PatientSummary,
    RecordError,
    StoredPrediction,
    StudyDraft,
    StudyQuery,
    StudyRecord,
    StudySummary,
    encode_heatmap,
)

# MIGRATIONS and fold are re-exported: tests and callers know them from this module.
__all__ = ["DATABASE_NAME", "MIGRATIONS", "SQLiteRecordStore", "fold"]

log = logging.getLogger(__name__)

DATABASE_NAME = "records.sqlite3"
BUSY_TIMEOUT_S = 10.0  # a second XRayDesk window may be mid-save
ORPHAN_GRACE_S = 3600.0
_REPORT_ID_ATTEMPTS = 5


class SQLiteRecordStore:
    """:class:`~desktop.core.records.store.RecordStore` on one SQLite file plus an image folder."""

    def __init__(self, connection: sqlite3.Connection, root: Path, *, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self.root = root
        self.archive = ImageArchive(root)
        self._clock = clock

    @classmethod
    def open(
        cls,
        root: Path | None = None,
        *,
        orphan_grace_s: float = ORPHAN_GRACE_S,
        clock: Callable[[], datetime] = now_local,
    ) -> SQLiteRecordStore:
        """Open (creating or upgrading) the store in ``root`` (default: the user data folder)."""
        root = Path(root) if root is not None else paths.user_data_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(root / DATABASE_NAME, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as exc:
            raise RecordError(f"Cannot open the records database in {root}: {exc}.") from exc
        try:
            configure_connection(db)
            store = cls(db, root, clock=clock)
            migrate(db)
            store._sweep_orphans(orphan_grace_s)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise RecordError(f"The records database {root / DATABASE_NAME} cannot be used: {exc}.") from exc
        except BaseException:
            db.close()
            raise
        return store

    # ---------------------------------------------------------------- plumbing
    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db)

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        return "\n".join(str(row[0]) for row in self._db.execute("PRAGMA integrity_check"))

    def backup_database(self, database_copy: Path) -> None:
        """Write a consistent copy of the database to ``database_copy`` with SQLite's online
        backup (other windows may keep saving meanwhile; the copy is of one moment)."""
        target = sqlite3.connect(database_copy)
        try:
            self._db.backup(target)
        finally:
            target.close()

    def _sweep_orphans(self, grace_s: float) -> None:
        # Under the write lock, so a save in another window cannot commit against a file we remove.
        with self._transaction() as db:
            referenced = [row[0] for row in db.execute("SELECT DISTINCT image_path FROM studies")]
            self.archive.remove_orphans(referenced, older_than_s=grace_s)

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ saving
    def save_study(self, draft: StudyDraft) -> StudyRecord:
        """Copy the image (durably), then write patient, study and predictions in ONE transaction."""
        relative = self.archive.store(draft.image_path, sha256=draft.image_sha256, image_format=draft.image_format)
        now = self._clock()
        old_path: str | None = None
        try:
            with self._transaction() as db:
                if not self.archive.absolute(relative).is_file():  # swept by another window meanwhile
                    self.archive.store(draft.image_path, sha256=draft.image_sha256, image_format=draft.image_format)
                if draft.study_key is not None:
                    row = db.execute("SELECT patient, image_path FROM studies WHERE id = ?", (draft.study_key,)).fetchone()
                    if row is None:
                        raise RecordError("The study was deleted meanwhile; save it as a new study.")
                    patient_key, old_path = draft.patient_key or row[0], row[1]
                else:
                    patient_key = draft.patient_key
                patient_key = self._upsert_patient(db, patient_key, draft.patient, now)
                study_key = self._write_study(db, draft, patient_key, relative, now)
                self._write_predictions(db, study_key, draft.predictions, now)
        except sqlite3.Error as exc:
            log.error("saving a study failed", exc_info=exc)
            raise RecordError(f"The study could not be saved: {exc}.") from exc
        if old_path and old_path != relative:
            self._remove_unreferenced([old_path])
        log.info("saved study %d (%s)", study_key, draft.original_file_name)
        return self.get_study(study_key)

    def _upsert_patient(self, db: sqlite3.Connection, key: int | None, details: PatientDetails, now: datetime) -> int:
        patient_id = details.patient_id.strip()
        if patient_id:  # the clinic's ID identifies the person, whatever row we were pointed at
            row = db.execute("SELECT id FROM patients WHERE patient_id = ?", (patient_id,)).fetchone()
            if row is not None:
                key = row[0]
        values = (details.name.strip(), patient_id, details.date_of_birth, details.sex)
        if key is None:
            cursor = db.execute(
                "INSERT INTO patients (name, patient_id, date_of_birth, sex, created_at, updated_at, search_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*values, now.isoformat(), now.isoformat(), f"{fold(values[0])}\x1f{fold(patient_id)}"),
            )
            return int(cursor.lastrowid)
        # Blank fields never erase what an earlier study recorded about the same patient.
        cursor = db.execute(
            "UPDATE patients SET name = COALESCE(NULLIF(?, ''), name), patient_id = COALESCE(NULLIF(?, ''), patient_id),"
            " date_of_birth = COALESCE(NULLIF(?, ''), date_of_birth), sex = COALESCE(NULLIF(?, ''), sex),"
            " updated_at = ? WHERE id = ?",
            (*values, now.isoformat(), key),
        )
        if cursor.rowcount == 0:
            raise RecordError("The patient was deleted meanwhile; save the study as a new patient.")
        db.execute("UPDATE patients SET search_key = xr_fold(name) || char(31) || xr_fold(patient_id) WHERE id = ?", (key,))
        return key

    def _write_study(self, db: sqlite3.Connection, draft: StudyDraft, patient_key: int, relative: str, now: datetime) -> int:
        acq = draft.acquisition
        spacing = acq.pixel_spacing_mm or (None, None)
        fields = {
            "patient": patient_key, "updated_at": now.isoformat(), "body_part": draft.body_part,
            "image_path": relative, "image_sha256": draft.image_sha256.lower(), "image_format": draft.image_format,
            "original_file_name": draft.original_file_name, "modality": acq.modality, "study_date": acq.study_date,
            "acquisition_body_part": acq.body_part, "manufacturer": acq.manufacturer,
            "pixel_spacing_row_mm": spacing[0], "pixel_spacing_col_mm": spacing[1],
            "patient_form_json": to_json(draft.patient_form), "risk_json": to_json(draft.risk),
            "notes": draft.notes, "impression": draft.impression, "doctor_name": draft.doctor_name,
            "body_part_check_json": to_json(draft.body_part_check.to_dict()) if draft.body_part_check else None,
            "warnings_json": to_json(list(draft.warnings)),
            "knee_joints_json": (
                to_json([joint.to_dict() for joint in draft.knee_joints]) if draft.knee_joints is not None else None
            ),
            "measurements_json": to_json([m.to_dict() for m in draft.measurements]),
        }
        if draft.study_key is not None:
            assignments = ", ".join(f"{name} = :{name}" for name in fields)
            db.execute(f"UPDATE studies SET {assignments} WHERE id = :id", {**fields, "id": draft.study_key})
            return draft.study_key
        fields["created_at"] = now.isoformat()
        columns = ", ".join([*fields, "report_id"])
        placeholders = ", ".join([f":{name}" for name in fields] + [":report_id"])
        for attempt in range(_REPORT_ID_ATTEMPTS):
            try:
                cursor = db.execute(f"INSERT INTO studies ({columns}) VALUES ({placeholders})",
                                    {**fields, "report_id": new_report_id(now)})
                return int(cursor.lastrowid)
            except sqlite3.IntegrityError as exc:  # a report-id clash: draw again
                if "report_id" not in str(exc) or attempt == _REPORT_ID_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write_predictions(self, db: sqlite3.Connection, study_key: int, predictions: tuple[StoredPrediction, ...], now: datetime) -> None:
        db.execute("DELETE FROM predictions WHERE study = ?", (study_key,))
        for position, p in enumerate(predictions):
            db.execute(
                "INSERT INTO predictions (study, position, model_id, model_name, model_version, card_sha256, body_part,"
                " label, labels_json, probabilities_json, threshold, positive_label, calibrated, derived_json,"
                " heatmap_method, heatmap_label, heatmap, warnings_json, card_json, created_at, region_json, region_side)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (study_key, position, p.model_id, p.model_name, p.model_version, p.card_sha256, p.body_part,
                 p.label, to_json(list(p.labels)), to_json(list(p.probabilities)), p.threshold, p.positive_label,
                 int(p.calibrated), to_json([asdict(d) for d in p.derived]), p.heatmap_method, p.heatmap_label,
                 encode_heatmap(p.heatmap), to_json(list(p.warnings)),
                 to_json(asdict(p.card)) if p.card is not None else None, now.isoformat(),
                 to_json(list(p.region)) if p.region is not None else None, p.region_side),
            )

    # ----------------------------------------------------------------- reading
    def get_study(self, study_key: int, *, with_heatmaps: bool = True) -> StudyRecord:
        db = self._db
        db.row_factory = sqlite3.Row
        try:
            row = db.execute(
                "SELECT s.*, p.id AS p_id, p.name AS p_name, p.patient_id AS p_patient_id, p.date_of_birth AS p_dob,"
                " p.sex AS p_sex, p.created_at AS p_created, p.updated_at AS p_updated"
                " FROM studies s JOIN patients p ON p.id = s.patient WHERE s.id = ?", (study_key,),
            ).fetchone()
            if row is None:
                raise RecordError(f"Study {study_key} is not in the records.")
            columns = PREDICTION_COLUMNS + (", heatmap" if with_heatmaps else ", NULL AS heatmap")
            predictions = tuple(
                prediction_from_row(r) for r in db.execute(f"SELECT {columns} FROM predictions WHERE study = ? ORDER BY position", (study_key,))
            )
        finally:
            db.row_factory = None
        return study_from_row(row, predictions=predictions, image_path=self.archive.absolute(row["image_path"]))

    def search_studies(self, query: StudyQuery) -> list[StudySummary]:
        return sqlite_search.search_studies(self._db, query)

    def search_patients(self, *, text: str = "", limit: int | None = None) -> list[PatientSummary]:
        return sqlite_search.search_patients(self._db, text=text, limit=limit)

    # ---------------------------------------------------------------- deleting
    def delete_study(self, study_key: int) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT image_path FROM studies WHERE id = ?", (study_key,)).fetchone()
            if row is None:
                raise RecordError(f"Study {study_key} is not in the records.")
            db.execute("DELETE FROM studies WHERE id = ?", (study_key,))
        log.info("deleted study %d", study_key)
        self._remove_unreferenced([row[0]])

    def delete_patient(self, patient_key: int) -> int:
        with self._transaction() as db:
            images = [r[0] for r in db.execute("SELECT image_path FROM studies WHERE patient = ?", (patient_key,))]
            if db.execute("DELETE FROM patients WHERE id = ?", (patient_key,)).rowcount == 0:
                raise RecordError(f"Patient {patient_key} is not in the records.")
        log.info("deleted patient %d with %d studies", patient_key, len(images))
        self._remove_unreferenced(images)
        return len(images)

    def _remove_unreferenced(self, relatives: list[str]) -> None:
        # After the deleting commit and under a fresh write lock: a crash in between leaves an
        # orphan (swept later), never a study without its image.
        with self._transaction() as db:
            for relative in set(relatives):
                if db.execute("SELECT 1 FROM studies WHERE image_path = ? LIMIT 1", (relative,)).fetchone() is None:
                    self.archive.remove(relative)

