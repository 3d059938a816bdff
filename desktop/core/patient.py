"""The patient form as a validated value object, and the rules that need no model.

:func:`validate_patient` turns what a form (or a CSV row) holds into a :class:`PatientRecord`
or a message per field. The same code builds the training rows in
``training/train_osteoporosis_risk.py`` and the app's model input, so a risk factor is encoded
one way only. :func:`feature_vector` reads the model card's feature list (names, units, order);
anything unknown becomes NaN so the model's own imputer decides, never this module.

Two clinical rules live here because they are rules, not models: the WHO T-score category and
the Osteoporosis Self-assessment Tool (OST).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

__all__ = [
    "FEATURE_CATALOGUE",
    "FIELDS",
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

GENDERS = ("female", "male")
WHO_CATEGORIES = ("normal", "osteopenia", "osteoporosis")
OBESITY_BMI = 30.0  # WHO adult obesity cut-off; the training data's "obesity" rows match it exactly
_BMI_PLAUSIBLE = (8.0, 100.0)  # outside this, height or weight was mistyped
_AGE_TOLERANCE_YEARS = 1.0  # a typed age may lag the date of birth by a birthday


@dataclass(frozen=True)
class FieldSpec:
    """One form field: what the user reads, its unit and the values it accepts."""

    name: str
    label: str
    kind: str  # "number" | "integer" | "binary" | "text" | "choice" | "date"
    unit: str = ""
    min: float | None = None
    max: float | None = None
    required: bool = False
    women_only: bool = False


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("patient_name", "Patient name", "text"),
        FieldSpec("patient_id", "Patient ID", "text"),
        FieldSpec("date_of_birth", "Date of birth", "date"),
        FieldSpec("gender", "Gender", "choice", required=True),
        FieldSpec("age", "Age", "number", "years", 0, 120, required=True),
        FieldSpec("height_m", "Height", "number", "m", 0.5, 2.5, required=True),
        FieldSpec("weight_kg", "Weight", "number", "kg", 2, 350, required=True),
        FieldSpec("joint_pain", "Joint pain", "binary"),
        FieldSpec("postmenopausal", "Post-menopausal", "binary", women_only=True),
        FieldSpec("menopause_age", "Menopause age", "number", "years", 10, 70, women_only=True),
        FieldSpec("pregnancies", "Number of pregnancies", "integer", "", 0, 20, women_only=True),
        FieldSpec("estrogen_use", "Estrogen use", "binary", women_only=True),
        FieldSpec("smoker", "Smoker", "binary"),
        FieldSpec("alcoholic", "Alcohol abuse", "binary"),
        FieldSpec("diabetic", "Diabetic", "binary"),
        FieldSpec("hypothyroidism", "Hypothyroidism", "binary"),
        FieldSpec("seizure_disorder", "Seizure disorder", "binary"),
        FieldSpec("history_of_fracture", "History of fracture", "binary"),
        FieldSpec("dialysis", "Dialysis", "binary"),
        FieldSpec("family_history", "Family history of osteoporosis", "binary"),
        FieldSpec("walking_distance_km", "Maximum walking distance", "number", "km", 0, 100),
        FieldSpec("medical_history", "Medical history", "text"),
        FieldSpec("t_score", "T-score", "number", "SD", -6, 6),
        FieldSpec("z_score", "Z-score", "number", "SD", -6, 6),
    )
}


@dataclass(frozen=True)
class PatientRecord:
    """A validated patient; build it with :func:`validate_patient`, which enforces the ranges.

    ``None`` means "not known"; booleans are answers the user actually gave.
    """

    gender: str
    age: float
    height_m: float
    weight_kg: float
    bmi: float  # derived: weight / height², stored so a report shows what the model saw
    obesity: bool  # BMI >= 30 unless the user overrode it
    obesity_overridden: bool = False
    patient_name: str = ""
    patient_id: str = ""
    date_of_birth: date | None = None
    joint_pain: bool | None = None
    postmenopausal: bool | None = None
    menopause_age: float | None = None
    pregnancies: int | None = None
    estrogen_use: bool | None = None
    smoker: bool | None = None
    alcoholic: bool | None = None
    diabetic: bool | None = None
    hypothyroidism: bool | None = None
    seizure_disorder: bool | None = None
    history_of_fracture: bool | None = None
    dialysis: bool | None = None
    family_history: bool | None = None
    walking_distance_km: float | None = None
    medical_history: str = ""
    t_score: float | None = None
    z_score: float | None = None

    @property
    def is_female(self) -> bool:
        return self.gender == "female"

    @property
    def who_category(self) -> str | None:
        """WHO category of the T-score, when one was measured."""
        return who_category(self.t_score) if self.t_score is not None else None

    @property
    def ost(self) -> float:
        return ost_index(weight_kg=self.weight_kg, age=self.age)


# -- rules ------------------------------------------------------------------------------------
def who_category(t_score: float) -> str:
    """WHO densitometric category: normal T >= -1, osteoporosis T <= -2.5, osteopenia between."""
    if t_score is None or math.isnan(t_score):
        raise ValueError("a T-score is needed for the WHO category")
    if t_score >= -1.0:
        return "normal"
    if t_score <= -2.5:
        return "osteoporosis"
    return "osteopenia"


def ost_index(*, weight_kg: float, age: float) -> float:
    """Osteoporosis Self-assessment Tool: 0.2 x (weight in kg - age in years); lower = higher risk.

    Kept continuous (not truncated to an integer) so it can be compared with the model by AUC.
    """
    return 0.2 * (float(weight_kg) - float(age))


def ost_category(value: float) -> str:
    """OSTA risk band (Koh et al. 2001, derived for Asian post-menopausal women):
    high below -4, moderate from -4 to -1, low above -1."""
    if value < -4.0:
        return "high"
    if value <= -1.0:
        return "moderate"
    return "low"


# -- parsing ----------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in {"", "-", "\u2014"}


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    # Clinics type decimal commas as often as points.
    return float(str(value).strip().replace(",", "."))


def _binary(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1", "1.0"}:
        return True
    if text in {"no", "n", "false", "0", "0.0"}:
        return False
    raise ValueError


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value).strip())


def _years_between(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _range_message(spec: FieldSpec) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    return f"Must be between {spec.min:g} and {spec.max:g}{unit}."


def validate_patient(values: Mapping[str, Any], *, today: date | None = None) -> tuple[PatientRecord | None, dict[str, str]]:
    """Check every field; return the record, or ``None`` and one message per offending field.

    ``values`` uses the names in :data:`FIELDS` (plus ``obesity_override``: None follows BMI);
    blanks are ``None``, ``""`` or NaN. Women-only answers given for a man are refused rather
    than dropped, so a gender mix-up is noticed instead of silently changing the input.
    """
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, spec in FIELDS.items():
        raw = values.get(name)
        if _blank(raw):
            if spec.required and name != "age":  # age may come from the date of birth
                errors[name] = f"{spec.label} is required."
            parsed[name] = "" if spec.kind == "text" else None
            continue
        try:
            if spec.kind == "text":
                parsed[name] = str(raw).strip()
            elif spec.kind == "date":
                parsed[name] = _date(raw)
            elif spec.kind == "choice":
                parsed[name] = {"f": "female", "m": "male"}.get(str(raw).strip().lower()[:1])
                if parsed[name] is None:
                    raise ValueError
            elif spec.kind == "binary":
                parsed[name] = _binary(raw)
            else:
                number = _number(raw)
                if math.isnan(number) or math.isinf(number):
                    raise ValueError
                if spec.kind == "integer":
                    if number != int(number):
                        errors[name] = "Must be a whole number."
                        continue
                    number = int(number)
                if not spec.min <= number <= spec.max:
                    errors[name] = _range_message(spec)
                    continue
                parsed[name] = number
        except (ValueError, TypeError):
            errors[name] = {
                "binary": "Answer yes or no.",
                "date": "Use the form YYYY-MM-DD.",
                "choice": "Choose female or male.",
            }.get(spec.kind, "Enter a number.")

    today = today or date.today()
    born = parsed.get("date_of_birth")
    if born is not None:
        if born > today:
            errors["date_of_birth"] = "The date of birth is in the future."
        elif _years_between(born, today) > FIELDS["age"].max:
            errors["date_of_birth"] = f"The date of birth gives an age above {FIELDS['age'].max:g} years."
        elif parsed.get("age") is None and "age" not in errors:
            parsed["age"] = float(_years_between(born, today))
        elif parsed.get("age") is not None and abs(parsed["age"] - _years_between(born, today)) > _AGE_TOLERANCE_YEARS:
            errors["age"] = f"Age does not match the date of birth ({_years_between(born, today)} years)."
    if parsed.get("age") is None and "age" not in errors:
        errors["age"] = "Age is required (or give the date of birth)."

    gender = parsed.get("gender")
    if gender == "male":
        for name, spec in FIELDS.items():
            value = parsed.get(name)
            if spec.women_only and value not in (None, False, 0) and name not in errors:
                errors[name] = f"{spec.label} applies to women only; leave it blank for men."
    if parsed.get("menopause_age") is not None and "age" not in errors and parsed.get("age") is not None:
        if parsed["menopause_age"] > parsed["age"]:
            errors["menopause_age"] = "Menopause age cannot be above the age."
    if parsed.get("menopause_age") is not None and gender == "female":
        if parsed.get("postmenopausal") is False:
            errors["menopause_age"] = "A menopause age was given but menopause is answered 'no'."
        elif parsed.get("postmenopausal") is None:
            parsed["postmenopausal"] = True  # a menopause age answers the question

    height, weight = parsed.get("height_m"), parsed.get("weight_kg")
    bmi = weight / height**2 if height and weight else None
    if bmi is not None and not _BMI_PLAUSIBLE[0] <= bmi <= _BMI_PLAUSIBLE[1]:
        errors["bmi"] = f"BMI {bmi:.1f} kg/m\u00b2 is not plausible: check height and weight."

    override = values.get("obesity_override")
    if errors:
        return None, errors
    obesity = bool(override) if override is not None else bmi >= OBESITY_BMI
    fields = {name: parsed[name] for name in FIELDS}
    return PatientRecord(**fields, bmi=bmi, obesity=obesity, obesity_overridden=override is not None), {}


# -- model features ---------------------------------------------------------------------------
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
