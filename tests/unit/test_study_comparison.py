"""Pairing two saved studies' findings for the comparison: by joint and model, changes marked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from desktop.core.joint_regions import JointRegion
from desktop.core.records import PatientDetails
from desktop.core.records.sqlite_store import SQLiteRecordStore
from desktop.ui.study_comparison import ABSENT, compare_findings, in_time_order, result_text
from tests.fixtures.records import chest_prediction, knee_prediction, make_draft, write_test_png


@pytest.fixture()
def store(tmp_path: Path):
    opened = SQLiteRecordStore.open(tmp_path / "data")
    yield opened
    opened.close()


def test_findings_pair_by_joint_and_model_and_only_a_new_result_counts_as_a_change(store, tmp_path: Path) -> None:
    left_knee = replace(knee_prediction(), region_side="image_left")
    right_knee = replace(knee_prediction(), region_side="image_right")
    first = store.save_study(make_draft(*write_test_png(tmp_path / "a.png", seed=1),
                                        predictions=(chest_prediction(p_positive=0.93), left_knee)))
    second = store.save_study(make_draft(*write_test_png(tmp_path / "b.png", seed=2),
                                         predictions=(chest_prediction(p_positive=0.91), right_knee)))
    earlier, later = in_time_order(second, first)
    assert (earlier.key, later.key) == (first.key, second.key)
    rows = {(f.joint, f.model): f for f in compare_findings(earlier, later)}
    chest = rows[("", "Tiny chest model")]
    assert (result_text(chest.earlier), result_text(chest.later)) == ("PNEUMONIA (93.0%)", "PNEUMONIA (91.0%)")
    assert not chest.changed  # the probability moved, the finding did not
    left = rows[("Knee on image left", "Tiny knee model")]
    assert result_text(left.later) == ABSENT and not left.changed  # only the earlier film showed this joint
    right = rows[("Knee on image right", "Tiny knee model")]
    assert result_text(right.earlier) == ABSENT
    assert rows[("Knee on image left", "Radiographic OA")].derived
    assert list(rows)[:3] == [("", "Tiny chest model"), ("Knee on image left", "Tiny knee model"),
                              ("Knee on image left", "Radiographic OA")]  # the earlier study's order first


def test_a_changed_grade_is_a_change(store, tmp_path: Path) -> None:
    patient = PatientDetails(name="Anna", patient_id="A-1")
    knee = replace(knee_prediction(), region_side="image_left")
    worse = replace(knee, probabilities=(0.05, 0.1, 0.2, 0.55, 0.1), label="3")
    first = store.save_study(make_draft(*write_test_png(tmp_path / "a.png", seed=1), patient=patient, predictions=(knee,)))
    second = store.save_study(make_draft(*write_test_png(tmp_path / "b.png", seed=2), patient=patient, predictions=(worse,)))
    (grade, oa) = compare_findings(first, second)
    assert grade.changed and (grade.earlier.result, grade.later.result) == ("2", "3")
    assert not oa.changed and result_text(oa.earlier) == "Osteoarthritis (85.0%)"
    normal = replace(oa.earlier, result="Normal")
    assert result_text(normal) == "Normal (Osteoarthritis 85.0%)"  # the number is never read as P(Normal)


def test_knees_pair_by_the_patients_side_when_both_studies_name_every_knee(store, tmp_path: Path) -> None:
    patient = PatientDetails(name="Anna", patient_id="A-1")
    left_place, right_place = (replace(knee_prediction(), region_side=side) for side in ("image_left", "image_right"))
    worse = replace(right_place, probabilities=(0.05, 0.1, 0.2, 0.55, 0.1), label="3")

    def joints(right_on: str | None, by: str = "user") -> tuple[JointRegion, ...]:
        return tuple(JointRegion((0, x, 10, 10), 0.9, side, patient_side=(None if right_on is None else
                                                                          "right" if side == right_on else "left"),
                                 sided_by=by if right_on else None)
                     for side, x in (("image_left", 0), ("image_right", 20)))

    def study(name: str, seed: int, knee_joints, predictions=(left_place, right_place)):
        return store.save_study(make_draft(*write_test_png(tmp_path / name, seed=seed), patient=patient,
                                           predictions=predictions, knee_joints=knee_joints))

    # The earlier film was displayed the usual way, the later one mirrored: the right knee
    # moved from the image's left to its right, and got worse.
    earlier = study("a.png", 1, joints("image_left", by="header"))
    later = study("b.png", 2, joints("image_right"), predictions=(replace(left_place, label="2"), worse))
    grades = [f for f in compare_findings(earlier, later) if not f.derived]
    assert [(f.joint, f.earlier.joint, f.later.joint) for f in grades] == [
        ("Right knee (image right)", "Right knee (image left)", "Right knee (image right)"),
        ("Left knee (image left)", "Left knee (image right)", "Left knee (image left)"),
    ]
    assert grades[0].changed and (grades[0].earlier.result, grades[0].later.result) == ("2", "3")
    # One study with the knees unnamed: nothing says which knee is which, so they pair by place.
    unnamed = study("c.png", 3, joints(None))
    assert [(f.earlier.joint, f.later.joint) for f in compare_findings(earlier, unnamed) if not f.derived] == [
        ("Right knee (image left)", "Knee on image left"), ("Left knee (image right)", "Knee on image right")]
