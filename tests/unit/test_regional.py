"""Knee models read each located knee joint: the card fields, the analysis service, the fallbacks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from desktop.core.joint_regions import (
    LOCATOR_FAILED_WARNING,
    NO_JOINT_NOTICE,
    NO_LOCATOR_WARNING,
    JointRegion,
    joint_heading,
    side_label,
)
from desktop.core.knee_sides import STANDARD_DISPLAY, FilmSides
from desktop.core.model_card import CardError, load_card, parse_card
from desktop.inference import regional
from desktop.inference.analysis import AnalysisService
from desktop.inference.knee_joints import crop_joint
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from desktop.paths import models_dir
from tests.fixtures.fake_locator import (
    FlatScoreSession,
    ScriptedJoints,
    bilateral_film,
    fake_locator,
    halves,
    with_locator,
)
from tests.fixtures.images import xray_image
from tests.fixtures.tiny_models import guard_image, make_tiny_model_dir

KNEE_LABELS = ("0", "1", "2", "3", "4")
OA = {"id": "oa", "name": "Radiographic OA", "labels": ["Normal", "Osteoarthritis"], "positive_classes": ["2", "3", "4"]}
LEFT_BOX, RIGHT_BOX = (0, 0, 64, 64), (0, 96, 64, 64)


@pytest.fixture(scope="module")
def knee_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    root = tmp_path_factory.mktemp("regional")
    make_tiny_model_dir(root, model_id="tiny_chest")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=KNEE_LABELS, task="ordinal",
                        derived_outputs=[OA], region="knee_joint")
    make_tiny_model_dir(root, model_id="tiny_knee_b", body_part="knee", labels=KNEE_LABELS, task="ordinal",
                        region="knee_joint", seed=2)
    return ModelRegistry.discover(root)


@pytest.fixture()
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedJoints:
    joints = ScriptedJoints(halves)
    monkeypatch.setattr(regional, "locate_knee_joints", joints)
    return joints


# ----------------------------------------------------------------------------- the card
def _card(**changes) -> dict:
    card = json.loads((Path(__file__).parents[2] / "models" / "knee_kl" / "model.json").read_text(encoding="utf-8"))
    card.update(changes)
    return {k: v for k, v in card.items() if v is not None}


def test_card_region_and_film_aggregation() -> None:
    shipped = load_card(models_dir() / "knee_kl" / "model.json")
    assert shipped.region == "knee_joint" and shipped.film_aggregation == "worst_joint"
    assert parse_card(_card(film_aggregation="mean")).film_aggregation == "mean"
    # A regional card without an aggregation gets the conservative one.
    assert parse_card(_card(film_aggregation=None)).film_aggregation == "worst_joint"
    plain = parse_card(_card(region=None, film_aggregation=None))
    assert plain.region is None and plain.film_aggregation is None
    for bad, message in (
        (dict(region="hip_joint"), "region must be one of"),
        (dict(film_aggregation="median"), "film_aggregation must be one of"),
        (dict(region=None), "film_aggregation applies only"),
        (dict(body_part="chest"), "needs body_part 'knee'"),
        (dict(role="joint_locator"), "only a diagnosis model"),
    ):
        with pytest.raises(CardError, match=message):
            parse_card(_card(**bad))


def test_joint_wording_and_json_round_trip() -> None:
    assert [side_label(s) for s in ("image_left", "image_right", "single")] == ["image left", "image right", "knee joint"]
    assert [joint_heading(s) for s in ("image_left", "image_right", "single")] == [
        "Knee on image left", "Knee on image right", "Knee joint"]
    joint = JointRegion(box=(-4, 10, 80, 80), score=0.75, side="image_right")
    assert JointRegion.from_dict(json.loads(json.dumps(joint.to_dict()))) == joint


# --------------------------------------------------------------------------- the service
def test_two_joints_give_each_knee_model_one_answer_per_joint(knee_registry: ModelRegistry, scripted: ScriptedJoints) -> None:
    service = AnalysisService(with_locator(knee_registry))
    assert service.has_joint_locator
    film = bilateral_film()
    result = service.analyse_guarded(xray_image(film), body_part="knee")
    assert scripted.calls == 1  # located once, shared by both knee models
    assert [(p.model_id, p.region_side) for p in result.predictions] == [
        ("tiny_knee", "image_left"), ("tiny_knee_b", "image_left"),
        ("tiny_knee", "image_right"), ("tiny_knee_b", "image_right"),
    ]
    assert result.joints == (JointRegion(LEFT_BOX, 0.9, "image_left"), JointRegion(RIGHT_BOX, 0.8, "image_right"))
    assert result.warnings == ()
    left, _, right, _ = result.predictions
    assert left.region == LEFT_BOX and right.region == RIGHT_BOX
    assert left.result_key == "tiny_knee@image_left" and right.result_key == "tiny_knee@image_right"
    # Each answer comes from its own crop, exactly as the model reads that crop on its own.
    knee = knee_registry.get("tiny_knee")
    for prediction, joint in ((left, halves(film)[0]), (right, halves(film)[1])):
        alone = predict_image(knee, crop_joint(film, joint), with_heatmap=False)
        np.testing.assert_allclose(prediction.probabilities, alone.probabilities, atol=1e-6)
    assert left.label == "4" and left.derived[0].label == "Osteoarthritis"
    assert right.label == "0" and right.derived[0].label == "Normal"
    assert left.heatmap is not None and left.heatmap_method == "cam"


def test_a_dicom_header_that_tells_the_sides_names_the_patients_knees(knee_registry: ModelRegistry,
                                                                      scripted: ScriptedJoints) -> None:
    service = AnalysisService(with_locator(knee_registry))
    image = replace(xray_image(bilateral_film()), film_sides=FilmSides(across="L"))
    result = service.analyse_guarded(image, body_part="knee")
    assert [(j.side, j.patient_side, j.sided_by) for j in result.joints] == [
        ("image_left", "right", "header"), ("image_right", "left", "header")]
    # The answers stay keyed by their place on the image: the side is a name, not a new key.
    assert [p.region_side for p in result.predictions] == ["image_left", "image_left", "image_right", "image_right"]


def test_the_clinics_display_names_the_knees_only_of_films_whose_file_says_nothing(knee_registry: ModelRegistry,
                                                                                  scripted: ScriptedJoints) -> None:
    service = AnalysisService(with_locator(knee_registry), clinic_display=STANDARD_DISPLAY)
    plain = service.analyse_guarded(xray_image(bilateral_film()), body_part="knee", with_heatmap=False)
    assert [(j.patient_side, j.sided_by) for j in plain.joints] == [("right", "clinic"), ("left", "clinic")]
    # A header, even one that tells nothing about these two knees, speaks for its film.
    mirrored = replace(xray_image(bilateral_film()), film_sides=FilmSides(across="R"))
    assert [(j.patient_side, j.sided_by) for j in service.analyse_guarded(mirrored, body_part="knee").joints] == [
        ("left", "header"), ("right", "header")]
    one_side = replace(xray_image(bilateral_film()), film_sides=FilmSides(laterality="L"))
    assert [(j.patient_side, j.sided_by) for j in service.analyse_guarded(one_side, body_part="knee").joints] == [
        (None, None), (None, None)]
    # Read per analysis: the clinic settings switch it off for the next film.
    service.clinic_display = None
    off = service.analyse_guarded(xray_image(bilateral_film()), body_part="knee", with_heatmap=False)
    assert [j.patient_side for j in off.joints] == [None, None]


def test_whole_image_models_keep_their_place_and_read_the_whole_image(knee_registry: ModelRegistry,
                                                                      scripted: ScriptedJoints) -> None:
    service = AnalysisService(with_locator(knee_registry))
    result = service.analyse_guarded(xray_image(bilateral_film()), model_ids=["tiny_chest", "tiny_knee"], with_heatmap=False)
    assert [(p.model_id, p.region_side) for p in result.predictions] == [
        ("tiny_chest", None), ("tiny_knee", "image_left"), ("tiny_knee", "image_right")]
    assert result.predictions[0].region is None
    chest_only = service.analyse_guarded(xray_image(bilateral_film()), body_part="chest", with_heatmap=False)
    assert scripted.calls == 1 and chest_only.joints is None and chest_only.warnings == ()  # nobody looked


def test_no_joint_runs_no_knee_model_and_says_so(knee_registry: ModelRegistry) -> None:
    # The real detector on a locator that scores every window as background.
    locator = fake_locator(FlatScoreSession())
    service = AnalysisService(with_locator(knee_registry, locator))
    result = service.analyse_guarded(xray_image(bilateral_film()), model_ids=["tiny_chest", "tiny_knee", "tiny_knee_b"],
                                     with_heatmap=False)
    assert locator.session.calls > 0
    assert [p.model_id for p in result.predictions] == ["tiny_chest"]
    assert result.joints == () and result.warnings == (NO_JOINT_NOTICE,)
    assert NO_JOINT_NOTICE == "No knee joint was found on this image, so the knee models were not run."
    assert service.analyse(xray_image(bilateral_film()), body_part="knee") == ()


def test_without_a_locator_the_whole_image_is_graded_with_a_warning(knee_registry: ModelRegistry) -> None:
    service = AnalysisService(knee_registry)
    assert not service.has_joint_locator
    film = bilateral_film()
    result = service.analyse_guarded(xray_image(film), body_part="knee", with_heatmap=False)
    assert [(p.model_id, p.region) for p in result.predictions] == [("tiny_knee", None), ("tiny_knee_b", None)]
    assert result.joints is None
    assert result.warnings == ("The knee joint locator is not available: the whole image was graded as one joint.",)
    assert result.warnings == (NO_LOCATOR_WARNING,)
    whole = predict_image(knee_registry.get("tiny_knee"), film, with_heatmap=False)
    np.testing.assert_allclose(result.predictions[0].probabilities, whole.probabilities, atol=1e-6)


def test_a_failing_locator_falls_back_to_the_whole_image(knee_registry: ModelRegistry) -> None:
    service = AnalysisService(with_locator(knee_registry, fake_locator(FlatScoreSession(error="out of memory"))))
    result = service.analyse_guarded(xray_image(bilateral_film()), body_part="knee", with_heatmap=False)
    assert [p.region for p in result.predictions] == [None, None]
    assert result.joints is None and result.warnings == (LOCATOR_FAILED_WARNING,)


def test_guard_and_locator_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    make_tiny_model_dir(tmp_path, model_id="tiny_knee", body_part="knee", labels=KNEE_LABELS, task="ordinal",
                        region="knee_joint")
    make_tiny_model_dir(tmp_path, model_id="body_part", role="body_part")
    monkeypatch.setattr(regional, "locate_knee_joints", ScriptedJoints(halves))
    service = AnalysisService(with_locator(ModelRegistry.discover(tmp_path)))
    knee_picture = xray_image(guard_image("knee"))
    picked = service.analyse_guarded(knee_picture, default_body_part="chest", with_heatmap=False)
    assert picked.chosen_by_guard and picked.body_part == "knee"
    assert [(p.model_id, p.region_side) for p in picked.predictions] == [("tiny_knee", "single")]
    assert picked.joints == (JointRegion((0, 0, 64, 64), 0.7, "single"),) and picked.warnings == ()
    # Knee models forced on a chest picture that has no joint: both sentences, guard first.
    monkeypatch.setattr(regional, "locate_knee_joints", ScriptedJoints(lambda _pixels: []))
    forced = service.analyse_guarded(xray_image(guard_image("chest")), body_part="knee", with_heatmap=False)
    assert forced.predictions == () and forced.joints == ()
    guard_warning, notice = forced.warnings
    assert guard_warning.startswith("This looks like a chest X-ray (") and notice == NO_JOINT_NOTICE
