"""Knee films scanned or exported turned: the locator looks again with the image turned, the
knee models read each joint upright, and boxes and heat maps stay on the image as shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop.core.joint_regions import TURNED_FILM_NOTICE, JointRegion, joint_heading, side_label
from desktop.inference import regional
from desktop.inference.analysis import AnalysisService
from desktop.inference.knee_joints import KneeJoint, crop_joint, locate_knee_joints, turned_box
from desktop.inference.predictor import predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.fake_locator import ScriptedJoints, bilateral_film, with_locator
from tests.fixtures.images import top_edge_is_brightest, xray_image
from tests.fixtures.knee_joint_model import box_iou, make_square_locator_dir, square_film
from tests.fixtures.tiny_models import make_tiny_model_dir

BAND = 0.12  # share of the film's height taken by the bright band that marks its top


class UprightSession:
    """Like the real locator, sure of joints only on upright films: the square locator's
    scores, raised to a clear joint (about 0.997 for these squares) on pyramid levels whose top
    edge is the bright band, and multiplied by ``sideways`` on every other level."""

    def __init__(self, inner: Any, *, sideways: float) -> None:
        self.inner, self.sideways = inner, sideways

    def run(self, tensor: np.ndarray, *, outputs: Any = None) -> dict[str, np.ndarray]:
        probabilities = np.array(self.inner.run(tensor, outputs=outputs)["probabilities"], copy=True)
        level = tensor[0, :, :, 0]
        upright = top_edge_is_brightest(level, max(1, int(level.shape[0] * BAND / 2)))
        gain = 1.33 if upright else self.sideways
        probabilities[..., 1] = np.minimum(1.0, probabilities[..., 1] * gain)
        probabilities[..., 0] = 1.0 - probabilities[..., 1]
        return {"probabilities": probabilities}


def _locator(root: Path, *, sideways: float) -> LoadedModel:
    make_square_locator_dir(root, threshold=0.5)
    model = ModelRegistry.discover(root, threads=1).helper("joint_locator")
    assert model is not None
    return LoadedModel(card=model.card, folder=model.folder, session=UprightSession(model.session, sideways=sideways))


@pytest.fixture(scope="module")
def upright_locator(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """Scores nothing on a turned film, as the real locator scores sideways knees near zero."""
    return _locator(tmp_path_factory.mktemp("locator"), sideways=0.0)


def _upright_film(squares: list[tuple[int, int, int]]) -> np.ndarray:
    film = square_film((400, 640), squares)
    film[: int(400 * BAND)] = 1.0
    return film


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_turned_box_names_the_same_pixels(turn: int) -> None:
    rng = np.random.default_rng(turn)
    image = rng.random((37, 53))
    turned = np.rot90(image, turn)
    for _ in range(20):
        top, left = int(rng.integers(0, turned.shape[0] - 5)), int(rng.integers(0, turned.shape[1] - 5))
        height, width = int(rng.integers(1, turned.shape[0] - top)), int(rng.integers(1, turned.shape[1] - left))
        t, l, h, w = turned_box((top, left, height, width), turn, image.shape)
        np.testing.assert_array_equal(np.rot90(image[t : t + h, l : l + w], turn), turned[top : top + height, left : left + width])


def test_crop_of_a_turned_joint_is_upright() -> None:
    image = np.arange(100, dtype=np.float32).reshape(10, 10) / 100
    joint = KneeJoint(box=(2, 3, 4, 4), score=1.0, side="single", turn=3)
    np.testing.assert_array_equal(crop_joint(image, joint), np.rot90(image[2:6, 3:7], 3))


def test_an_upright_film_is_read_as_it_is(upright_locator: LoadedModel) -> None:
    joints = locate_knee_joints(upright_locator, _upright_film([(200, 140, 50), (200, 460, 50)]))
    assert [(j.side, j.turn) for j in joints] == [("image_left", 0), ("image_right", 0)]


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_a_turned_bilateral_film_is_found_and_read_upright(upright_locator: LoadedModel, turn: int) -> None:
    upright = _upright_film([(200, 140, 50), (200, 460, 50)])
    expected = locate_knee_joints(upright_locator, upright)
    shown = np.ascontiguousarray(np.rot90(upright, turn))
    joints = locate_knee_joints(upright_locator, shown)
    assert len(joints) == 2 and all(j.turn == (4 - turn) % 4 for j in joints)
    # Boxes are on the image as shown: they hold the same pixels as the upright film's boxes.
    for joint in joints:
        assert max(box_iou(turned_box(joint.box, 4 - joint.turn, upright.shape), e.box) for e in expected) >= 0.9
    crops = [crop_joint(shown, j) for j in joints]
    upright_crops = [crop_joint(upright, e) for e in expected]
    assert all(min(np.abs(c - u).mean() for u in upright_crops) < 0.02 for c in crops)
    # Sides say where each knee lies on the image as shown.
    sides = {1: ["image_top", "image_bottom"], 3: ["image_top", "image_bottom"], 2: ["image_left", "image_right"]}
    assert [j.side for j in joints] == sides[turn]


def test_a_sideways_joint_that_passes_the_threshold_gives_way_to_the_clear_upright_one(tmp_path: Path) -> None:
    # Some narrow sideways films pass the real locator's threshold as they are (0.97).
    lenient = _locator(tmp_path, sideways=0.9)
    shown = np.ascontiguousarray(np.rot90(_upright_film([(200, 140, 50), (200, 460, 50)]), 1))
    joints = locate_knee_joints(lenient, shown)
    assert [(j.side, j.turn) for j in joints] == [("image_top", 3), ("image_bottom", 3)]
    assert min(j.score for j in joints) > 0.85


def test_a_film_without_a_joint_in_any_turn_has_none(upright_locator: LoadedModel) -> None:
    film = _upright_film([])
    assert locate_knee_joints(upright_locator, np.rot90(film)) == []


def test_top_and_bottom_wording_and_json_round_trip() -> None:
    assert [side_label(s) for s in ("image_top", "image_bottom")] == ["image top", "image bottom"]
    assert [joint_heading(s) for s in ("image_top", "image_bottom")] == ["Knee at image top", "Knee at image bottom"]
    joint = JointRegion(box=(4, 10, 80, 80), score=0.9, side="image_top", turn=1)
    assert JointRegion.from_dict(joint.to_dict()) == joint
    assert JointRegion.from_dict({"box": [4, 10, 80, 80], "score": 0.9, "side": "single"}).turn == 0


def test_models_read_the_upright_crop_and_heat_maps_lie_on_the_image_as_shown(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path_factory.mktemp("knee")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=("0", "1", "2", "3", "4"), task="ordinal",
                        region="knee_joint")
    registry = ModelRegistry.discover(root)
    film = np.ascontiguousarray(np.rot90(bilateral_film(), 1))  # 160 x 64: the strip scanned sideways
    box = turned_box((0, 0, 64, 64), 3, film.shape)  # the upright strip's left joint, on the film as shown
    joint = KneeJoint(box=box, score=0.9, side="single", turn=3)
    monkeypatch.setattr(regional, "locate_knee_joints", ScriptedJoints(lambda pixels: [joint]))
    result = AnalysisService(with_locator(registry)).analyse_guarded(xray_image(film), body_part="knee")
    assert result.joints == (JointRegion(box, 0.9, "single", turn=3),)
    assert TURNED_FILM_NOTICE in result.warnings
    (prediction,) = result.predictions
    upright = predict_image(registry.get("tiny_knee"), crop_joint(film, joint))
    np.testing.assert_allclose(prediction.probabilities, upright.probabilities, atol=1e-6)
    assert prediction.label == "4"  # the bright joint, read upright, is what the tiny model grades 4
    np.testing.assert_allclose(prediction.heatmap, np.rot90(upright.heatmap, -3), atol=1e-6)
