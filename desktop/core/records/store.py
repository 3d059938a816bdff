"""The records interface the rest of the app talks to, whatever database sits behind it.

SQLite (:mod:`desktop.core.records.sqlite_store`) is the embedded default; a server database
would be a second class satisfying :class:`RecordStore`, with no change to the UI or export.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from desktop.core.records.values import (
    PatientSummary,
    StudyDraft,
    StudyQuery,
    StudyRecord,
    StudySummary,
)

__all__ = ["RecordStore", "new_report_id", "now_local"]

REPORT_ID_PREFIX = "XR"


def now_local() -> datetime:
    """The local time, to the second, with its UTC offset (what the store stamps rows with)."""
    return datetime.now().astimezone().replace(microsecond=0)


def new_report_id(when: datetime) -> str:
    """``XR-YYYYMMDD-<6 hex>``: readable on paper, and 16.7 million ids per day make a clash
    rare (the store still retries on one)."""
    return f"{REPORT_ID_PREFIX}-{when:%Y%m%d}-{secrets.token_hex(3).upper()}"


@runtime_checkable
class RecordStore(Protocol):
    """Patients, studies and their predictions."""

    root: Path  # the folder holding the database and the archived images

    def save_study(self, draft: StudyDraft) -> StudyRecord:
        """Store a new study (or update ``draft.study_key``) atomically; return it as stored."""
        ...

    def get_study(self, study_key: int, *, with_heatmaps: bool = True) -> StudyRecord:
        """One study; raises :class:`~desktop.core.records.values.RecordError` if absent."""
        ...

    def search_studies(self, query: StudyQuery) -> list[StudySummary]:
        """Newest first."""
        ...

    def search_patients(self, *, text: str = "", limit: int | None = None) -> list[PatientSummary]:
        """By name or patient ID (any case, any script); by name; at most ``limit`` when given."""
        ...

    def delete_study(self, study_key: int) -> None:
        """Remove a study, its predictions, and its image copy once nothing else uses it."""
        ...

    def delete_patient(self, patient_key: int) -> int:
        """Remove a patient and every study of theirs; returns how many studies went."""
        ...

    def backup_database(self, database_copy: Path) -> None:
        """Write a consistent copy of the database file (see :mod:`desktop.core.records.backup`)."""
        ...

    def close(self) -> None: ...
