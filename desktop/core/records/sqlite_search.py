"""Searching the records for the history lists: studies by filter, patients by name or ID.

Text search runs on ``search_key``, the name and patient ID folded by
:func:`~desktop.core.records.sqlite_schema.fold`, because SQLite's own ``LIKE`` folds ASCII
letters only and would miss 'Иван' when the user types 'иван'.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

from desktop.core.joint_regions import patient_sides, side_label
from desktop.core.records.sqlite_rows import joints_from_json
from desktop.core.records.sqlite_schema import fold
from desktop.core.records.values import (
    PatientDetails,
    PatientInfo,
    PatientSummary,
    StudyQuery,
    StudySummary,
)

__all__ = ["search_patients", "search_studies"]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_studies(db: sqlite3.Connection, query: StudyQuery) -> list[StudySummary]:
    """The history list: studies matching every filter in ``query``, newest first."""
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
    rows = db.execute(
        "SELECT s.id, s.patient, p.name, p.patient_id, s.created_at, s.body_part, s.impression, s.report_id,"
        " s.knee_joints_json"
        f" FROM studies s JOIN patients p ON p.id = s.patient WHERE {' AND '.join(where)}"
        " ORDER BY s.created_at DESC, s.id DESC LIMIT ?", (*args, query.limit),
    ).fetchall()
    findings: dict[int, list[str]] = {}
    keys = [r[0] for r in rows]
    sides = {r[0]: patient_sides(joints_from_json(r[8])) for r in rows}  # each study's knees, named
    for start in range(0, len(keys), 500):  # stay under SQLite's bound-variable limit
        chunk = keys[start:start + 500]
        for study, label, labels, probs, side in db.execute(
            f"SELECT study, label, labels_json, probabilities_json, region_side FROM predictions WHERE study IN"
            f" ({','.join('?' * len(chunk))}) ORDER BY study, position", chunk,
        ):
            names, values = json.loads(labels), json.loads(probs)
            share = values[names.index(label)] if label in names else max(values)
            where = f"{side_label(side, sides[study].get(side))}: " if side else ""
            findings.setdefault(study, []).append(f"{where}{label} {share * 100:.0f}%")
    return [
        StudySummary(key=r[0], patient_key=r[1], patient_name=r[2], patient_id=r[3],
                     created_at=datetime.fromisoformat(r[4]), body_part=r[5], findings="; ".join(findings.get(r[0], [])),
                     impression=r[6], report_id=r[7])
        for r in rows
    ]


def search_patients(db: sqlite3.Connection, *, text: str = "", limit: int | None = None) -> list[PatientSummary]:
    """Patients whose name or ID contains ``text`` (any case, any script), with their study
    counts; the first ``limit`` of them by name when given."""
    rows = db.execute(
        "SELECT p.id, p.name, p.patient_id, p.date_of_birth, p.sex, p.created_at, p.updated_at, count(s.id), max(s.created_at)"
        " FROM patients p LEFT JOIN studies s ON s.patient = p.id WHERE p.search_key LIKE ? ESCAPE '\\'"
        " GROUP BY p.id ORDER BY p.search_key, p.id LIMIT ?",  # SQLite reads a negative limit as none
        (_like_pattern(fold(text.strip())), -1 if limit is None else limit),
    ).fetchall()
    return [
        PatientSummary(
            patient=PatientInfo(key=r[0], details=PatientDetails(name=r[1], patient_id=r[2], date_of_birth=r[3], sex=r[4]),
                                created_at=datetime.fromisoformat(r[5]), updated_at=datetime.fromisoformat(r[6])),
            study_count=r[7], last_study_at=datetime.fromisoformat(r[8]) if r[8] else None,
        )
        for r in rows
    ]
