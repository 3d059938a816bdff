"""Patient and study records: a Qt-free store behind the :class:`RecordStore` protocol."""

from __future__ import annotations

from pathlib import Path

from desktop.core.records.export import export_studies_csv
from desktop.core.records.sqlite_store import SQLiteRecordStore
from desktop.core.records.store import RecordStore, new_report_id
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
)

__all__ = [
    "Acquisition",
    "CardSummary",
    "PatientDetails",
    "PatientInfo",
    "PatientSummary",
    "RecordError",
    "RecordStore",
    "SQLiteRecordStore",
    "StoredPrediction",
    "StudyDraft",
    "StudyQuery",
    "StudyRecord",
    "StudySummary",
    "export_studies_csv",
    "new_report_id",
    "open_store",
]


def open_store(root: Path | None = None) -> RecordStore:
    """The default store: SQLite in ``root`` (default: the user data folder)."""
    return SQLiteRecordStore.open(root)
