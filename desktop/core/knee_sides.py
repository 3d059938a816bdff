"""Which of the patient's knees each located knee joint is.

The joint locator names joints by their place on the image. The patient's side comes from
three sources, and never from a display convention the clinic has not vouched for (a JPEG may
have been mirrored on its way, and a wrong side on a report is worse than none):

- the DICOM header. Patient Orientation (0020,0020) gives the patient direction in which the
  image's rows (left to right) and columns (top to bottom) run: "L" for the rows means that
  moving right across the image goes towards the patient's left, so the knee on the image's
  left is the right knee. Image Laterality (0020,0062) or Laterality (0020,0060) names the
  knee of a film that shows one side.
- the clinic, when its settings say that its knee films are always shown in the standard
  radiographic display (the patient's right on the image's left). It names the two knees of an
  upright bilateral film whose file says nothing about sides (every PNG and JPEG); never a lone
  knee, whose side no display tells, nor a film read turned.
- the doctor, who reads the film's lead marker and picks the sides in the Study box. That
  choice overrides the header and the clinic's convention, and may also be "not stated" on
  purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from desktop.core.joint_regions import JointRegion, side_label

__all__ = [
    "NOT_STATED",
    "STANDARD_DISPLAY",
    "FilmSides",
    "SideChoice",
    "side_choices",
    "sides_named_by",
    "sides_summary",
    "user_choice",
    "with_clinic_display",
    "with_header_sides",
    "with_user_sides",
]

NOT_STATED = "Not stated (named by place on the image)"
_PATIENT = {"R": "right", "L": "left"}
_OTHER = {"right": "left", "left": "right"}
# Who named a knee, as a table or the report says it.
_SOURCE_NAMES = {"header": "DICOM header", "clinic": "clinic's standard display", "user": "stated by the doctor"}


@dataclass(frozen=True)
class FilmSides:
    """What a DICOM header says about sides: the patient direction ("R"/"L") in which the
    image runs left to right (``across``) and top to bottom (``down``), and the side a
    one-sided film shows (``laterality``). A direction that is not mainly right or left (a
    lateral film runs anterior-posterior) is None."""

    across: str | None = None
    down: str | None = None
    laterality: str | None = None

    @classmethod
    def from_header(cls, orientation: object, laterality: object) -> FilmSides | None:
        """Parse the header values; None when they name no side at all (or are malformed)."""
        values = _header_values(orientation)
        # The first letter of each value is its main direction ("LP": mostly towards the left).
        across, down = ((v[:1] if v[:1] in _PATIENT else None) for v in values) if len(values) == 2 else (None, None)
        side = str(laterality or "").strip().upper()
        sides = cls(across=across, down=down, laterality=side if side in _PATIENT else None)
        return sides if sides != cls() else None

    def describe(self) -> str:
        """For the image information panel: "patient's right on the image left"."""
        parts = []
        if self.across:
            parts.append(f"patient's right on the image {'left' if self.across == 'L' else 'right'}")
        if self.down:
            parts.append(f"patient's right at the image {'top' if self.down == 'L' else 'bottom'}")
        if self.laterality:
            parts.append(f"{_PATIENT[self.laterality]} side only")
        return "; ".join(parts)

    def patient_side(self, joint_side: str) -> str | None:
        """The patient's side of the joint at ``joint_side``, when this header tells."""
        if joint_side == "single":
            return _PATIENT.get(self.laterality or "")
        direction, first = {"image_left": (self.across, True), "image_right": (self.across, False),
                            "image_top": (self.down, True), "image_bottom": (self.down, False)}.get(joint_side, (None, True))
        if direction is None:
            return None
        # Running towards the patient's left, the first knee met is the right one.
        nearer = "right" if direction == "L" else "left"
        return nearer if first else _OTHER[nearer]


def _header_values(value: object) -> list[str]:
    """A multi-valued header element as upper-case strings (pydicom gives a sequence, or one
    backslash-separated string)."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(value.split("\\"))
    else:
        try:
            items = list(value)  # type: ignore[call-overload]
        except TypeError:
            return []
    return [str(item).strip().upper() for item in items]


# The standard display of a frontal radiograph: moving right across the image goes towards the
# patient's left, so the knee on the image's left is the right knee.
STANDARD_DISPLAY = FilmSides(across="L")


def with_header_sides(joints: tuple[JointRegion, ...] | None, film: FilmSides | None) -> tuple[JointRegion, ...] | None:
    """``joints`` named by the header where it tells (the doctor's choice is applied later)."""
    return _named_by(joints, film, "header")


def with_clinic_display(
    joints: tuple[JointRegion, ...] | None, display: FilmSides | None
) -> tuple[JointRegion, ...] | None:
    """``joints`` of a film whose file says nothing about sides, named by the clinic's
    ``display`` convention (None: no convention, the joints stay named by place). Only the
    joints of an upright bilateral film are named: only the display's direction across the
    image is used, which says nothing about a lone ("single") knee, nor about one read turned
    ("image top"), which is no longer shown the way the convention speaks of."""
    return _named_by(joints, FilmSides(across=display.across) if display is not None else None, "clinic")


def _named_by(joints: tuple[JointRegion, ...] | None, film: FilmSides | None, by: str) -> tuple[JointRegion, ...] | None:
    """``joints`` with the patient's side where ``film`` tells it, said to come from ``by``."""
    if joints is None or film is None:
        return joints
    named = []
    for joint in joints:
        side = film.patient_side(joint.side)
        named.append(replace(joint, patient_side=side, sided_by=by) if side else joint)
    return tuple(named)


def with_user_sides(
    joints: tuple[JointRegion, ...] | None, choice: Mapping[str, str | None] | None
) -> tuple[JointRegion, ...] | None:
    """``joints`` with the doctor's choice (joint side -> "right"/"left"/None); None keeps
    what the header said."""
    if joints is None or choice is None:
        return joints
    return tuple(replace(j, patient_side=choice.get(j.side), sided_by="user") for j in joints)


def sides_named_by(joints: tuple[JointRegion, ...] | None) -> str | None:
    """Who named the knees: "header" (every named knee by the DICOM header), "clinic" (every
    one by the clinic's display convention), "user" (the doctor), or None while no knee is
    named."""
    sources = {j.sided_by for j in joints or () if j.patient_side}
    if not sources:
        return None
    only = sources.pop() if len(sources) == 1 else "user"
    return only if only in _SOURCE_NAMES else "user"


def sides_summary(joints: tuple[JointRegion, ...] | None) -> str:
    """One line for a table: "image left: right knee, image right: left knee (DICOM header)";
    "" while no knee is named."""
    by = sides_named_by(joints)
    if by is None:
        return ""
    names = ", ".join(f"{side_label(j.side)}: {j.patient_side} knee" for j in joints or () if j.patient_side)
    return f"{names} ({_SOURCE_NAMES[by]})"


def user_choice(joints: tuple[JointRegion, ...] | None) -> dict[str, str | None] | None:
    """The doctor's choice held by ``joints`` (a stored study), or None when they made none."""
    chosen = {j.side: j.patient_side for j in joints or () if j.sided_by == "user"}
    return chosen or None


@dataclass(frozen=True)
class SideChoice:
    """One entry of the Study box's knee-sides list."""

    text: str
    sides: dict[str, str | None]


def side_choices(joints: Sequence[JointRegion]) -> list[SideChoice]:
    """What the doctor can say about these joints: not stated, then each way of naming them
    (two joints: which one is the right knee; one joint: right or left knee)."""
    if not joints:
        return []
    choices = [SideChoice(NOT_STATED, {j.side: None for j in joints})]
    if len(joints) == 1:
        only = joints[0].side
        return choices + [SideChoice(f"{side.capitalize()} knee", {only: side}) for side in ("right", "left")]
    first, second = joints[0].side, joints[1].side
    for right, left in ((first, second), (second, first)):
        choices.append(SideChoice(f"Right knee: {side_label(right)}, left knee: {side_label(left)}",
                                  {right: "right", left: "left"}))
    return choices
