"""The knee joint boxes over the image: a thin outline per located joint, with its label.

Boxes are children of the image's pixmap item, drawn in image pixels, so like the heat map
they follow every zoom, pan and rotation. Their pens are cosmetic (a fixed width on screen)
and their labels ignore the view's transform, so both stay thin and readable at any zoom.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from desktop.core.joint_regions import JointRegion, box_label
from desktop.ui.overlay_label import OverlayLabel

__all__ = ["BOX_COLOUR", "JointBoxes"]

# Magenta: the heat map's colour scale (blue through red) never produces it, so a box stays
# distinct from the evidence it frames, on a grey radiograph as well as over colours.
BOX_COLOUR = QColor(255, 64, 220)
_PEN_PX = 1.5
_HIGHLIGHT_PEN_PX = 3.0
_Z_BOXES = 2.0  # above the heat map, so the frame of a joint is never hidden by its evidence


class JointBoxes:
    """Owns the box and label items for the joints of the image on show."""

    def __init__(self, image_item: QGraphicsItem) -> None:
        self._image_item = image_item
        self._boxes: list[QGraphicsRectItem] = []
        self._joints: tuple[JointRegion, ...] = ()

    @property
    def joints(self) -> tuple[JointRegion, ...]:
        return self._joints

    @property
    def items(self) -> list[QGraphicsRectItem]:
        """One outline per joint, in the order given (left to right)."""
        return list(self._boxes)

    def labels(self) -> list[str]:
        return [child.text for box in self._boxes for child in box.childItems() if isinstance(child, OverlayLabel)]

    def set_joints(self, joints: Sequence[JointRegion]) -> None:
        """Replace the boxes; an empty sequence removes them."""
        scene = self._image_item.scene()
        for box in self._boxes:
            if scene is not None:
                scene.removeItem(box)
            box.setParentItem(None)
        self._boxes = []
        self._joints = tuple(joints)
        for joint in self._joints:
            top, left, height, width = joint.box
            box = QGraphicsRectItem(QRectF(left, top, width, height), self._image_item)
            box.setZValue(_Z_BOXES)
            box.setData(0, joint.side)
            label = OverlayLabel(box, colour=BOX_COLOUR, text=box_label(joint))
            # Inside the image even when the box reaches past its edge, so the name stays visible.
            label.setPos(max(left, 0), max(top, 0))
            self._boxes.append(box)
        self.highlight(None)

    def highlight(self, side: str | None) -> None:
        """Draw the box of the joint whose result is selected a little bolder."""
        for box in self._boxes:
            pen = QPen(BOX_COLOUR, _HIGHLIGHT_PEN_PX if side is not None and box.data(0) == side else _PEN_PX)
            pen.setCosmetic(True)  # a width in screen pixels, whatever the zoom
            box.setPen(pen)
