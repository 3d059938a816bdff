"""The patient form: its fields, the validated record, and the validation between them.

:func:`validate_patient` turns what a form (or a CSV row) holds into a :class:`PatientRecord`
or a message per field. Training reads its CSV rows through the same function, so a value the
clinic may type is accepted or refused the same way in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from desktop.core.patient.clinical_rules import ost_index, who_category

__all__ = ["FIELDS", "GENDERS", "OBESITY_BMI", "FieldSpec", "PatientRecord", "validate_patient"]

GENDERS = ("female", "male")
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
