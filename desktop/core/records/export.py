"""CSV export of studies: one row per study, one label + probability column pair per model
(per model and knee joint for the knee models, which answer once per joint).

Written for spreadsheets: UTF-8 with a byte-order mark (Excel otherwise reads Cyrillic or
Arabic names as mojibake), and text cells that start like a formula are prefixed with an
apostrophe so a name such as ``=HYPERLINK(...)`` is never executed when the file is opened.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from desktop.core.joint_regions import side_label
from desktop.core.knee_sides import sides_summary
from desktop.core.measurement import measurements_summary
from desktop.core.records.store import RecordStore
from desktop.core.records.values import RecordError, StudyQuery, StudyRecord

__all__ = ["CSV_BASE_COLUMNS", "export_studies_csv", "study_rows", "write_csv"]

log = logging.getLogger(__name__)

CSV_BASE_COLUMNS = (
    "report_id", "study_saved_at", "patient_name", "patient_id", "date_of_birth", "sex",
    "study_type", "original_file", "modality", "study_date", "impression", "doctor", "warnings", "measurements",
    "knee_sides",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _column_name(model_id: str, side: str | None) -> str:
    # A knee model answers once per joint: "knee_kl (image left)" and "knee_kl (image right)".
    return f"{model_id} ({side_label(side)})" if side else model_id


def study_rows(studies: list[StudyRecord]) -> tuple[list[str], list[list[object]]]:
    """Header and rows; model (and joint) columns appear in the order they are first met."""
    model_ids: list[tuple[str, str | None]] = []
    for study in studies:
        for p in study.predictions:
            if (p.model_id, p.region_side) not in model_ids:
                model_ids.append((p.model_id, p.region_side))
    header = list(CSV_BASE_COLUMNS)
    for model_id, side in model_ids:
        name = _column_name(model_id, side)
        header += [f"{name} label", f"{name} probability"]
    rows = []
    for study in studies:
        d = study.patient.details
        row = [study.report_id, study.created_at.isoformat(), d.name, d.patient_id, d.date_of_birth, d.sex,
               study.body_part, study.original_file_name, study.acquisition.modality, study.acquisition.study_date,
               study.impression, study.doctor_name, " ".join(study.all_warnings),
               measurements_summary(study.measurements, study.acquisition.pixel_spacing_mm),
               sides_summary(study.knee_joints)]
        by_model = {(p.model_id, p.region_side): p for p in study.predictions}
        for model_id in model_ids:
            p = by_model.get(model_id)
            # Probability of the reported label, so the pair reads "Pneumonia, 0.93".
            row += [p.label, f"{p.label_probability:.4f}"] if p is not None else ["", ""]
        rows.append(row)  # write_csv makes each value a safe cell
    return header, rows


def export_studies_csv(store: RecordStore, path: str | os.PathLike[str], *, query: StudyQuery | None = None) -> int:
    """Write the studies matching ``query`` (all by default) to ``path``; return the row count."""
    summaries = store.search_studies(query or StudyQuery(limit=1_000_000))
    # Oldest first reads naturally in a spreadsheet; heat maps are not needed for a table.
    studies = [store.get_study(s.key, with_heatmaps=False) for s in reversed(summaries)]
    header, rows = study_rows(studies)
    write_csv(path, header, rows)
    log.info("exported %d studies to %s", len(rows), path)
    return len(rows)


def write_csv(path: str | os.PathLike[str], header: list[str], rows: list[list[object]]) -> None:
    """A CSV a spreadsheet opens as it should: UTF-8 with a byte-order mark (so Excel reads
    accented and Cyrillic names), no cell that could run as a formula. Raises RecordError."""
    target = Path(path)
    try:
        with open(target, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([_cell(value) for value in row] for row in rows)
    except OSError as exc:
        raise RecordError(f"Could not write {target.name}: {exc.strerror or exc}.") from exc
