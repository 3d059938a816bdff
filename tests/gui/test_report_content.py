"""The report's wording: plain sentences from the stored cards, risk lines, table rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from desktop.core.records import SQLiteRecordStore
from desktop.core.records.values import CardSummary
from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.report.content import (
    limit_lines,
    performance_sentence,
    report_content,
    risk_lines,
)
from tests.fixtures.records import CHEST_CARD, knee_prediction, make_draft, write_test_png


def test_performance_sentence_in_plain_words() -> None:
    card = replace(CHEST_CARD, metrics={"split": "internal test set, grouped by patient", "n": 787, "accuracy": 0.9606,
                                        "sensitivity": 0.97, "specificity": 0.94})
    assert performance_sentence(card, positive_label="PNEUMONIA") == (
        "On 787 held-out images from patients not used in training, this model was right 96% of the time;"
        " it found 97% of the pneumonia cases and correctly cleared 94% of the others."
    )
    nested = replace(CHEST_CARD, task="ordinal", metrics={"val": {"n": 10, "accuracy": 0.1}, "test": {"n": 1656, "accuracy": 0.652}})
    assert performance_sentence(nested) == "On 1,656 held-out images not used in training, this model gave exactly the right grade 65% of the time."
    assert performance_sentence(replace(CHEST_CARD, metrics={})) == "No held-out test results are recorded for this model."
    assert performance_sentence(None) == "No held-out test results are recorded for this model."


def test_limits_come_from_intended_use_and_limitations() -> None:
    card = replace(CHEST_CARD, intended_use="Decision support for children. Not for adults, lateral views or other chest diseases.",
                   limitations=("One hospital only.",))
    assert limit_lines(card) == ("It is not validated for adults, lateral views or other chest diseases.", "One hospital only.")
    assert limit_lines(None) == ("The model's card was not stored with this study.",)


def test_risk_lines() -> None:
    assert risk_lines(None) == ()
    lines = risk_lines({"probability": 0.2, "label": "normal", "positive_label": "osteoporosis", "threshold": 0.35,
                        "model_id": "osteoporosis_risk", "model_version": "1.2.0", "top_factors": ["Age 50 years: lowers risk"],
                        "who_category": None, "warnings": ["Weight outside the training range."]})
    assert lines == (
        "Model probability 20.0% \u2014 not flagged (normal); threshold 35.0% (model osteoporosis_risk 1.2.0).",
        "Top factors: Age 50 years: lowers risk.",
        "Note: Weight outside the training range.",
    )


def test_report_content_rows(tmp_path) -> None:
    store = SQLiteRecordStore.open(tmp_path / "data", clock=lambda: datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    knee = replace(knee_prediction(), card=CardSummary(name="Knee", task="ordinal"))
    record = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(knee,), doctor_name=""))
    store.close()
    content = report_content(record, clinic=ClinicSettings(name=" Clinic ", address="A\n\nB", doctor_name="Dr. Default"),
                             generated_at=datetime(2024, 3, 5, 9, 15))
    assert content.clinic_name == "Clinic" and content.clinic_address == ("A", "B")
    assert dict(content.patient_rows)["Date of birth"] == "1950-03-04 (age 74)"
    assert dict(content.study_rows)["Pixel spacing"] == "0.143 \u00d7 0.150 mm"
    main, derived = content.findings
    assert (main.result, main.probability, main.threshold) == ("Grade 2", "50.0%", "most probable class")
    assert derived.derived and derived.result == "Osteoarthritis" and derived.threshold == "Osteoarthritis if 50% or more"
    assert content.doctor_name == "Dr. Default"  # the clinic default signs when the study names nobody
    assert content.heatmap_caption == "No heat map was computed for this study."
    # Saved without a body-part guard: no check row; only the model's own warning, named.
    assert content.warnings == ("Tiny knee model: Image is small.",) and "Image check" not in dict(content.study_rows)
    assert content.saved_at == "2024-03-04 12:00" and content.generated_at == "2024-03-05 09:15"


def test_each_models_own_warnings_are_printed_once_per_joint(tmp_path) -> None:
    unfamiliar = "this image is unlike the images this model was fitted on; its answer may be unreliable"
    left = replace(knee_prediction(), region_side="image_left", warnings=(unfamiliar,))
    right = replace(knee_prediction(), region_side="image_right", warnings=(unfamiliar, unfamiliar))
    store = SQLiteRecordStore.open(tmp_path / "data")
    record = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(left, right)))
    store.close()
    content = report_content(record, clinic=ClinicSettings(), generated_at=datetime(2024, 3, 5, 9, 15))
    assert content.warnings == (f"Tiny knee model, knee on image left: {unfamiliar}",
                                f"Tiny knee model, knee on image right: {unfamiliar}")


def test_report_as_plain_text_keeps_joints_warnings_and_the_disclaimer(tmp_path) -> None:
    from desktop.ui.report.plain_text import report_text

    store = SQLiteRecordStore.open(tmp_path / "data", clock=lambda: datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    left = replace(knee_prediction(), card=CardSummary(name="Knee", task="ordinal"), region_side="image_left")
    normal = replace(left.derived[0], label="Normal", probability=0.3)
    right = replace(left, region_side="image_right", derived=(normal,))
    record = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(left, right),
                                         warnings=("This looks like a chest X-ray.",)))
    store.close()
    text = report_text(report_content(record, clinic=ClinicSettings(name="Hill Clinic"), generated_at=record.created_at))
    lines = text.splitlines()
    assert lines[0] == f"X-ray report {record.report_id} (study saved {record.created_at:%Y-%m-%d %H:%M})"
    assert "Name: Иван Петров" in lines and "Warning: This looks like a chest X-ray." in lines
    left_at, right_at = lines.index("Knee on image left:"), lines.index("Knee on image right:")
    assert lines[left_at + 1] == "  Tiny knee model: Grade 2 (50.0%; most probable class)"
    assert lines[right_at + 2] == "    Radiographic OA: Normal (Osteoarthritis 30.0%; Osteoarthritis if 50% or more)"
    assert "Impression" in lines and "Likely pneumonia." in lines and lines[-1].startswith("Decision support only")


def test_a_referenced_heat_map_says_what_it_is_compared_with_after_a_reload(tmp_path) -> None:
    from tests.fixtures.records import chest_prediction

    compared = replace(chest_prediction(), card=replace(CHEST_CARD, heatmap_compared_with="NORMAL films"))
    store = SQLiteRecordStore.open(tmp_path / "data")
    saved = store.save_study(make_draft(*write_test_png(tmp_path / "x.png"), predictions=(compared,)))
    record = store.get_study(saved.key)
    store.close()
    assert record.predictions[0].model_card().heatmap_compared_with == "NORMAL films"
    caption = report_content(record, clinic=ClinicSettings(), generated_at=record.created_at).heatmap_caption
    assert caption.endswith("\u201cPNEUMONIA\u201d most, compared with NORMAL films.")

    plain = replace(chest_prediction(), card=CHEST_CARD)  # a card without a reference, or a study saved before them
    store = SQLiteRecordStore.open(tmp_path / "data")
    record = store.save_study(make_draft(*write_test_png(tmp_path / "y.png", seed=1), predictions=(plain,)))
    store.close()
    assert "compared with" not in report_content(record, clinic=ClinicSettings(), generated_at=record.created_at).heatmap_caption
