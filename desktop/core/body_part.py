"""What the body-part guard said about an image, and the warning a user must see because of it.

The guard is a helper model (card role ``"body_part"``) that runs before any diagnosis model.
Its answer picks the study type when the user has not chosen one, and it turns into a plain
warning sentence when models are about to run on the wrong body part or on something that is
not an X-ray. The rule lives here, Qt-free, so the window, the command line and the report
say exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop.core.joint_regions import JointRegion
from desktop.core.model_card import BODY_PARTS
from desktop.core.prediction import Prediction

__all__ = [
    "COLOUR_SHARE_LIMIT",
    "GUARD_CONFIDENCE",
    "GUARD_LABELS",
    "NOT_XRAY",
    "TURNED_IMAGE_NOTICE",
    "BodyPartCheck",
    "GuardedAnalysis",
    "body_part_warning",
    "body_part_warnings",
    "preselected_study_type",
]

NOT_XRAY = "not_xray"
TURNED_IMAGE_NOTICE = "The image looks turned: the models read it turned upright."
# The guard's classes: every study type, plus "this is not an X-ray at all".
GUARD_LABELS = (*BODY_PARTS, NOT_XRAY)
# Below this top probability the guard is treated as unsure: it neither picks the study type
# nor warns. A wrong warning teaches users to ignore warnings; a missing one leaves them where
# they were without the guard. 0.6 also means the runner-up has at most 0.4, so the top class
# clearly leads.
GUARD_CONFIDENCE = 0.6
# Radiographs are greyscale, and the guard model reads greyscale, so it cannot see that an
# image is in colour (it took the app's own icon, a drawn bone on blue, for an other-bone
# X-ray). Above this share of clearly coloured pixels (imaging.colour_share) an image is
# treated as not an X-ray. None of the 5,232 radiographs stored in colour in the training
# data has a single such pixel, and a few coloured marks on a film stay well below it.
COLOUR_SHARE_LIMIT = 0.05

# "This looks like ___ (93%)" and "___ are not valid for it", per study type.
_LOOKS_LIKE = {
    "knee": "a knee X-ray",
    "chest": "a chest X-ray",
    "other_bone": "an X-ray of another bone (not knee or chest)",
}
_MODELS_FOR = {"knee": "the knee models", "chest": "the chest models", "other_bone": "the other-bone models"}
# The short verdict line: "Looks like: ___ (98%)".
_VERDICT = {"knee": "knee X-ray", "chest": "chest X-ray", "other_bone": "other bone X-ray", NOT_XRAY: "not an X-ray"}


def _percent(probability: float) -> str:
    # Whole percent: the guard's exact probability adds nothing to a warning sentence.
    return f"{probability * 100:.0f}%"


@dataclass(frozen=True)
class BodyPartCheck:
    """The guard model's answer for one image."""

    label: str  # one of GUARD_LABELS
    probability: float  # of ``label``, the guard's top class
    probabilities: Mapping[str, float] = field(default_factory=dict)  # every label, in card order
    model_id: str = ""
    model_version: str = ""
    # Quarter turns (counter-clockwise) of the image the guard answered from: it reads every
    # turn and answers from the most radiograph-like one, so 0 unless the film came turned.
    turn: int = 0
    colour_share: float = 0.0  # of the image's pixels in clear colour (imaging.colour_share)

    @classmethod
    def from_prediction(cls, prediction: Prediction, *, turn: int = 0, colour_share: float = 0.0) -> BodyPartCheck:
        """The guard's :class:`Prediction` reduced to what the rule needs."""
        probabilities = dict(zip(prediction.labels, prediction.probabilities))
        label = max(probabilities, key=probabilities.__getitem__)
        return cls(
            label=label,
            probability=float(probabilities[label]),
            probabilities={k: float(v) for k, v in probabilities.items()},
            model_id=prediction.model_id,
            model_version=prediction.model_version,
            turn=turn % 4,
            colour_share=colour_share,
        )

    @property
    def upright_turns(self) -> dict[str, int]:
        """Body part -> the turn that stands the image up for its models: the guard's turn for
        the body part it is confident of; none otherwise (the image is read as it is)."""
        return {self.label: self.turn} if self.is_confident and not self.in_colour else {}

    @property
    def is_confident(self) -> bool:
        return self.probability >= GUARD_CONFIDENCE

    @property
    def in_colour(self) -> bool:
        return self.colour_share > COLOUR_SHARE_LIMIT

    @property
    def looks_like_xray(self) -> bool:
        """False when the image is in colour or the guard is confident it is not an X-ray."""
        return not (self.in_colour or (self.is_confident and self.label == NOT_XRAY))

    def verdict(self) -> str:
        """One line for the panel and the report, e.g. "Looks like: knee X-ray (98%)"."""
        if self.in_colour:
            return f"Looks like: not an X-ray (in colour: {_percent(self.colour_share)} of the image)"
        if self.is_confident:
            what = _VERDICT.get(self.label, self.label.replace("_", " "))
            return f"Looks like: {what} ({_percent(self.probability)})"
        leading = sorted(self.probabilities.items(), key=lambda kv: kv[1], reverse=True)[:2]
        detail = ", ".join(f"{_VERDICT.get(k, k)} {_percent(p)}" for k, p in leading)
        return f"Looks like: unsure ({detail})" if detail else "Looks like: unsure"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (command line output, stored studies)."""
        return {
            "label": self.label,
            "probability": self.probability,
            "probabilities": dict(self.probabilities),
            "confident": self.is_confident,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "turn": self.turn,
            "colour_share": self.colour_share,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BodyPartCheck:
        """Inverse of :meth:`to_dict` (``confident`` is recomputed, never trusted)."""
        return cls(
            label=str(data["label"]),
            probability=float(data["probability"]),
            probabilities={str(k): float(v) for k, v in dict(data.get("probabilities", {})).items()},
            model_id=str(data.get("model_id", "")),
            model_version=str(data.get("model_version", "")),
            turn=int(data.get("turn", 0)),  # checks stored before the guard read turns have none
            colour_share=float(data.get("colour_share", 0.0)),  # nor before the colour rule
        )


@dataclass(frozen=True)
class GuardedAnalysis:
    """The diagnosis models' answers together with the guard's check and its warnings.

    ``body_part`` is the study type the models ran for (None: the caller's explicit models or
    every image model); ``chosen_by_guard`` says the guard picked it. ``skipped`` is True when
    no model ran because the guard is confident the image is not an X-ray. ``joints`` are the
    knee joints the locator found for the knee models (``()``: it looked and found none);
    None when nobody looked (no knee model ran, or no locator is installed).
    """

    predictions: tuple[Prediction, ...]
    check: BodyPartCheck | None = None
    body_part: str | None = None
    chosen_by_guard: bool = False
    skipped: bool = False
    warnings: tuple[str, ...] = ()
    joints: tuple[JointRegion, ...] | None = None


def preselected_study_type(check: BodyPartCheck | None) -> str | None:
    """The study type the guard picks: its label when it is confident and that label is a
    study type; None when there is no guard, it is unsure, or the image is not an X-ray."""
    if check is None or not check.is_confident or check.label not in BODY_PARTS or check.in_colour:
        return None
    return check.label


def body_part_warning(check: BodyPartCheck | None, body_part: str | None) -> str | None:
    """The warning for running ``body_part`` models on this image, or None.

    ``body_part`` None means no particular study type (nothing is about to run); only the
    not-an-X-ray warning applies then. An image in colour is warned about whatever the guard
    answered; otherwise nothing is said without a confident guard.
    """
    if check is not None and check.in_colour:
        return (f"This image is in colour ({_percent(check.colour_share)} of it); X-rays are greyscale,"
                " so no model here is valid for it.")
    if check is None or not check.is_confident:
        return None
    if check.label == NOT_XRAY:
        return f"This does not look like an X-ray ({_percent(check.probability)}); no model here is valid for it."
    if body_part is None or body_part == check.label or check.label not in _LOOKS_LIKE:
        return None
    models = _MODELS_FOR.get(body_part, f"the {body_part.replace('_', ' ')} models")
    return f"This looks like {_LOOKS_LIKE[check.label]} ({_percent(check.probability)}); {models} are not valid for it."


def body_part_warnings(check: BodyPartCheck | None, body_parts: Iterable[str | None]) -> tuple[str, ...]:
    """:func:`body_part_warning` for every study type about to run, each sentence once.

    With no study type at all the not-an-X-ray warning still applies: it never depends on
    which models run.
    """
    parts = list(dict.fromkeys(body_parts)) or [None]
    sentences = (body_part_warning(check, part) for part in parts)
    return tuple(dict.fromkeys(s for s in sentences if s))
