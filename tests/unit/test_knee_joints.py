"""The knee joint detector's pyramid, suppression, pairing and cropping, on a tiny hand-wired
locator whose "joint" is a bright square half the window wide (tests/fixtures/knee_joint_model.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.inference.knee_joints import (
    JointCandidate,
    KneeJoint,
    LocatorSettings,
    crop_joint,
    joint_candidates,
    locate_knee_joints,
    locator_settings,
    pad_to_window,
    select_joints,
    window_sides,
)
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.knee_joint_model import (
    box_iou,
    make_square_locator_dir,
    square_film,
)


@pytest.fixture(scope="module")
def square_locator(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    root = tmp_path_factory.mktemp("locator")
    make_square_locator_dir(root, threshold=0.5)
    registry = ModelRegistry.discover(root, threads=1)
    assert not registry.unavailable, registry.unavailable
    model = registry.helper("joint_locator")
    assert model is not None and model not in registry.image_models
    return model


def test_settings_come_from_the_card(square_locator: LoadedModel) -> None:
    settings = locator_settings(square_locator.card)
    assert (settings.window, settings.stride, settings.clahe_tile, settings.threshold) == (64, 16, 32, 0.5)


def test_two_squares_side_by_side_are_two_joints_left_then_right(square_locator: LoadedModel) -> None:
    image = square_film((400, 600), [(150, 100, 50), (150, 420, 50)])
    joints = locate_knee_joints(square_locator, image)
    assert [j.side for j in joints] == ["image_left", "image_right"]
    # The "joint" of a 50-pixel square is the 100-pixel window centred on it.
    assert box_iou(joints[0].box, (125, 75, 100, 100)) >= 0.5
    assert box_iou(joints[1].box, (125, 395, 100, 100)) >= 0.5
    assert all(j.box[2] == j.box[3] for j in joints)


def test_one_square_is_a_single_joint_and_an_empty_film_has_none(square_locator: LoadedModel) -> None:
    joints = locate_knee_joints(square_locator, square_film((300, 500), [(120, 300, 40)]))
    assert len(joints) == 1 and joints[0].side == "single"
    assert box_iou(joints[0].box, (100, 280, 80, 80)) >= 0.5
    assert locate_knee_joints(square_locator, square_film((300, 500), [])) == []


def test_a_higher_threshold_can_leave_nothing(square_locator: LoadedModel) -> None:
    image = square_film((300, 500), [(120, 300, 40)])
    assert locate_knee_joints(square_locator, image, threshold=0.9999) == []


def test_one_joint_is_never_reported_twice_across_pyramid_levels(square_locator: LoadedModel) -> None:
    candidates = joint_candidates(square_locator, square_film((400, 400), [(175, 175, 50)]))
    strong = [c for c in candidates if c.score >= 0.5]
    assert len(strong) == 1


def test_second_joint_must_sit_beside_the_first() -> None:
    settings = LocatorSettings()
    first = JointCandidate(box=(100.0, 100.0, 100.0, 100.0), score=0.99)
    below = JointCandidate(box=(300.0, 110.0, 100.0, 100.0), score=0.95)  # a joint under a joint: not a pair
    tiny = JointCandidate(box=(120.0, 300.0, 40.0, 40.0), score=0.9)  # far smaller: not the other knee
    beside = JointCandidate(box=(110.0, 320.0, 95.0, 95.0), score=0.8)
    joints = select_joints([first, below, tiny, beside], settings, threshold=0.5)
    assert [j.side for j in joints] == ["image_left", "image_right"]
    assert joints[1].box[1] == pytest.approx(320, abs=3)
    assert [j.side for j in select_joints([first, below, tiny], settings, threshold=0.5)] == ["single"]


def test_window_sides_span_the_short_side_and_reach_past_it_on_strips() -> None:
    settings = LocatorSettings()
    square = window_sides((1000, 1000), settings)
    assert square[0] == pytest.approx(1000) and square[-1] == pytest.approx(140)
    assert all(a / b == pytest.approx(square[0] / square[1]) for a, b in zip(square, square[1:]))
    assert square[0] / square[1] <= settings.scale_step + 1e-9
    strip = window_sides((161, 640), settings)
    assert strip[0] == pytest.approx(320) and strip[-1] == pytest.approx(settings.min_window_px)


def test_pad_to_window_repeats_edges_centred() -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    padded, top, left = pad_to_window(image, 6)
    assert padded.shape == (6, 6) and (top, left) == (1, 1)
    np.testing.assert_array_equal(padded[top : top + 3, left : left + 4], image)
    np.testing.assert_array_equal(padded[0, 1:5], image[0])
    assert pad_to_window(image, 2)[0] is image


def test_crop_joint_is_square_and_fills_past_the_edge_by_mirroring() -> None:
    image = np.tile(np.linspace(0, 1, 50, dtype=np.float32), (20, 1)) + np.linspace(0, 0.5, 20, dtype=np.float32)[:, None]
    inside = crop_joint(image, KneeJoint(box=(2, 10, 16, 16), score=0.9, side="single"))
    np.testing.assert_array_equal(inside, image[2:18, 10:26])
    outside = crop_joint(image, KneeJoint(box=(-10, 40, 30, 30), score=0.9, side="image_right"))
    assert outside.shape == (30, 30)
    np.testing.assert_array_equal(outside[10:30, :10], image[:, 40:50])
    # Past the right edge: columns 49, 48, ... mirrored; above the top: rows 0..9 mirrored.
    np.testing.assert_array_equal(outside[10:30, 10:20], image[:, 49:39:-1])
    np.testing.assert_array_equal(outside[:10, :10], image[9::-1, 40:50])


def test_rejects_colour_or_tiny_images(square_locator: LoadedModel) -> None:
    with pytest.raises(ValueError):
        joint_candidates(square_locator, np.zeros((64, 64, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        joint_candidates(square_locator, np.zeros((4, 64), dtype=np.float32))


def test_module_stays_free_of_qt_and_training_code() -> None:
    source = Path(__file__).parents[2] / "desktop" / "inference" / "knee_joints.py"
    text = source.read_text()
    assert "PySide6" not in text and "tensorflow" not in text and "keras" not in text
