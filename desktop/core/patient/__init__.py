"""The patient: the validated form, the model's input row, and the rules that need no model.

* :mod:`~desktop.core.patient.form`: the form's fields, :class:`PatientRecord` and
  :func:`validate_patient`.
* :mod:`~desktop.core.patient.model_features`: the tabular model's input row, in the order and
  units its card declares (:func:`feature_vector`).
* :mod:`~desktop.core.patient.clinical_rules`: the WHO T-score category and the Osteoporosis
  Self-assessment Tool (OST).

Import from here; the split into modules is for reading, not for callers.
"""

from __future__ import annotations

from desktop.core.patient.clinical_rules import (
    WHO_CATEGORIES,
    ost_category,
    ost_index,
    who_category,
)
from desktop.core.patient.form import (
    FIELDS,
    GENDERS,
    OBESITY_BMI,
    FieldSpec,
    PatientRecord,
    validate_patient,
)
from desktop.core.patient.model_features import (
    FEATURE_CATALOGUE,
    FeatureSpec,
    feature_vector,
    parse_feature_specs,
)

__all__ = [
    "FEATURE_CATALOGUE",
    "FIELDS",
    "GENDERS",
    "OBESITY_BMI",
    "WHO_CATEGORIES",
    "FeatureSpec",
    "FieldSpec",
    "PatientRecord",
    "feature_vector",
    "ost_category",
    "ost_index",
    "parse_feature_specs",
    "validate_patient",
    "who_category",
]
