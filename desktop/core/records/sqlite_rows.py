"""Between the records tables' rows and the value objects the rest of the app uses.

JSON columns hold what has no fixed shape (the patient form, derived results, card summaries);
heat maps are stored as 8-bit levels (see :func:`~desktop.core.records.values.encode_heatmap`).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop.core.body_part import BodyPartCheck
from desktop.core.joint_regions import JointRegion
from desktop.core.measurement import measurements_from_json
from desktop.core.prediction import DerivedPrediction
from desktop.core.records.values import (
    Acquisition,
    CardSummary,
    PatientDetails,
    PatientInfo,
    StoredPrediction,
    StudyRecord,
    decode_heatmap,
)

__all__ = ["PREDICTION_COLUMNS", "from_json", "joints_from_json", "prediction_from_row", "study_from_row", "to_json"]

# Every predictions column a StoredPrediction needs except the heat map, which a reader may skip.
PREDICTION_COLUMNS = (
    "model_id, model_name, model_version, card_sha256, body_part, label, labels_json, probabilities_json, threshold,"
    " positive_label, calibrated, derived_json, heatmap_method, heatmap_label, warnings_json, card_json,"
    " region_json, region_side"
)


def to_json(value: Any) -> str | None:
    """JSON text for a column, or NULL for ``None``; dates and other odd values become text."""
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def from_json(text: str | None) -> Any:
    """The value of a JSON column (``None`` for NULL)."""
    return None if text is None else json.loads(text)


def prediction_from_row(row: sqlite3.Row) -> StoredPrediction:
    """A prediction from a row selected with :data:`PREDICTION_COLUMNS` plus ``heatmap``."""
    card = from_json(row["card_json"])
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
        region=_region_from_json(row["region_json"]),
        region_side=row["region_side"],
    )


def study_from_row(row: sqlite3.Row, *, predictions: tuple[StoredPrediction, ...], image_path: Path) -> StudyRecord:
    """A study from ``studies.*`` joined with its patient's columns under ``p_`` aliases."""
    spacing = (row["pixel_spacing_row_mm"], row["pixel_spacing_col_mm"])
    return StudyRecord(
        key=row["id"],
        patient=PatientInfo(
            key=row["p_id"],
            details=PatientDetails(name=row["p_name"], patient_id=row["p_patient_id"], date_of_birth=row["p_dob"], sex=row["p_sex"]),
            created_at=datetime.fromisoformat(row["p_created"]), updated_at=datetime.fromisoformat(row["p_updated"]),
        ),
        created_at=datetime.fromisoformat(row["created_at"]), updated_at=datetime.fromisoformat(row["updated_at"]),
        body_part=row["body_part"], image_path=image_path,
        image_sha256=row["image_sha256"], image_format=row["image_format"], original_file_name=row["original_file_name"],
        acquisition=Acquisition(modality=row["modality"], study_date=row["study_date"], body_part=row["acquisition_body_part"],
                                manufacturer=row["manufacturer"], pixel_spacing_mm=spacing if spacing[0] is not None else None),
        predictions=predictions, patient_form=from_json(row["patient_form_json"]), risk=from_json(row["risk_json"]),
        notes=row["notes"], impression=row["impression"], doctor_name=row["doctor_name"], report_id=row["report_id"],
        body_part_check=_check_from_json(row["body_part_check_json"]),
        warnings=tuple(str(w) for w in from_json(row["warnings_json"]) or ()),
        knee_joints=joints_from_json(row["knee_joints_json"]),
        measurements=measurements_from_json(from_json(row["measurements_json"])),
    )


def _check_from_json(text: str | None) -> BodyPartCheck | None:
    data = from_json(text)
    return BodyPartCheck.from_dict(data) if data else None


def _region_from_json(text: str | None) -> tuple[int, int, int, int] | None:
    box = from_json(text)
    if box is None:
        return None
    top, left, height, width = (int(v) for v in box)
    return top, left, height, width


def joints_from_json(text: str | None) -> tuple[JointRegion, ...] | None:
    data = from_json(text)
    return None if data is None else tuple(JointRegion.from_dict(item) for item in data)
