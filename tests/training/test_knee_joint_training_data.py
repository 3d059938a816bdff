"""Labels and synthetic films the joint locator learns from (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.inference.knee_joints import LocatorSettings
from training.knee_joint_canvas import CanvasPlan, compose_canvas, random_plan
from training.knee_joint_data import Film, held_out
from training.knee_joint_windows import (
    BACKGROUND,
    IGNORE,
    JOINT,
    window_label,
    windows_at,
)


def fake_crop(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    crop = np.full((224, 224), 90, dtype=np.uint8)
    crop[100:124] = 20  # a dark joint line across the middle
    return (crop + rng.integers(0, 30, crop.shape)).astype(np.uint8)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ((0, 0, 64), JOINT),  # the joint itself
        ((5, -5, 64), JOINT),  # 8% off: still the joint
        ((30, 0, 64), BACKGROUND),  # almost half a window off
        ((12, 0, 64), IGNORE),  # a near miss: neither lesson
        ((-64, -64, 192), BACKGROUND),  # the whole knee with its surroundings: too wide
        ((16, 16, 32), BACKGROUND),  # inside the joint: too narrow
    ],
)
def test_window_labels(window: tuple[int, int, int], expected: int) -> None:
    top, left, side = window
    assert window_label(top, left, side, [(0.0, 0.0, 64.0, 64.0)]) == expected


def test_bilateral_canvas_places_two_joints_inside_the_film() -> None:
    rng = np.random.default_rng(0)
    plan = CanvasPlan("bilateral", 120, 0.3, 1.4, "shaft")
    canvas, boxes = compose_canvas(rng, plan, [fake_crop(1), fake_crop(2)])
    assert canvas.dtype == np.float32 and 0.0 <= canvas.min() and canvas.max() <= 1.0
    assert len(boxes) == 2 and boxes[0][1] + 120 <= boxes[1][1]
    for top, left, height, width in boxes:
        assert (height, width) == (120, 120)
        assert 0 <= top <= canvas.shape[0] - 120 and 0 <= left <= canvas.shape[1] - 120
    assert min(canvas.shape) == pytest.approx(120 / 0.3, abs=2)


def test_strip_cuts_through_the_joints() -> None:
    canvas, boxes = compose_canvas(np.random.default_rng(1), CanvasPlan("bilateral", 250, 250 / 161, 640 / 161, "dark"),
                                   [fake_crop(1), fake_crop(2)])
    assert canvas.shape[0] == 161 and canvas.shape[1] >= 640
    assert all(top < 0 and top + height > 161 for top, _, height, _ in boxes)


def test_random_plans_stay_in_range() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        plan = random_plan(rng, 64)
        assert plan.layout in ("single", "bilateral") and plan.context in ("shaft", "reflect", "dark")
        assert 0.14 <= plan.short_side_fraction <= 2.0 and 0.4 <= plan.aspect <= 4.5


def test_hard_negative_windows_come_out_at_the_window_size() -> None:
    film = Film("x", "g", np.random.default_rng(3).random((300, 400)).astype(np.float32))
    patches = windows_at(np.random.default_rng(4), film, [(50.0, 60.0, 120.0, 120.0)], LocatorSettings(), copies=3)
    assert patches.shape == (3, 64, 64) and patches.dtype == np.uint8


def test_held_out_share_is_about_a_fifth_and_stable() -> None:
    groups = [f"g{i}" for i in range(4000)]
    share = np.mean([held_out(g) for g in groups])
    assert 0.17 < share < 0.23
    assert [held_out(g) for g in groups[:50]] == [held_out(g) for g in groups[:50]]
