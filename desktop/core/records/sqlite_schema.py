"""The records database file itself: connection settings, the write lock, the schema and its
migrations. All SQL stays in the ``sqlite_*`` modules of this package.

Durability choices, because these are patient records:

* ``journal_mode=WAL``: readers (the history list) never block the writer, and a crash
  cannot corrupt the file, only lose the transaction in flight.
* ``synchronous=FULL``: in WAL mode ``NORMAL`` skips the fsync at commit, so a power cut can
  silently lose studies the user was told were saved. ``FULL`` syncs the log at every
  commit; it costs a few milliseconds per save, which a person clicking Save never notices.
* ``foreign_keys=ON``: SQLite leaves it off by default; on, deleting a patient cascades to
  their studies and predictions, and a prediction can never point at a missing study.

The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS` is applied in order at open.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from desktop.core.records.values import RecordError

__all__ = ["MIGRATIONS", "configure_connection", "fold", "migrate", "schema_version", "write_transaction"]

log = logging.getLogger(__name__)

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
    (  # 3: what the body-part guard said, and its warning, so a reopened study or a reprinted
       #    report never hides that the models did not fit the image. Older studies: none.
        "ALTER TABLE studies ADD COLUMN body_part_check_json TEXT",
        "ALTER TABLE studies ADD COLUMN warnings_json TEXT NOT NULL DEFAULT '[]'",
    ),
    (  # 4: knee models read each located joint: which joint (box and side) every answer is for,
       #    and the joints found, so a reopened study or a reprinted report shows the boxes again.
       #    NULL region: the whole image; NULL joints: nobody looked (older studies too).
        "ALTER TABLE predictions ADD COLUMN region_json TEXT",
        "ALTER TABLE predictions ADD COLUMN region_side TEXT",
        "ALTER TABLE studies ADD COLUMN knee_joints_json TEXT",
    ),
    (  # 5: distances the doctor measured on the image (line ends in image pixels), so a
       #    reopened study shows them again and the report prints them. Older studies: none.
        "ALTER TABLE studies ADD COLUMN measurements_json TEXT NOT NULL DEFAULT '[]'",
    ),
)


def fold(text: str | None) -> str:
    """Case- and width-insensitive form for searching (NFKC + casefold, every script)."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def configure_connection(db: sqlite3.Connection) -> None:
    """Register the search-folding function and set the durability pragmas on a new connection."""
    db.create_function("xr_fold", 1, fold, deterministic=True)
    db.execute("PRAGMA foreign_keys = ON")
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # e.g. some network shares; still safe, only slower
        log.warning("records database runs in %s journal mode, not WAL", mode)
    db.execute("PRAGMA synchronous = FULL")


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction that commits on success and rolls back on any exception."""
    # IMMEDIATE takes the write lock up front, so two windows never interleave a save.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def schema_version(db: sqlite3.Connection) -> int:
    """The number of migrations applied to this database."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Apply the missing migrations, each in its own transaction; refuse a newer schema."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise RecordError(
            f"The records database is from a newer XRayDesk (schema {version}); update the app to open it."
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        with write_transaction(db):
            if schema_version(db) >= number:  # another window migrated while we waited
                continue
            for statement in MIGRATIONS[number - 1]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        log.info("records database upgraded to schema %d", number)
