"""The osteoporosis risk data: CSV rows cleaned into validated patients, and the features kept.

Every change to a value and every excluded row is returned as a note, so the training report
(and through it the model card) says what was done to the data. Rows go through the app's own
:func:`~desktop.core.patient.validate_patient` and :func:`~desktop.core.patient.feature_vector`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from desktop.core.patient import (
    FEATURE_CATALOGUE,
    feature_vector,
    validate_patient,
    who_category,
)

__all__ = ["AGE_PLAUSIBLE", "CANDIDATES", "MIN_MINORITY", "choose_features", "clean_row", "load_dataset"]

# Risk factors of the original form (T/Z-score excluded: they are the label).
CANDIDATES = (
    "age", "female", "postmenopausal", "years_since_menopause", "height_m", "weight_kg", "bmi", "obese",
    "smoker", "alcoholic", "diabetic", "hypothyroidism", "pregnancies", "seizure_disorder", "estrogen_use",
    "history_of_fracture", "dialysis", "family_history", "walking_distance_km", "joint_pain",
)
# A yes/no factor seen fewer times than this (in either answer) cannot be learned from 190
# patients; the rule counts answers only, never outcomes, so it leaks nothing.
MIN_MINORITY = 5
AGE_PLAUSIBLE = (18.0, 100.0)  # the README's ages 17 and 107 "under osteoporosis" are entry errors


def clean_row(row: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One CSV row as the form's values, plus a note for every value changed."""
    issues: list[dict[str, str]] = []
    pid = row["Patient Id"]
    female = row["Gender"].strip().lower() == "female"
    values: dict[str, Any] = {name: row[column] for name, column in (
        ("joint_pain", "Joint Pain"), ("smoker", "Smoker"), ("alcoholic", "Alcoholic"), ("diabetic", "Diabetic"),
        ("hypothyroidism", "Hypothyroidism"), ("seizure_disorder", "Seizer Disorder"), ("dialysis", "Dialysis"),
        ("family_history", "Family History of Osteoporosis"))}
    values.update(
        patient_id=pid, gender=row["Gender"], age=row["Age"], height_m=row["height (meter)"], weight_kg=row["Weight (KG)"],
        walking_distance_km=row["Maximum Walking distance (km)"], medical_history=row["Medical History"],
        t_score=row["T-score Value"], z_score=row["Z-Score Value"],
        # The column holds the fracture site ("R.foot", "vertebral"...) or "no": any site means yes.
        history_of_fracture="no" if row["History of Fracture"].strip().lower() == "no" else "yes",
    )
    if female:
        values["estrogen_use"] = row["Estrogen Use"]
        values["pregnancies"] = row["Number of Pregnancies"]
        # The form left menopause age blank for women not yet menopausal (aged 25-56 here).
        values["postmenopausal"] = "yes" if row["Menopause Age"].strip() else "no"
        values["menopause_age"] = row["Menopause Age"]
        if values["menopause_age"] and float(values["menopause_age"]) > float(row["Age"]):
            issues.append({"patient": pid, "field": "menopause_age", "value": row["Menopause Age"],
                           "action": "menopause age above age: kept post-menopausal, age at menopause unknown (imputed)"})
            values["menopause_age"] = ""
    elif row["Number of Pregnancies"].strip():
        issues.append({"patient": pid, "field": "pregnancies", "value": row["Number of Pregnancies"],
                       "action": "pregnancies recorded for a man: ignored (men carry 0)"})
    # The data's weight class must agree with the BMI rule the app applies, or the app would disagree with training.
    category = row["Obesity"].strip().lower().replace(" ", "")
    if (category == "obesity") != (float(row["BMI"]) >= 30.0):
        issues.append({"patient": pid, "field": "obesity", "value": row["Obesity"], "action": "kept the BMI rule"})
    return values, issues


def load_dataset(csv_path: Path) -> dict[str, Any]:
    """Clean rows -> records -> feature matrix, label, OST; every exclusion is counted."""
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    if len({r["Patient Id"] for r in rows}) != len(rows):
        raise ValueError("patient ids repeat: the split would not be patient-level")
    records, labels, ids, issues, excluded = [], [], [], [], []
    label_mismatches = 0
    for row in rows:
        values, row_issues = clean_row(row)
        age = float(row["Age"])
        if not AGE_PLAUSIBLE[0] <= age <= AGE_PLAUSIBLE[1]:
            excluded.append({"patient": row["Patient Id"], "age": age, "diagnosis": row["Diagnosis"],
                             "reason": "implausible age (likely entry error); its OST would be wrong too"})
            continue
        record, errors = validate_patient(values)
        if record is None:
            raise ValueError(f"row {row['Patient Id']} fails validation after cleaning: {errors}")
        diagnosis = row["Diagnosis"].strip().lower()
        label_mismatches += who_category(record.t_score) != diagnosis
        records.append(record)
        labels.append(int(diagnosis == "osteoporosis"))
        ids.append(row["Patient Id"])
        issues.extend(row_issues)
    return {"records": records, "y": np.array(labels), "ids": ids, "issues": issues, "excluded": excluded,
            "n_rows": len(rows), "label_mismatches": label_mismatches}


def choose_features(records: list) -> tuple[list[str], list[dict[str, Any]]]:
    specs = tuple(FEATURE_CATALOGUE[name][0] for name in CANDIDATES)
    matrix = np.stack([feature_vector(r, specs) for r in records])
    kept, dropped = [], []
    for j, spec in enumerate(specs):
        column = matrix[:, j][~np.isnan(matrix[:, j])]
        if spec.kind == "binary":
            minority = int(min((column == 1).sum(), (column == 0).sum()))
            if minority < MIN_MINORITY:
                dropped.append({"name": spec.name, "yes": int((column == 1).sum()), "no": int((column == 0).sum()),
                                "reason": f"fewer than {MIN_MINORITY} patients in one answer"})
                continue
        kept.append(spec.name)
    return kept, dropped
