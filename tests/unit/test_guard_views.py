"""The body-part guard reads a film in every quarter turn, so a film scanned turned is still
an X-ray of its body part; photos and unsure images keep the answer for the image as it is."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.inference import guard_views
from desktop.inference.analysis import AnalysisService
from desktop.inference.guard_views import guard_prediction
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.images import xray_image
from tests.fixtures.tiny_models import GUARD_LABELS, guard_image, make_tiny_model_dir


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> AnalysisService:
    root = tmp_path_factory.mktemp("guard")
    make_tiny_model_dir(root, model_id="body_part", role="body_part", body_part="any", labels=GUARD_LABELS,
                        task="multiclass")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=("0", "1", "2", "3", "4"), task="ordinal")
    return AnalysisService(ModelRegistry.discover(root))


@pytest.fixture()
def upright_only(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Make the tiny guard behave like the real one: a knee X-ray only when the film is
    upright (its bright band on top), "not an X-ray" in any other turn. Returns what it read."""
    real, seen = guard_views.predict_image, []

    def reads_upright(model: LoadedModel, pixels: np.ndarray, *, with_heatmap: bool = True):
        seen.append(pixels)
        edges = [pixels[:4].mean(), pixels[-4:].mean(), pixels[:, :4].mean(), pixels[:, -4:].mean()]
        if pixels.min() == pixels.max():  # a flat image: whatever the tiny guard reads its level as
            return real(model, pixels, with_heatmap=with_heatmap)
        kind = "knee" if int(np.argmax(edges)) == 0 else "not_xray"
        return real(model, guard_image(kind), with_heatmap=with_heatmap)

    monkeypatch.setattr(guard_views, "predict_image", reads_upright)
    return seen


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
        answer = guard_prediction(service.registry.get("body_part"), guard_image(kind))
        assert answer.probabilities == alone.probabilities and answer.heatmap is None


def test_a_turned_film_runs_its_body_part_models(service: AnalysisService, upright_only: list[np.ndarray]) -> None:
    result = service.analyse_guarded(xray_image(np.ascontiguousarray(np.rot90(_film(), 1))), with_heatmap=False)
    assert not result.skipped and result.body_part == "knee" and result.chosen_by_guard
    assert [p.model_id for p in result.predictions] == ["tiny_knee"]
