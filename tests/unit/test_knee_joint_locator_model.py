"""The shipped knee joint locator on images composed from the bundled KL sample crop."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop.core.imaging import load_image
from desktop.inference.knee_joints import crop_joint, locate_knee_joints
from desktop.inference.registry import LoadedModel, ModelRegistry
from desktop.paths import models_dir, samples_dir
from tests.fixtures.knee_joint_model import box_iou


@pytest.fixture(scope="module")
def locator() -> LoadedModel:
    registry = ModelRegistry.discover(models_dir(), threads=1)
    model = registry.helper("joint_locator")
    assert model is not None, [(m.model_id, m.reason) for m in registry.unavailable]
    return model


@pytest.fixture(scope="module")
def knee() -> np.ndarray:
    return load_image(samples_dir() / "knee_kl_sample.jpg").pixels


def test_locator_is_a_helper_not_a_diagnosis_model(locator: LoadedModel) -> None:
    registry = ModelRegistry.discover(models_dir(), threads=1)
    assert locator.card.role == "joint_locator"
    assert all(m.card.id != "knee_joint_locator" for m in registry.image_models)
    assert locator.card.input_shape == (None, None, None, 1)
    assert 0.0 < locator.card.threshold < 1.0


def test_bare_kl_crop_is_one_joint_filling_the_image(locator: LoadedModel, knee: np.ndarray) -> None:
    joints = locate_knee_joints(locator, knee)
    assert len(joints) == 1 and joints[0].side == "single"
    assert box_iou(joints[0].box, (0, 0, *knee.shape)) >= 0.5


def test_two_knees_side_by_side_on_a_dark_film(locator: LoadedModel, knee: np.ndarray) -> None:
    film = np.full((420, 640), 0.05, dtype=np.float32)
    film[98:322, 70:294] = knee
    film[98:322, 350:574] = knee[:, ::-1]  # the other knee is a mirror image
    joints = locate_knee_joints(locator, film)
    assert [j.side for j in joints] == ["image_left", "image_right"]
    assert box_iou(joints[0].box, (98, 70, 224, 224)) >= 0.5
    assert box_iou(joints[1].box, (98, 350, 224, 224)) >= 0.5
    crop = crop_joint(film, joints[0])
    assert crop.shape[0] == crop.shape[1] == joints[0].box[2]


def test_one_small_knee_on_a_large_film(locator: LoadedModel, knee: np.ndarray) -> None:
    film = np.full((1400, 1100), 0.08, dtype=np.float32)
    small = np.asarray(Image.fromarray(knee).resize((280, 280), Image.Resampling.BILINEAR))
    film[600:880, 420:700] = small
    joints = locate_knee_joints(locator, film)
    assert len(joints) == 1 and joints[0].side == "single"
    assert box_iou(joints[0].box, (600, 420, 280, 280)) >= 0.5


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_no_joint_on_a_flat_or_noisy_image(locator: LoadedModel, kind: str) -> None:
    rng = np.random.default_rng(3)
    image = np.full((500, 700), 0.4, dtype=np.float32)
    if kind == "noise":
        image = np.clip(image + rng.normal(0, 0.15, image.shape), 0, 1).astype(np.float32)
    assert locate_knee_joints(locator, image) == []
