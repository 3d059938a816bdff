"""The body-part guard: the warning rule (Qt-free) and the analysis service on a tiny guard model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from desktop.core.body_part import (
    GUARD_CONFIDENCE,
    BodyPartCheck,
    body_part_warning,
    body_part_warnings,
    preselected_study_type,
)
from desktop.inference import guard_views
from desktop.inference.analysis import AnalysisService
from desktop.inference.predictor import PredictionError
from desktop.inference.registry import ModelRegistry
from tests.fixtures.images import xray_image
from tests.fixtures.tiny_models import GUARD_LABELS, guard_image, make_tiny_model_dir

KNEE_LABELS = ("0", "1", "2", "3", "4")


def _check(label: str, probability: float) -> BodyPartCheck:
    rest = (1.0 - probability) / (len(GUARD_LABELS) - 1)
    probabilities = {name: (probability if name == label else rest) for name in GUARD_LABELS}
    return BodyPartCheck(label=label, probability=probability, probabilities=probabilities, model_id="body_part")


# ------------------------------------------------------------------------------- the rule
def test_mismatch_warns_with_both_body_parts_and_the_percentage() -> None:
    chest = _check("chest", 0.93)
    assert body_part_warning(chest, "knee") == "This looks like a chest X-ray (93%); the knee models are not valid for it."
    assert body_part_warning(_check("knee", 0.988), "chest") == (
        "This looks like a knee X-ray (99%); the chest models are not valid for it."
    )
    other = body_part_warning(_check("other_bone", 0.8), "knee")
    assert other == "This looks like an X-ray of another bone (not knee or chest) (80%); the knee models are not valid for it."
    assert "the other-bone models are not valid" in body_part_warning(chest, "other_bone")


def test_matching_body_part_or_no_models_says_nothing() -> None:
    assert body_part_warning(_check("chest", 0.93), "chest") is None
    assert body_part_warning(_check("chest", 0.93), None) is None


def test_not_an_xray_warns_whatever_runs() -> None:
    expected = "This does not look like an X-ray (97%); no model here is valid for it."
    not_xray = _check("not_xray", 0.97)
    assert body_part_warning(not_xray, "knee") == expected
    assert body_part_warning(not_xray, None) == expected
    # Several study types about to run: still one sentence, not one per type.
    assert body_part_warnings(not_xray, ["knee", "chest"]) == (expected,)
    assert body_part_warnings(not_xray, []) == (expected,)


def test_low_confidence_neither_warns_nor_preselects() -> None:
    unsure = _check("chest", GUARD_CONFIDENCE - 0.01)
    assert not unsure.is_confident
    assert body_part_warning(unsure, "knee") is None
    assert body_part_warning(_check("not_xray", 0.55), "knee") is None
    assert preselected_study_type(unsure) is None
    assert unsure.verdict().startswith("Looks like: unsure (chest X-ray 59%")
    # Exactly at the level counts as confident: the constant is the documented boundary.
    assert preselected_study_type(_check("chest", GUARD_CONFIDENCE)) == "chest"


def test_no_guard_says_nothing() -> None:
    assert body_part_warning(None, "knee") is None
    assert body_part_warnings(None, ["knee", "chest"]) == ()
    assert preselected_study_type(None) is None


def test_preselection_only_for_study_types() -> None:
    assert preselected_study_type(_check("knee", 0.9)) == "knee"
    assert preselected_study_type(_check("other_bone", 0.9)) == "other_bone"
    assert preselected_study_type(_check("not_xray", 0.99)) is None


def test_warnings_for_several_study_types_list_each_mismatch_once() -> None:
    chest = _check("chest", 0.9)
    assert body_part_warnings(chest, ["knee", "chest", "knee", "other_bone"]) == (
        "This looks like a chest X-ray (90%); the knee models are not valid for it.",
        "This looks like a chest X-ray (90%); the other-bone models are not valid for it.",
    )


def test_verdict_and_json_round_trip() -> None:
    check = _check("knee", 0.98)
    assert check.verdict() == "Looks like: knee X-ray (98%)"
    assert _check("not_xray", 0.97).verdict() == "Looks like: not an X-ray (97%)"
    data = json.loads(json.dumps(check.to_dict()))
    assert data["confident"] is True and data["probabilities"]["knee"] == pytest.approx(0.98)
    assert BodyPartCheck.from_dict(data) == check
    # A stored "confident" flag is never trusted: it is recomputed from the probability.
    assert BodyPartCheck.from_dict({**data, "probability": 0.3, "confident": True}).is_confident is False


def test_an_image_in_colour_is_not_an_xray_whatever_the_guard_says() -> None:
    coloured = replace(_check("other_bone", 0.99), colour_share=0.33, turn=1)
    expected = "This image is in colour (33% of it); X-rays are greyscale, so no model here is valid for it."
    assert not coloured.looks_like_xray and coloured.verdict() == "Looks like: not an X-ray (in colour: 33% of the image)"
    assert body_part_warnings(coloured, ["other_bone"]) == (expected,) and body_part_warning(coloured, None) == expected
    assert preselected_study_type(coloured) is None and coloured.upright_turns == {}
    # Unsure guard or none at all: the colour alone still decides.
    assert body_part_warning(replace(_check("knee", 0.4), colour_share=0.33), "knee") == expected
    # A few coloured marks on a grey film (at most 5% of it) change nothing.
    marked = replace(_check("other_bone", 0.99), colour_share=0.05)
    assert marked.looks_like_xray and preselected_study_type(marked) == "other_bone" and body_part_warning(marked, "other_bone") is None
    assert BodyPartCheck.from_dict(json.loads(json.dumps(coloured.to_dict()))) == coloured
    # Checks stored before the colour rule read as grey.
    legacy = {k: v for k, v in coloured.to_dict().items() if k != "colour_share"}
    assert BodyPartCheck.from_dict(legacy).colour_share == 0.0


# --------------------------------------------------------------------------- the service
@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory: pytest.TempPathFactory) -> AnalysisService:
    root = tmp_path_factory.mktemp("guarded")
    make_tiny_model_dir(root, model_id="tiny_chest")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=KNEE_LABELS, task="ordinal")
    make_tiny_model_dir(root, model_id="body_part", role="body_part")
    return AnalysisService(ModelRegistry.discover(root))


def test_tiny_guard_card_and_registry_role(guarded_service: AnalysisService) -> None:
    registry = guarded_service.registry
    guard = registry.helper("body_part")
    assert guard is not None and guard.card.role == "body_part" and guard.card.body_part == "any"
    assert guard.card.labels == GUARD_LABELS and guard.card.task == "multiclass"
    assert guard.card.preprocessing.resize == "pad"
    assert "body_part" not in [m.id for m in registry.image_models]
    assert guarded_service.has_guard


@pytest.mark.parametrize("kind", ["knee", "chest", "other_bone", "not_xray"])
def test_check_body_part_reads_the_tiny_guard(guarded_service: AnalysisService, kind: str) -> None:
    check = guarded_service.check_body_part(xray_image(guard_image(kind)))
    assert check.label == kind and check.is_confident
    assert check.model_id == "body_part" and check.model_version == "1.0.0"
    assert set(check.probabilities) == set(GUARD_LABELS)
    assert sum(check.probabilities.values()) == pytest.approx(1.0)


def test_guard_picks_the_study_type(guarded_service: AnalysisService) -> None:
    result = guarded_service.analyse_guarded(xray_image(guard_image("knee")), default_body_part="chest", with_heatmap=False)
    assert result.chosen_by_guard and result.body_part == "knee"
    assert [p.model_id for p in result.predictions] == ["tiny_knee"]
    assert result.warnings == () and not result.skipped


def test_explicit_choice_runs_and_warns(guarded_service: AnalysisService) -> None:
    knee = xray_image(guard_image("knee"))
    result = guarded_service.analyse_guarded(knee, body_part="chest", with_heatmap=False)
    assert not result.chosen_by_guard and [p.model_id for p in result.predictions] == ["tiny_chest"]
    assert result.warnings == ("This looks like a knee X-ray (95%); the chest models are not valid for it.",)
    by_id = guarded_service.analyse_guarded(knee, model_ids=["tiny_chest", "tiny_knee"], with_heatmap=False)
    assert [p.model_id for p in by_id.predictions] == ["tiny_chest", "tiny_knee"]
    assert by_id.warnings == result.warnings  # the knee model fits; only the chest one is warned about


def test_not_an_xray_runs_nothing_unless_asked(guarded_service: AnalysisService) -> None:
    photo = xray_image(guard_image("not_xray"))
    result = guarded_service.analyse_guarded(photo, default_body_part="chest")
    assert result.skipped and result.predictions == () and result.body_part is None
    assert result.warnings == ("This does not look like an X-ray (90%); no model here is valid for it.",)
    forced = guarded_service.analyse_guarded(photo, body_part="chest", with_heatmap=False)
    assert not forced.skipped and [p.model_id for p in forced.predictions] == ["tiny_chest"]
    assert forced.warnings == result.warnings


def test_a_colour_image_runs_nothing_unless_asked(guarded_service: AnalysisService) -> None:
    knee = replace(xray_image(guard_image("knee")), colour_share=0.4)
    result = guarded_service.analyse_guarded(knee, default_body_part="chest")
    assert result.skipped and result.predictions == () and result.check.label == "knee"
    assert result.warnings == ("This image is in colour (40% of it); X-rays are greyscale, so no model here is valid for it.",)
    forced = guarded_service.analyse_guarded(knee, body_part="knee", with_heatmap=False)
    assert [p.model_id for p in forced.predictions] == ["tiny_knee"] and forced.warnings == result.warnings


def test_unsure_guard_falls_back_to_the_default(guarded_service: AnalysisService) -> None:
    mixed = xray_image(guard_image("unsure"))
    result = guarded_service.analyse_guarded(mixed, default_body_part="chest", with_heatmap=False)
    assert not result.check.is_confident and not result.chosen_by_guard
    assert result.body_part == "chest" and [p.model_id for p in result.predictions] == ["tiny_chest"]
    assert result.warnings == ()
    every = guarded_service.analyse_guarded(mixed, with_heatmap=False)
    assert [p.model_id for p in every.predictions] == ["tiny_chest", "tiny_knee"]


def test_a_given_check_is_reused_not_recomputed(guarded_service: AnalysisService) -> None:
    # A knee-looking image, but the caller already knows the guard said chest: no second run.
    result = guarded_service.analyse_guarded(xray_image(guard_image("knee")), check=_check("chest", 0.9), with_heatmap=False)
    assert result.body_part == "chest" and result.check.label == "chest"


def test_without_guard_nothing_changes(tiny_registry: ModelRegistry) -> None:
    service = AnalysisService(tiny_registry)
    image = xray_image(guard_image("not_xray"))
    assert not service.has_guard and service.check_body_part(image) is None
    result = service.analyse_guarded(image, default_body_part="chest", with_heatmap=False)
    assert result.check is None and result.warnings == () and not result.skipped
    assert [p.model_id for p in result.predictions] == ["tiny_chest"]
    assert [p.label for p in result.predictions] == [p.label for p in service.analyse(image, body_part="chest")]


def test_guard_with_unknown_labels_is_ignored(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    folder = make_tiny_model_dir(tmp_path, model_id="body_part", role="body_part")
    card = json.loads((folder / "model.json").read_text())
    card["labels"] = ["knee", "chest", "hand", "not_xray"]
    (folder / "model.json").write_text(json.dumps(card))
    service = AnalysisService(ModelRegistry.discover(tmp_path))
    assert service.registry.helper("body_part") is not None  # loaded, but not trusted as a guard
    assert not service.has_guard and service.check_body_part(xray_image(guard_image("knee"))) is None


def test_failing_guard_does_not_stop_the_models(guarded_service: AnalysisService, monkeypatch: pytest.MonkeyPatch) -> None:
    real = guard_views.predict_image

    def guard_breaks(model, pixels, *, with_heatmap=True):
        if model.card.role == "body_part":
            raise PredictionError("guard returned NaN")
        return real(model, pixels, with_heatmap=with_heatmap)

    monkeypatch.setattr(guard_views, "predict_image", guard_breaks)
    result = guarded_service.analyse_guarded(xray_image(guard_image("knee")), default_body_part="chest", with_heatmap=False)
    assert result.check is None and result.warnings == ()
    assert [p.model_id for p in result.predictions] == ["tiny_chest"]
