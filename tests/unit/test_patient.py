"""The patient record: validation messages, derived values, clinical rules and the model input row."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from desktop.core.patient import (
    FEATURE_CATALOGUE,
    FeatureSpec,
    feature_vector,
    ost_category,
    ost_index,
    parse_feature_specs,
    validate_patient,
    who_category,
)

SHIPPED_CARD = Path(__file__).resolve().parents[2] / "models" / "osteoporosis_risk" / "model.json"
WOMAN = {"gender": "female", "age": "72", "height_m": "1.55", "weight_kg": "52", "menopause_age": "48", "pregnancies": "4"}
MAN = {"gender": "male", "age": "64", "height_m": "1.75", "weight_kg": "80"}


def _errors(**changes: object) -> dict[str, str]:
    record, errors = validate_patient({**WOMAN, **changes})
    assert record is None
    return errors


def test_a_complete_woman_validates_with_derived_values() -> None:
    record, errors = validate_patient({**WOMAN, "smoker": "no", "family_history": "yes", "walking_distance_km": "0,5"})
    assert errors == {}
    assert record.bmi == pytest.approx(52 / 1.55**2)
    assert record.postmenopausal is True  # a menopause age answers the question
    assert record.smoker is False and record.family_history is True
    assert record.walking_distance_km == 0.5  # decimal comma accepted
    assert record.ost == pytest.approx(0.2 * (52 - 72))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight_kg", "0", "Must be between 2 and 350 kg."),
        ("height_m", "9", "Must be between 0.5 and 2.5 m."),
        ("age", "130", "Must be between 0 and 120 years."),
        ("age", "abc", "Enter a number."),
        ("pregnancies", "2.5", "Must be a whole number."),
        ("t_score", "-9", "Must be between -6 and 6 SD."),
        ("smoker", "maybe", "Answer yes or no."),
        ("gender", "", "Gender is required."),
        ("date_of_birth", "12/03/1950", "Use the form YYYY-MM-DD."),
    ],
)
def test_impossible_values_get_a_message_on_their_field(field: str, value: str, message: str) -> None:
    assert _errors(**{field: value})[field] == message


def test_menopause_age_cannot_be_above_age() -> None:
    assert _errors(age="45", menopause_age="47")["menopause_age"] == "Menopause age cannot be above the age."


def test_menopause_age_with_menopause_answered_no_is_refused() -> None:
    assert "answered 'no'" in _errors(postmenopausal="no")["menopause_age"]


def test_women_only_answers_are_refused_for_men_but_blank_or_no_is_fine() -> None:
    record, errors = validate_patient({**MAN, "pregnancies": "3", "menopause_age": "50", "estrogen_use": "yes"})
    assert record is None
    assert set(errors) == {"pregnancies", "menopause_age", "estrogen_use"}
    assert errors["pregnancies"] == "Number of pregnancies applies to women only; leave it blank for men."
    record, errors = validate_patient({**MAN, "pregnancies": "", "estrogen_use": "no", "postmenopausal": None})
    assert errors == {} and record.pregnancies is None


def test_implausible_bmi_is_flagged_even_when_each_value_is_in_range() -> None:
    assert "not plausible" in _errors(height_m="2.4", weight_kg="3")["bmi"]


def test_age_from_date_of_birth_and_mismatch() -> None:
    today = date(2026, 11, 24)
    record, errors = validate_patient({**WOMAN, "age": "", "date_of_birth": "1950-11-25"}, today=today)
    assert errors == {} and record.age == 75  # birthday tomorrow
    _, errors = validate_patient({**WOMAN, "age": "60", "date_of_birth": "1950-01-01"}, today=today)
    assert errors["age"] == "Age does not match the date of birth (76 years)."
    _, errors = validate_patient({**WOMAN, "age": ""}, today=today)
    assert errors["age"].startswith("Age is required")
    _, errors = validate_patient({**WOMAN, "age": "", "date_of_birth": "1890-01-01"}, today=today)
    assert errors["date_of_birth"] == "The date of birth gives an age above 120 years."
    _, errors = validate_patient({**WOMAN, "date_of_birth": "2030-01-01"}, today=today)
    assert errors["date_of_birth"] == "The date of birth is in the future."


def test_obesity_follows_bmi_unless_overridden() -> None:
    heavy = {**WOMAN, "weight_kg": "80"}  # BMI 33.3
    record, _ = validate_patient(heavy)
    assert record.obesity is True and record.obesity_overridden is False
    record, _ = validate_patient({**heavy, "obesity_override": False})
    assert record.obesity is False and record.obesity_overridden is True
    record, _ = validate_patient({**WOMAN, "obesity_override": True})  # BMI 21.6
    assert record.obesity is True


@pytest.mark.parametrize(
    ("t_score", "category"),
    [(0.5, "normal"), (-1.0, "normal"), (-1.01, "osteopenia"), (-2.49, "osteopenia"), (-2.5, "osteoporosis"), (-4.0, "osteoporosis")],
)
def test_who_category_boundaries(t_score: float, category: str) -> None:
    assert who_category(t_score) == category


def test_who_category_needs_a_number() -> None:
    with pytest.raises(ValueError):
        who_category(math.nan)
    record, _ = validate_patient({**WOMAN, "t_score": "-2.5"})
    assert record.who_category == "osteoporosis"
    assert validate_patient(WOMAN)[0].who_category is None


@pytest.mark.parametrize(("value", "band"), [(-4.01, "high"), (-4.0, "moderate"), (-1.0, "moderate"), (-0.99, "low")])
def test_ost_bands(value: float, band: str) -> None:
    assert ost_category(value) == band


def test_ost_index_is_a_fifth_of_weight_minus_age() -> None:
    assert ost_index(weight_kg=52, age=72) == pytest.approx(-4.0)


def _shipped_specs() -> tuple[FeatureSpec, ...]:
    assert SHIPPED_CARD.exists(), "export the model: python -m conversion.export_sklearn ... --model-id osteoporosis_risk"
    return parse_feature_specs(json.loads(SHIPPED_CARD.read_text(encoding="utf-8"))["features"])


def test_feature_vector_follows_the_shipped_card_order_and_units() -> None:
    specs = _shipped_specs()
    record, _ = validate_patient({**WOMAN, "smoker": "yes", "walking_distance_km": "2"})
    row = feature_vector(record, specs)
    assert row.shape == (len(specs),) and row.dtype == np.float64
    expected = {"age": 72.0, "female": 1.0, "postmenopausal": 1.0, "years_since_menopause": 24.0, "height_m": 1.55,
                "weight_kg": 52.0, "bmi": 52 / 1.55**2, "obese": 0.0, "pregnancies": 4.0, "smoker": 1.0, "walking_distance_km": 2.0}
    by_name = dict(zip([s.name for s in specs], row))
    for name, value in expected.items():
        if name in by_name:
            assert by_name[name] == pytest.approx(value), name
    units = {s.name: s.unit for s in specs}
    assert units.get("height_m") == "m" and units.get("weight_kg") == "kg" and units.get("age") == "years"
    assert [s.name for s in specs] == [f["name"] for f in json.loads(SHIPPED_CARD.read_text())["features"]]


def test_unknown_answers_are_nan_and_men_carry_zero_for_women_only_factors() -> None:
    specs = tuple(FEATURE_CATALOGUE[n][0] for n in ("smoker", "pregnancies", "postmenopausal", "years_since_menopause", "walking_distance_km"))
    woman, _ = validate_patient({**WOMAN, "pregnancies": "", "menopause_age": "", "postmenopausal": ""})
    assert np.isnan(feature_vector(woman, specs)).all()
    man, _ = validate_patient(MAN)
    assert feature_vector(man, specs).tolist()[1:4] == [0.0, 0.0, 0.0]
    assert np.isnan(feature_vector(man, specs)[[0, 4]]).all()
    premenopausal, _ = validate_patient({**WOMAN, "age": "40", "menopause_age": "", "postmenopausal": "no"})
    assert feature_vector(premenopausal, specs)[2:4].tolist() == [0.0, 0.0]


def test_card_units_are_converted_or_refused() -> None:
    record, _ = validate_patient(WOMAN)
    specs = parse_feature_specs([{"name": "height_m", "unit": "cm"}, {"name": "age", "unit": "years"}])
    assert feature_vector(record, specs).tolist() == pytest.approx([155.0, 72.0])
    with pytest.raises(ValueError, match="inch"):
        parse_feature_specs([{"name": "height_m", "unit": "inch"}])
    with pytest.raises(ValueError, match="does not collect"):
        parse_feature_specs([{"name": "t_score"}])
    with pytest.raises(ValueError, match="twice"):
        parse_feature_specs([{"name": "age"}, {"name": "age"}])
