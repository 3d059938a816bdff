"""The body-part guard reads a film in every quarter turn, so a film scanned turned is still
an X-ray of its body part; photos and unsure images keep the answer for the image as it is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop.inference import guard_views
from desktop.inference.analysis import AnalysisService
from desktop.core.body_part import TURNED_IMAGE_NOTICE, BodyPartCheck
from desktop.inference.guard_views import read_guard
from desktop.inference.predictor import predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.images import top_edge_is_brightest, xray_image
from tests.fixtures.tiny_models import guard_image, make_tiny_model_dir


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> AnalysisService:
    root = tmp_path_factory.mktemp("guard")
    make_tiny_model_dir(root, model_id="body_part", role="body_part")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=("0", "1", "2", "3", "4"), task="ordinal")
    make_tiny_model_dir(root, model_id="tiny_chest")
    make_tiny_model_dir(root, model_id="tiny_bone", body_part="other_bone", labels=("not_fractured", "fractured"), seed=3)
    # Like the fracture model: it averages its answer over quarter turns inside its graph.
    card_file = root / "tiny_bone" / "model.json"
    card_file.write_text(json.dumps({**json.loads(card_file.read_text()), "test_time_views": ["quarter_turn"]}))
    return AnalysisService(ModelRegistry.discover(root))


def _reads_upright(monkeypatch: pytest.MonkeyPatch, kind: str) -> list[np.ndarray]:
    """Make the tiny guard behave like the real one: ``kind`` only when the film is upright
    (its bright band on top), "not an X-ray" in any other turn. Returns what it read."""
    real, seen = guard_views.predict_image, []

    def reads_upright(model: LoadedModel, pixels: np.ndarray, *, with_heatmap: bool = True):
        seen.append(pixels)
        if pixels.min() == pixels.max():  # a flat image: whatever the tiny guard reads its level as
            return real(model, pixels, with_heatmap=with_heatmap)
        seen_as = kind if top_edge_is_brightest(pixels, 4) else "not_xray"
        return real(model, guard_image(seen_as), with_heatmap=with_heatmap)

    monkeypatch.setattr(guard_views, "predict_image", reads_upright)
    return seen


@pytest.fixture()
def upright_only(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    return _reads_upright(monkeypatch, "knee")


def _film() -> np.ndarray:
    film = np.full((80, 120), 0.2, dtype=np.float32)
    film[:10] = 0.9  # the band that marks the film's top
    return film


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_a_turned_film_is_still_a_knee_x_ray(service: AnalysisService, upright_only: list[np.ndarray], turn: int) -> None:
    check = service.check_body_part(xray_image(np.ascontiguousarray(np.rot90(_film(), turn))))
    assert check is not None and check.label == "knee" and check.is_confident
    assert len(upright_only) == 4 and {p.shape for p in upright_only} == {(80, 120), (120, 80)}


def test_with_the_guard_unsure_of_every_turn_the_image_as_it_is_answers(service: AnalysisService) -> None:
    # The tiny guard reads grey levels, so every turn of these images gets the same answer.
    for kind in ("not_xray", "unsure"):
        alone = guard_views.predict_image(service.registry.get("body_part"), guard_image(kind), with_heatmap=False)
        reading = read_guard(service.registry.get("body_part"), guard_image(kind))
        assert reading.prediction.probabilities == alone.probabilities and reading.prediction.heatmap is None
        assert reading.turn == 0


def test_a_turned_film_runs_its_body_part_models(service: AnalysisService, upright_only: list[np.ndarray]) -> None:
    result = service.analyse_guarded(xray_image(np.ascontiguousarray(np.rot90(_film(), 1))), with_heatmap=False)
    assert not result.skipped and result.body_part == "knee" and result.chosen_by_guard
    assert [p.model_id for p in result.predictions] == ["tiny_knee"]


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_whole_image_models_read_a_turned_film_upright(service: AnalysisService, monkeypatch: pytest.MonkeyPatch,
                                                        turn: int) -> None:
    _reads_upright(monkeypatch, "chest")
    upright = _film()
    upright[40:60, 20:50] = 0.8  # something for the chest model's heat map to point at
    shown = np.ascontiguousarray(np.rot90(upright, turn))
    result = service.analyse_guarded(xray_image(shown))
    assert result.check is not None and result.check.turn == (4 - turn) % 4
    (prediction,) = result.predictions
    alone = predict_image(service.registry.get("tiny_chest"), upright)
    np.testing.assert_allclose(prediction.probabilities, alone.probabilities, atol=1e-6)
    # The heat map lies on the image as shown, as every whole-image map does.
    np.testing.assert_allclose(prediction.heatmap, np.rot90(alone.heatmap, turn), atol=1e-6)
    assert TURNED_IMAGE_NOTICE in result.warnings


def test_models_that_answer_every_turn_and_other_body_parts_read_the_film_as_it_is(service: AnalysisService) -> None:
    shown = np.ascontiguousarray(np.rot90(_film(), 1))
    sure_bone = BodyPartCheck(label="other_bone", probability=0.9, turn=3)
    bone = service.analyse_guarded(xray_image(shown), body_part="other_bone", check=sure_bone, with_heatmap=False)
    alone = predict_image(service.registry.get("tiny_bone"), shown, with_heatmap=False)
    assert bone.predictions[0].probabilities == alone.probabilities and bone.warnings == ()
    # A chest study on a film the guard is sure is another bone: not turned by the bone's turn.
    chest = service.analyse_guarded(xray_image(shown), body_part="chest", check=sure_bone, with_heatmap=False)
    assert chest.predictions[0].probabilities == predict_image(service.registry.get("tiny_chest"), shown).probabilities
    assert TURNED_IMAGE_NOTICE not in chest.warnings


def test_the_guard_turn_survives_json() -> None:
    check = BodyPartCheck(label="chest", probability=0.9, probabilities={"chest": 0.9}, turn=1)
    assert BodyPartCheck.from_dict(json.loads(json.dumps(check.to_dict()))) == check
    assert BodyPartCheck.from_dict({"label": "knee", "probability": 0.8}).turn == 0


def test_a_large_film_is_turned_as_a_small_copy(service: AnalysisService, upright_only: list[np.ndarray]) -> None:
    film = np.full((900, 1500), 0.2, dtype=np.float32)
    film[:100] = 0.9
    check = service.check_body_part(xray_image(np.ascontiguousarray(np.rot90(film, 3))))
    assert check is not None and check.label == "knee" and check.turn == 1
    side = guard_views.WORKING_SIDE_FACTOR * max(service.registry.get("body_part").card.preprocessing.size)
    assert {max(p.shape) for p in upright_only} == {side}
