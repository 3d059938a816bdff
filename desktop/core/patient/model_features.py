"""The tabular model's input row, read off a validated :class:`PatientRecord`.

:func:`feature_vector` follows the model card's feature list (names, units, order); anything
unknown becomes NaN so the model's own imputer decides, never this module. The same code
builds the training rows in ``training/train_osteoporosis_risk.py``, so a risk factor is
encoded one way only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop.core.patient.form import FIELDS, PatientRecord

__all__ = ["FEATURE_CATALOGUE", "FeatureSpec", "feature_vector", "parse_feature_specs"]


@dataclass(frozen=True)
class FeatureSpec:
    """One model input as the card declares it (order matters: it is the input column)."""

    name: str
    label: str
    unit: str
    min: float | None
    max: float | None
    kind: str  # "binary" | "number"
    required: bool = False


def _flag(value: bool | None) -> float:
    return math.nan if value is None else float(value)


def _women(record: PatientRecord, value: float | bool | None, *, for_men: float = 0.0) -> float:
    # Men carry 0 for women-only factors, exactly as the training rows do.
    if not record.is_female:
        return for_men
    return math.nan if value is None else float(value)


def _years_since_menopause(record: PatientRecord) -> float:
    if not record.is_female or record.postmenopausal is False:
        return 0.0
    if record.postmenopausal is None or record.menopause_age is None:
        return math.nan
    return max(0.0, record.age - record.menopause_age)


_Extractor = Callable[[PatientRecord], float]
# Every feature a card may ask for: (spec with the canonical unit, how to read it off a record).
FEATURE_CATALOGUE: dict[str, tuple[FeatureSpec, _Extractor]] = {
    "age": (FeatureSpec("age", "Age", "years", 0, 120, "number", True), lambda r: r.age),
    "female": (FeatureSpec("female", "Female", "", 0, 1, "binary", True), lambda r: float(r.is_female)),
    "postmenopausal": (FeatureSpec("postmenopausal", "Post-menopausal", "", 0, 1, "binary"), lambda r: _women(r, r.postmenopausal)),
    "years_since_menopause": (
        FeatureSpec("years_since_menopause", "Years since menopause", "years", 0, 110, "number"), _years_since_menopause),
    "height_m": (FeatureSpec("height_m", "Height", "m", 0.5, 2.5, "number", True), lambda r: r.height_m),
    "weight_kg": (FeatureSpec("weight_kg", "Weight", "kg", 2, 350, "number", True), lambda r: r.weight_kg),
    "bmi": (FeatureSpec("bmi", "BMI", "kg/m\u00b2", 8, 100, "number", True), lambda r: r.bmi),
    "obese": (FeatureSpec("obese", "Obesity", "", 0, 1, "binary"), lambda r: float(r.obesity)),
    "pregnancies": (FeatureSpec("pregnancies", "Pregnancies", "count", 0, 20, "number"), lambda r: _women(r, r.pregnancies)),
    "estrogen_use": (FeatureSpec("estrogen_use", "Estrogen use", "", 0, 1, "binary"), lambda r: _women(r, r.estrogen_use)),
    "walking_distance_km": (
        FeatureSpec("walking_distance_km", "Maximum walking distance", "km", 0, 100, "number"),
        lambda r: math.nan if r.walking_distance_km is None else r.walking_distance_km),
    **{
        name: (FeatureSpec(name, FIELDS[name].label, "", 0, 1, "binary"), (lambda r, n=name: _flag(getattr(r, n))))
        for name in ("joint_pain", "smoker", "alcoholic", "diabetic", "hypothyroidism", "seizure_disorder",
                     "history_of_fracture", "dialysis", "family_history")
    },
}
# A card may state a feature in another unit than the catalogue's; these are the conversions we trust.
_UNIT_FACTORS = {("m", "cm"): 100.0, ("kg", "g"): 1000.0, ("km", "m"): 1000.0}


def parse_feature_specs(raw: Sequence[Mapping[str, Any]]) -> tuple[FeatureSpec, ...]:
    """The card's ``features`` list as specs; raises ``ValueError`` for a feature we cannot compute."""
    specs = []
    for item in raw:
        name = str(item["name"])
        if name not in FEATURE_CATALOGUE:
            raise ValueError(f"the model asks for feature {name!r}, which the patient form does not collect")
        base = FEATURE_CATALOGUE[name][0]
        unit = str(item.get("unit", base.unit))
        if unit != base.unit and (base.unit, unit) not in _UNIT_FACTORS:
            raise ValueError(f"feature {name!r} is in {unit!r}; the form records {base.unit!r}")
        specs.append(FeatureSpec(
            name=name,
            label=str(item.get("label", base.label)),
            unit=unit,
            min=None if item.get("min") is None else float(item["min"]),
            max=None if item.get("max") is None else float(item["max"]),
            kind=str(item.get("kind", base.kind)),
            required=bool(item.get("required", False)),
        ))
    if len({s.name for s in specs}) != len(specs):
        raise ValueError("the card lists a feature twice")
    return tuple(specs)


def feature_vector(record: PatientRecord, feature_specs: Sequence[FeatureSpec]) -> np.ndarray:
    """The model input row (float64) in the card's order and units; unknown answers are NaN."""
    row = np.empty(len(feature_specs), dtype=np.float64)
    for i, spec in enumerate(feature_specs):
        base, extract = FEATURE_CATALOGUE[spec.name]
        value = float(extract(record))
        row[i] = value * _UNIT_FACTORS.get((base.unit, spec.unit), 1.0)
    return row
