"""Run each image model on what it was trained to read: the whole image, or each knee joint.

A model whose card says ``"region": "knee_joint"`` was trained on crops of one knee joint.
On a whole film the joint locator finds the joints once per image (shared by every knee
model), each model reads each joint's crop, and every answer carries its joint's box and
side. When the locator finds no joint, the knee models do not run at all: grading a chest
film or a photo as a knee would only produce a confident-looking number. When no locator is
installed, the knee models read the whole image as they did before the locator existed, and
a warning says so. The app, the command line and ``evaluate`` all come through here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from desktop.core.body_part import TURNED_IMAGE_NOTICE
from desktop.core.joint_regions import (
    LOCATOR_FAILED_WARNING,
    NO_JOINT_NOTICE,
    NO_LOCATOR_WARNING,
    TURNED_FILM_NOTICE,
    JointRegion,
)
from desktop.core.prediction import Prediction
from desktop.inference.knee_joints import KneeJoint, crop_joint, locate_knee_joints
from desktop.inference.predictor import predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry
from desktop.inference.session import InferenceError

__all__ = ["KNEE_JOINT", "LOCATOR_ROLE", "ModelRun", "find_knee_joints", "run_image_models", "usable_locator"]

log = logging.getLogger(__name__)

KNEE_JOINT = "knee_joint"  # the card region the locator serves
LOCATOR_ROLE = "joint_locator"


@dataclass(frozen=True)
class ModelRun:
    """The models' answers for one image, the joints they read and what the user must know.

    ``joints`` is None when nobody looked for joints (no knee model ran, or no usable
    locator); ``()`` when the locator looked and found none.
    """

    predictions: tuple[Prediction, ...]
    joints: tuple[JointRegion, ...] | None = None
    warnings: tuple[str, ...] = ()


def usable_locator(registry: ModelRegistry) -> LoadedModel | None:
    """The registry's knee joint locator, if it reads images; None otherwise."""
    model = registry.helper(LOCATOR_ROLE)
    if model is None:
        return None
    if not model.is_image_model:
        log.warning("joint locator %s reads no images; ignored", model.id)
        return None
    return model


def find_knee_joints(
    locator: LoadedModel | None, pixels: np.ndarray
) -> tuple[list[KneeJoint] | None, str | None]:
    """The joints on the image, or None and the warning that says why the whole image is read."""
    if locator is None:
        return None, NO_LOCATOR_WARNING
    try:
        return locate_knee_joints(locator, pixels), None
    except (ValueError, InferenceError) as exc:
        # Like a failing guard: the models still answer, as they did without a locator.
        log.warning("joint locator %s failed: %s", locator.id, exc)
        return None, LOCATOR_FAILED_WARNING


def _as_region(joint: KneeJoint) -> JointRegion:
    top, left, height, width = (int(v) for v in joint.box)
    return JointRegion(box=(top, left, height, width), score=float(joint.score), side=str(joint.side), turn=joint.turn % 4)


def _unturned(prediction: Prediction, turn: int) -> Prediction:
    """A prediction on an upright-turned crop with its heat map turned back to the image as
    shown, so the viewer and the report lay it over the joint's box unchanged."""
    if not turn % 4 or prediction.heatmap is None:
        return prediction
    return replace(prediction, heatmap=np.ascontiguousarray(np.rot90(prediction.heatmap, -turn)))


def _per_joint(
    models: Sequence[LoadedModel], pixels: np.ndarray, joints: list[KneeJoint], *, with_heatmap: bool
) -> list[Prediction]:
    """Every model on every joint, joint by joint, so one joint's answers stay together."""
    answers = []
    for joint in joints:
        crop = crop_joint(pixels, joint)
        region = _as_region(joint)
        for model in models:
            prediction = _unturned(predict_image(model, crop, with_heatmap=with_heatmap), region.turn)
            answers.append(replace(prediction, region=region.box, region_side=region.side))
    return answers


def _whole_image(model: LoadedModel, pixels: np.ndarray, turn: int, *, with_heatmap: bool) -> Prediction:
    """``model`` on the whole image, turned ``turn`` quarter turns first (heat map turned back)."""
    turned = np.ascontiguousarray(np.rot90(pixels, turn)) if turn % 4 else pixels
    return _unturned(predict_image(model, turned, with_heatmap=with_heatmap), turn)


def run_image_models(
    models: Sequence[LoadedModel],
    pixels: np.ndarray,
    *,
    locator: LoadedModel | None,
    with_heatmap: bool = True,
    upright_turns: Mapping[str, int] | None = None,
) -> ModelRun:
    """Run ``models`` on a decoded image in [0, 1]; knee-joint models per located joint.

    ``upright_turns`` maps a body part to the quarter turns that stand this image up (what the
    body-part guard saw): whole-image models of that body part read the image turned so,
    unless they answer for every turn themselves. Knee-joint models need none: the locator
    finds the turn of each joint. Answers keep the models' order; the knee-joint models'
    answers form one block, grouped by joint, where the first of them stands. Raises
    ``PredictionError`` like :func:`~desktop.inference.predictor.predict_image`.
    """
    upright_turns = upright_turns or {}
    regional = [m for m in models if m.card.region == KNEE_JOINT]
    found: list[KneeJoint] | None = None
    warnings: list[str] = []
    if regional:
        found, warning = find_knee_joints(locator, pixels)
        if warning:
            warnings.append(warning)
        elif not found:
            warnings.append(NO_JOINT_NOTICE)
        elif any(joint.turn % 4 for joint in found):
            warnings.append(TURNED_FILM_NOTICE)
    predictions: list[Prediction] = []
    for model in models:
        if model.card.region != KNEE_JOINT:
            turn = 0 if model.card.answers_every_turn else upright_turns.get(model.card.body_part, 0) % 4
            predictions.append(_whole_image(model, pixels, turn, with_heatmap=with_heatmap))
            if turn and TURNED_IMAGE_NOTICE not in warnings:
                warnings.append(TURNED_IMAGE_NOTICE)
        elif model is regional[0]:
            if found is None:  # no usable locator: the whole image, as before there was one
                predictions.extend(predict_image(m, pixels, with_heatmap=with_heatmap) for m in regional)
            else:
                predictions.extend(_per_joint(regional, pixels, found, with_heatmap=with_heatmap))
    joints = tuple(_as_region(j) for j in found) if found is not None else None
    return ModelRun(predictions=tuple(predictions), joints=joints, warnings=tuple(warnings))
