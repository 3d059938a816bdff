"""The Study box's "Knee sides" row: the doctor says which of the patient's knees each found
joint is, after reading the film's lead marker.

Shown only while the open study has knee joints. It starts from what the results hold: the
DICOM header's sides or the clinic's display convention (said so beside the list), an earlier
choice of the doctor's, or "not stated", in which case the joints are named by their place on
the image.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.core.joint_regions import JointRegion
from desktop.core.knee_sides import side_choices, sides_named_by

__all__ = ["KneeSidesPicker"]

# Beside the list when the sides were not the doctor's own choice: where they came from, and
# that the film's marker outranks them.
_SOURCE_NOTES = {
    "header": "From the DICOM header; change it if the film's marker disagrees.",
    "clinic": "By the clinic's standard display (Clinic Settings), not read from this film; "
              "change it if the film's marker disagrees.",
}


class KneeSidesPicker(QWidget):
    """A list of the ways the found joints can be the patient's knees."""

    chosen = Signal(object)  # dict: joint side -> "right" / "left" / None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Knee sides:"))
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.setToolTip(
            "Which of the patient's knees each joint is, as the film's side marker shows. "
            "Results and the report then name the knees; until then they are named by their "
            "place on the image."
        )
        # Only the user's own picks count: filling the list must not read as a choice.
        self.combo.activated.connect(lambda index: self.chosen.emit(dict(self.combo.itemData(index))))
        row.addWidget(self.combo, 1)
        layout.addLayout(row)
        self.source = QLabel()
        self.source.setObjectName("muted")
        self.source.setWordWrap(True)
        layout.addWidget(self.source)
        self.setVisible(False)

    def show_joints(self, joints: Sequence[JointRegion] | None) -> None:
        """List the choices for ``joints`` with the one they hold selected; hidden without joints."""
        choices = side_choices(joints or ())
        self.combo.clear()
        for choice in choices:
            self.combo.addItem(choice.text, choice.sides)
        held = {j.side: j.patient_side for j in joints or ()}
        index = next((i for i, c in enumerate(choices) if c.sides == held), 0)
        self.combo.setCurrentIndex(index)
        source = _SOURCE_NOTES.get(sides_named_by(joints) or "", "")
        self.source.setText(source)
        self.source.setVisible(bool(source))
        self.setVisible(bool(choices))
