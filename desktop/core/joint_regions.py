"""Located knee joints as plain values, and the words every view uses for them.

The joint locator (:mod:`desktop.inference.knee_joints`) finds up to two knee joints; the
knee models then read each joint separately. Sides are named by where the joint lies on the
image, never "left knee" or "right knee": on a posterior-anterior film the knee on the image's
left is the patient's right one, and the app cannot read the film's side marker. The window,
the command line and the report take their wording from here so they always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JOINT_SIDES",
    "LOCATOR_FAILED_WARNING",
    "NO_JOINT_NOTICE",
    "NO_LOCATOR_WARNING",
    "TURNED_FILM_NOTICE",
    "JointRegion",
    "joint_heading",
    "side_label",
]

JOINT_SIDES = ("image_left", "image_right", "image_top", "image_bottom", "single")
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (command line output, stored studies)."""
        return {"box": list(self.box), "score": self.score, "side": self.side, "turn": self.turn}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JointRegion:
        top, left, height, width = (int(v) for v in data["box"])
        return cls(
            box=(top, left, height, width), score=float(data.get("score", 0.0)), side=str(data["side"]),
            turn=int(data.get("turn", 0)),  # studies stored before turned films were read have none
        )


def side_label(side: str | None) -> str:
    """The short label drawn on a box: "image left", "image right" or "knee joint"."""
    return _LABELS.get(side or "", (side or "").replace("_", " "))


def joint_heading(side: str | None) -> str:
    """The heading over one joint's results: "Knee on image left", ... or "Knee joint"."""
    return _HEADINGS.get(side or "", f"Knee ({side_label(side)})")
