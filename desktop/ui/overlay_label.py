"""A short text on a dark tab over the image, the same size on screen at every zoom.

Joint boxes name their joint with it and measurement lines show their length with it. It
ignores the view's transform, so it neither grows unreadably large nor shrinks to nothing as
the image is zoomed, and its dark tab keeps it legible on bone, air and heat-map colours.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

__all__ = ["OverlayLabel"]

_PAD = 3.0
_TAB_COLOUR = QColor(0, 0, 0, 170)


class OverlayLabel(QGraphicsItem):
    def __init__(self, parent: QGraphicsItem, *, colour: QColor, text: str = "") -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self._colour = colour
        self._font = QFont()
        self._font.setBold(True)
        self.text = ""
        self._rect = QRectF()
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.prepareGeometryChange()
        self.text = text
        metrics = QFontMetricsF(self._font)
        self._rect = QRectF(0, 0, metrics.horizontalAdvance(text) + 2 * _PAD, metrics.height() + 2 * _PAD)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_TAB_COLOUR)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self._font)
        painter.setPen(self._colour)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
