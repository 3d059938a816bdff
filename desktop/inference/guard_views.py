"""The body-part guard's answer for an image in any orientation.

The guard learnt radiographs as they are taken: upright. A film scanned or exported turned a
quarter looks to it like "not an X-ray" (277 of the 508 radiographs of its internal test,
each turned a quarter, for guard version 1.0.0; 79-84 for 1.1.0), and then no model would run.
Training it on every turn cost accuracy on upright films (0.949 against 0.981 for 1.0.0), so
instead the guard reads the image in all four quarter turns and answers from the turn that
looks most like a radiograph, when it is sure of that turn; otherwise from the image as it
is. Photos and documents look like no radiograph in any turn, so they stay "not an X-ray".
The app, the command line and ``evaluate`` all ask the guard through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop.core.body_part import NOT_XRAY
from desktop.core.prediction import Prediction
from desktop.inference.predictor import predict_image
from desktop.inference.preprocess import resized
from desktop.inference.registry import LoadedModel

__all__ = ["GUARD_ROLE", "RADIOGRAPH_TURN_CONFIDENCE", "GuardReading", "read_guard"]

GUARD_ROLE = "body_part"
# How sure the guard must be that a turn shows a radiograph to answer from it: the best of
# 0.6-0.95 on the validation split (above 0.8, turned radiographs start to be called "not an
# X-ray"; python -m training.body_part_turns --split val). Test figures are in the README.
RADIOGRAPH_TURN_CONFIDENCE = 0.8
# Large films are turned as a copy this many times the guard's input side (see _working_copy).
WORKING_SIDE_FACTOR = 4


def _radiograph_probability(prediction: Prediction) -> float:
    """The guard's top probability among the body parts (every class but "not an X-ray")."""
    return max(p for label, p in zip(prediction.labels, prediction.probabilities) if label != NOT_XRAY)


@dataclass(frozen=True)
class GuardReading:
    """The guard's answer and the quarter turns (``numpy.rot90``) of the image it came from:
    for a chest film that is the turn that stands it upright (209 of the 210 internal test
    chest films, as taken, were answered from the image as it is)."""

    prediction: Prediction
    turn: int


def _working_copy(guard: LoadedModel, image: np.ndarray) -> np.ndarray:
    """``image`` shrunk to a few times the guard's input side: turning a multi-megapixel film
    four times cost the app 147 ms, the guard itself reads only its own input side (160 pixels)."""
    spec = guard.card.preprocessing
    longest = WORKING_SIDE_FACTOR * max(spec.size) if spec is not None else max(image.shape)
    if max(image.shape) <= longest:
        return image
    scale = longest / max(image.shape)
    return resized(image, max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))


def read_guard(guard: LoadedModel, pixels: np.ndarray, *, confidence: float = RADIOGRAPH_TURN_CONFIDENCE) -> GuardReading:
    """The guard's reading of ``pixels`` from its most radiograph-like quarter turn, when it
    is at least ``confidence`` sure of that turn (``training.body_part_turns`` varies it).

    Raises ``PredictionError`` like :func:`~desktop.inference.predictor.predict_image`. The
    heat map is never computed: it would explain "why knee", which nobody needs.
    """
    image = _working_copy(guard, np.asarray(pixels))
    views = [predict_image(guard, np.ascontiguousarray(np.rot90(image, turn)), with_heatmap=False) for turn in range(4)]
    scores = [_radiograph_probability(view) for view in views]
    best = int(np.argmax(scores))
    if scores[best] < confidence:
        best = 0
    return GuardReading(prediction=views[best], turn=best)
