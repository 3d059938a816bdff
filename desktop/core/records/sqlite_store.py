"""The embedded records database: SQLite in the user's data folder. All SQL lives here.

Durability choices, because these are patient records:

* ``journal_mode=WAL``: readers (the history list) never block the writer, and a crash
  cannot corrupt the file, only lose the transaction in flight.
* ``synchronous=FULL``: in WAL mode ``NORMAL`` skips the fsync at commit, so a power cut can
  silently lose studies the user was told were saved. ``FULL`` syncs the log at every
  commit; it costs a few milliseconds per save, which a person clicking Save never notices.
* ``foreign_keys=ON``: SQLite leaves it off by default; on, deleting a patient cascades to
  their studies and predictions, and a prediction can never point at a missing study.
* A study is saved in ONE transaction, after its image copy is complete on disk.

The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS` is applied in order at open.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from desktop import paths
from desktop.core.prediction import DerivedPrediction
from desktop.core.records.image_archive import ImageArchive
from desktop.core.records.store import new_report_id, now_local
from desktop.core.records.values import (
    Acquisition,
    CardSummary,
    PatientDetails,
    PatientInfo,
    PatientSummary,
    RecordError,
    StoredPrediction,
    StudyDraft,
    StudyQuery,
    StudyRecord,
    StudySummary,
    decode_heatmap,
    encode_heatmap,
)

__all__ = ["DATABASE_NAME", "MIGRATIONS", "SQLiteRecordStore", "fold"]

log = logging.getLogger(__name__)

DATABASE_NAME = "records.sqlite3"
BUSY_TIMEOUT_S = 10.0  # a second XRayDesk window may be mid-save
ORPHAN_GRACE_S = 3600.0
_REPORT_ID_ATTEMPTS = 5

# Each migration is a list of statements run in one transaction with its user_version bump.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: initial schema
        """CREATE TABLE patients (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', patient_id TEXT NOT NULL DEFAULT '',
            date_of_birth TEXT NOT NULL DEFAULT '', sex TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        # A clinic's patient ID names one person; blank IDs (walk-ins) may repeat.
        "CREATE UNIQUE INDEX patients_patient_id ON patients(patient_id) WHERE patient_id != ''",
        """CREATE TABLE studies (
            id INTEGER PRIMARY KEY,
            patient INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, body_part TEXT NOT NULL,
            image_path TEXT NOT NULL, image_sha256 TEXT NOT NULL, image_format TEXT NOT NULL,
            original_file_name TEXT NOT NULL,
            modality TEXT NOT NULL DEFAULT '', study_date TEXT NOT NULL DEFAULT '',
            acquisition_body_part TEXT NOT NULL DEFAULT '', manufacturer TEXT NOT NULL DEFAULT '',
            pixel_spacing_row_mm REAL, pixel_spacing_col_mm REAL,
            patient_form_json TEXT, risk_json TEXT,
            notes TEXT NOT NULL DEFAULT '', impression TEXT NOT NULL DEFAULT '',
            doctor_name TEXT NOT NULL DEFAULT '', report_id TEXT NOT NULL UNIQUE)""",
        "CREATE INDEX studies_patient ON studies(patient)",
        """CREATE TABLE predictions (
            id INTEGER PRIMARY KEY,
            study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, model_id TEXT NOT NULL, model_name TEXT NOT NULL,
            model_version TEXT NOT NULL, card_sha256 TEXT NOT NULL, body_part TEXT NOT NULL,
            label TEXT NOT NULL, labels_json TEXT NOT NULL, probabilities_json TEXT NOT NULL,
            threshold REAL, positive_label TEXT, calibrated INTEGER NOT NULL,
            derived_json TEXT NOT NULL, heatmap_method TEXT NOT NULL, heatmap_label TEXT,
            heatmap BLOB, warnings_json TEXT NOT NULL, card_json TEXT, created_at TEXT NOT NULL)""",
        "CREATE INDEX predictions_study ON predictions(study)",
    ),
    (  # 2: search any script in any case (SQLite's LIKE folds ASCII only: 'иван' missed 'Иван'),
       #    and indexes for the history list's date range and label filters.
        "ALTER TABLE patients ADD COLUMN search_key TEXT NOT NULL DEFAULT ''",
        "UPDATE patients SET search_key = xr_fold(name) || char(31) || xr_fold(patient_id)",
        "CREATE INDEX patients_search_key ON patients(search_key)",
        "CREATE INDEX studies_created_at ON studies(created_at)",
        "CREATE INDEX predictions_label ON predictions(label COLLATE NOCASE)",
    ),
)


def fold(text: str | None) -> str:
    """Case- and width-insensitive form for searching (NFKC + casefold, every script)."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


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
            db.create_function("xr_fold", 1, fold, deterministic=True)
            db.execute("PRAGMA foreign_keys = ON")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. some network shares; still safe, only slower
                log.warning("records database runs in %s journal mode, not WAL", mode)
            db.execute("PRAGMA synchronous = FULL")
            store = cls(db, root, clock=clock)
            store._migrate()
            store._sweep_orphans(orphan_grace_s)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise RecordError(f"The records database {root / DATABASE_NAME} cannot be used: {exc}.") from exc
        except BaseException:
            db.close()
            raise
        return store

    # ---------------------------------------------------------------- plumbing
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two windows never interleave a save.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        return "\n".join(str(row[0]) for row in self._db.execute("PRAGMA integrity_check"))

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise RecordError(
                f"The records database is from a newer XRayDesk (schema {version}); update the app to open it."
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            with self._transaction() as db:
                if self.schema_version >= number:  # another window migrated while we waited
                    continue
                for statement in MIGRATIONS[number - 1]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            log.info("records database upgraded to schema %d", number)

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
            "patient_form_json": _json(draft.patient_form), "risk_json": _json(draft.risk),
            "notes": draft.notes, "impression": draft.impression, "doctor_name": draft.doctor_name,
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
                " heatmap_method, heatmap_label, heatmap, warnings_json, card_json, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (study_key, position, p.model_id, p.model_name, p.model_version, p.card_sha256, p.body_part,
                 p.label, _json(list(p.labels)), _json(list(p.probabilities)), p.threshold, p.positive_label,
                 int(p.calibrated), _json([asdict(d) for d in p.derived]), p.heatmap_method, p.heatmap_label,
                 encode_heatmap(p.heatmap), _json(list(p.warnings)),
                 _json(asdict(p.card)) if p.card is not None else None, now.isoformat()),
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
            columns = _PREDICTION_COLUMNS + (", heatmap" if with_heatmaps else ", NULL AS heatmap")
            predictions = tuple(
                _prediction(r) for r in db.execute(f"SELECT {columns} FROM predictions WHERE study = ? ORDER BY position", (study_key,))
            )
        finally:
            db.row_factory = None
        spacing = (row["pixel_spacing_row_mm"], row["pixel_spacing_col_mm"])
        return StudyRecord(
            key=row["id"],
            patient=PatientInfo(
                key=row["p_id"],
                details=PatientDetails(name=row["p_name"], patient_id=row["p_patient_id"], date_of_birth=row["p_dob"], sex=row["p_sex"]),
                created_at=datetime.fromisoformat(row["p_created"]), updated_at=datetime.fromisoformat(row["p_updated"]),
            ),
            created_at=datetime.fromisoformat(row["created_at"]), updated_at=datetime.fromisoformat(row["updated_at"]),
            body_part=row["body_part"], image_path=self.archive.absolute(row["image_path"]),
            image_sha256=row["image_sha256"], image_format=row["image_format"], original_file_name=row["original_file_name"],
            acquisition=Acquisition(modality=row["modality"], study_date=row["study_date"], body_part=row["acquisition_body_part"],
                                    manufacturer=row["manufacturer"], pixel_spacing_mm=spacing if spacing[0] is not None else None),
            predictions=predictions, patient_form=_loads(row["patient_form_json"]), risk=_loads(row["risk_json"]),
            notes=row["notes"], impression=row["impression"], doctor_name=row["doctor_name"], report_id=row["report_id"],
        )

    def search_studies(self, query: StudyQuery) -> list[StudySummary]:
        where, args = ["1"], []
        if query.text.strip():
            where.append("(p.search_key LIKE ? ESCAPE '\\' OR s.report_id LIKE ? ESCAPE '\\')")
            args += [_like_pattern(fold(query.text.strip())), _like_pattern(query.text.strip())]
        if query.date_from is not None:
            where.append("s.created_at >= ?")
            args.append(query.date_from.isoformat())
        if query.date_to is not None:  # ISO text sorts by time, so "before the next day" is exact
            where.append("s.created_at < ?")
            args.append((query.date_to + timedelta(days=1)).isoformat())
        if query.body_part:
            where.append("s.body_part = ?")
            args.append(query.body_part)
        if query.label:
            where.append("EXISTS (SELECT 1 FROM predictions pr WHERE pr.study = s.id AND pr.label = ? COLLATE NOCASE)")
            args.append(query.label.strip())
        if query.patient_key is not None:
            where.append("s.patient = ?")
            args.append(query.patient_key)
        rows = self._db.execute(
            "SELECT s.id, s.patient, p.name, p.patient_id, s.created_at, s.body_part, s.impression, s.report_id"
            f" FROM studies s JOIN patients p ON p.id = s.patient WHERE {' AND '.join(where)}"
            " ORDER BY s.created_at DESC, s.id DESC LIMIT ?", (*args, query.limit),
        ).fetchall()
        findings: dict[int, list[str]] = {}
        keys = [r[0] for r in rows]
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-variable limit
            chunk = keys[start:start + 500]
            for study, label, labels, probs in self._db.execute(
                f"SELECT study, label, labels_json, probabilities_json FROM predictions WHERE study IN"
                f" ({','.join('?' * len(chunk))}) ORDER BY study, position", chunk,
            ):
                names, values = json.loads(labels), json.loads(probs)
                share = values[names.index(label)] if label in names else max(values)
                findings.setdefault(study, []).append(f"{label} {share * 100:.0f}%")
        return [
            StudySummary(key=r[0], patient_key=r[1], patient_name=r[2], patient_id=r[3],
                         created_at=datetime.fromisoformat(r[4]), body_part=r[5], findings="; ".join(findings.get(r[0], [])),
                         impression=r[6], report_id=r[7])
            for r in rows
        ]

    def search_patients(self, *, text: str = "") -> list[PatientSummary]:
        rows = self._db.execute(
            "SELECT p.id, p.name, p.patient_id, p.date_of_birth, p.sex, p.created_at, p.updated_at, count(s.id), max(s.created_at)"
            " FROM patients p LEFT JOIN studies s ON s.patient = p.id WHERE p.search_key LIKE ? ESCAPE '\\'"
            " GROUP BY p.id ORDER BY p.search_key, p.id", (_like_pattern(fold(text.strip())),),
        ).fetchall()
        return [
            PatientSummary(
                patient=PatientInfo(key=r[0], details=PatientDetails(name=r[1], patient_id=r[2], date_of_birth=r[3], sex=r[4]),
                                    created_at=datetime.fromisoformat(r[5]), updated_at=datetime.fromisoformat(r[6])),
                study_count=r[7], last_study_at=datetime.fromisoformat(r[8]) if r[8] else None,
            )
            for r in rows
        ]

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


_PREDICTION_COLUMNS = (
    "model_id, model_name, model_version, card_sha256, body_part, label, labels_json, probabilities_json, threshold,"
    " positive_label, calibrated, derived_json, heatmap_method, heatmap_label, warnings_json, card_json"
)


def _prediction(row: sqlite3.Row) -> StoredPrediction:
    card = _loads(row["card_json"])
    return StoredPrediction(
        model_id=row["model_id"], model_name=row["model_name"], model_version=row["model_version"],
        card_sha256=row["card_sha256"], body_part=row["body_part"], labels=tuple(json.loads(row["labels_json"])),
        probabilities=tuple(float(v) for v in json.loads(row["probabilities_json"])), label=row["label"],
        threshold=row["threshold"], positive_label=row["positive_label"], calibrated=bool(row["calibrated"]),
        derived=tuple(DerivedPrediction(**{**d, "labels": tuple(d["labels"])}) for d in json.loads(row["derived_json"])),
        heatmap_method=row["heatmap_method"], heatmap_label=row["heatmap_label"],
        warnings=tuple(json.loads(row["warnings_json"])),
        card=CardSummary(**{**card, "limitations": tuple(card.get("limitations", ()))}) if card else None,
        heatmap=decode_heatmap(row["heatmap"]),
    )
