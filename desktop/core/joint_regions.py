"""Located knee joints as plain values, and the words every view uses for them.

The joint locator (:mod:`desktop.inference.knee_joints`) finds up to two knee joints; the
knee models then read each joint separately. Sides are named by where the joint lies on the
image ("image left"), since the app cannot read the lead side marker on the film. Which of
the patient's knees a joint is comes from the DICOM header, the clinic's display convention
or the doctor (see
:mod:`desktop.core.knee_sides`); a joint whose side is known is named by both ("right knee
(image left)"). The window, the command line and the report take their wording from here so
they always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JOINT_SIDES",
    "PATIENT_SIDES",
    "LOCATOR_FAILED_WARNING",
    "NO_JOINT_NOTICE",
    "NO_LOCATOR_WARNING",
    "TURNED_FILM_NOTICE",
    "JointRegion",
    "box_label",
    "joint_heading",
    "patient_sides",
    "side_label",
]

JOINT_SIDES = ("image_left", "image_right", "image_top", "image_bottom", "single")
PATIENT_SIDES = ("right", "left")
NO_JOINT_NOTICE = "No knee joint was found on this image, so the knee models were not run."
TURNED_FILM_NOTICE = "The knee joints were found only with the image turned; the knee models read them upright."
NO_LOCATOR_WARNING = "The knee joint locator is not available: the whole image was graded as one joint."
LOCATOR_FAILED_WARNING = "The knee joint locator could not read this image: the whole image was graded as one joint."

# Top and bottom: both knees of a bilateral film scanned sideways lie one above the other.
_LABELS = {
    "image_left": "image left", "image_right": "image right", "image_top": "image top", "image_bottom": "image bottom",
    "single": "knee joint",
}
_HEADINGS = {
    "image_left": "Knee on image left", "image_right": "Knee on image right",
    "image_top": "Knee at image top", "image_bottom": "Knee at image bottom", "single": "Knee joint",
}


@dataclass(frozen=True)
class JointRegion:
    """One located joint: a ``box`` (top, left, height, width) in original image pixels.

    The box may reach past the image edge (a joint wider than a narrow strip is tall); the
    knee models saw that part filled with repeated edge pixels.
    """

    box: tuple[int, int, int, int]
    score: float
    side: str  # one of JOINT_SIDES
    # Quarter turns (counter-clockwise) that stood the joint upright for the knee models: 0 on
    # a film as taken, otherwise the film was scanned or exported turned.
    turn: int = 0
    # Which of the patient's knees this is ("right"/"left"), None while unknown, and who said
    # so: "header" (the DICOM file), "clinic" (its settings vouch for the standard display) or
    # "user" (the doctor, who may also have left it unknown on purpose, overriding both).
    patient_side: str | None = None
    sided_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (command line output, stored studies)."""
        return {"box": list(self.box), "score": self.score, "side": self.side, "turn": self.turn,
                "patient_side": self.patient_side, "sided_by": self.sided_by}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JointRegion:
        top, left, height, width = (int(v) for v in data["box"])
        return cls(
            box=(top, left, height, width), score=float(data.get("score", 0.0)), side=str(data["side"]),
            turn=int(data.get("turn", 0)),  # studies stored before turned films were read have none
            patient_side=_known(data.get("patient_side"), PATIENT_SIDES),  # nor these, before sides were named
            sided_by=_known(data.get("sided_by"), ("header", "clinic", "user")),
        )


def _known(value: object, allowed: tuple[str, ...]) -> str | None:
    return value if isinstance(value, str) and value in allowed else None


def patient_sides(joints: Iterable[JointRegion] | None) -> dict[str, str]:
    """Joint side -> the patient's side, for the joints whose side is known: what a
    prediction's ``region_side`` needs to be named the way its joint is."""
    return {j.side: j.patient_side for j in joints or () if j.patient_side}


def side_label(side: str | None, patient_side: str | None = None) -> str:
    """A joint in running text: "image left", "knee joint", or with the patient's side known
    "right knee (image left)" / "right knee"."""
    place = _LABELS.get(side or "", (side or "").replace("_", " "))
    if not patient_side:
        return place
    return f"{patient_side} knee" if side == "single" else f"{patient_side} knee ({place})"


def box_label(joint: JointRegion) -> str:
    """The tab drawn on a joint's box: the box shows where it is, so only the knee is named
    once it is known ("right knee"); otherwise "image left", "knee joint"."""
    return f"{joint.patient_side} knee" if joint.patient_side else side_label(joint.side)


def joint_heading(side: str | None, patient_side: str | None = None) -> str:
    """The heading over one joint's results: "Knee on image left", ... or "Knee joint"; with the
    patient's side known "Right knee (image left)" / "Right knee"."""
    if patient_side:
        text = side_label(side, patient_side)
        return text[:1].upper() + text[1:]
    return _HEADINGS.get(side or "", f"Knee ({side_label(side)})")
