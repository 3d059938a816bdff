"""Measurement lines over the image, each with its length on a small tab.

Lines are children of the image's pixmap item, in image pixels, so like the joint boxes they
follow every zoom, pan and rotation; pens are cosmetic and labels ignore the view's transform,
so both stay thin and readable at any zoom. White with a dark outline: the heat map's colour
scale and the magenta joint boxes never hide it, and it reads on bright bone and dark air.
"""

from __future__ import annotations

from PySide6.QtCore import QLineF, QObject, QPointF, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from desktop.core.measurement import MIN_LENGTH_PX, Measurement
from desktop.ui.overlay_label import OverlayLabel

__all__ = ["MeasureTool"]

_LINE_COLOUR = QColor(255, 255, 255)
_OUTLINE_COLOUR = QColor(0, 0, 0, 200)
_TICK_PX = 6.0  # half-length of the end ticks, in image pixels (they scale with the image)
_Z_MEASUREMENTS = 3.0  # above the heat map and the joint boxes


class _MeasureLine(QGraphicsPathItem):
    """One measured line with ticks at both ends (drawn white over a dark outline)."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setZValue(_Z_MEASUREMENTS)
        self.label = OverlayLabel(self, colour=_LINE_COLOUR)
        self.measurement = Measurement((0.0, 0.0), (0.0, 0.0))

    def set_measurement(self, measurement: Measurement, spacing_mm: tuple[float, float] | None) -> None:
        self.measurement = measurement
        start, end = QPointF(*measurement.start), QPointF(*measurement.end)
        path = QPainterPath(start)
        path.lineTo(end)
        line = QLineF(start, end)
        if line.length() > 0:
            # Ticks across the line at both ends, so where it starts and stops is unambiguous.
            normal = line.normalVector().unitVector()
            offset = QPointF(normal.dx(), normal.dy()) * _TICK_PX
            for point in (start, end):
                path.moveTo(point - offset)
                path.lineTo(point + offset)
        self.setPath(path)
        self.label.set_text(measurement.label(spacing_mm))
        self.label.setPos(end)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        for colour, width in ((_OUTLINE_COLOUR, 3.5), (_LINE_COLOUR, 1.5)):
            pen = QPen(colour, width)
            pen.setCosmetic(True)  # a width in screen pixels, whatever the zoom
            painter.setPen(pen)
            painter.drawPath(self.path())


class MeasureTool(QObject):
    """The measurements of the image on show: the lines, the one being drawn (the last), and
    whether a plain left drag measures (``measure_mode``) or pans. The viewer feeds it image
    points from the mouse; the records controller reads and restores what it holds."""

    measurements_changed = Signal(object)  # tuple[Measurement, ...], after a finished change

    def __init__(self, image_item: QGraphicsItem, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._image_item = image_item
        self._lines: list[_MeasureLine] = []
        self._spacing: tuple[float, float] | None = None
        self.measure_mode = False

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(line.measurement for line in self._lines)

    def labels(self) -> list[str]:
        return [line.label.text for line in self._lines]

    def set_spacing(self, spacing_mm: tuple[float, float] | None) -> None:
        self._spacing = spacing_mm

    def _add(self, measurement: Measurement) -> None:
        line = _MeasureLine(self._image_item)
        line.set_measurement(measurement, self._spacing)
        self._lines.append(line)

    def begin(self, point: tuple[float, float]) -> None:
        """Start a line at an image point (a left press in measure mode, or with Shift)."""
        self._add(Measurement(point, point))

    def stretch(self, point: tuple[float, float]) -> None:
        """Move the end of the line being drawn."""
        if self._lines:
            last = self._lines[-1]
            last.set_measurement(Measurement(last.measurement.start, point), self._spacing)

    def finish(self) -> None:
        """Keep the line being drawn, unless it is too short to be meant."""
        if not self._lines:
            return
        if self._lines[-1].measurement.length_px < MIN_LENGTH_PX:
            self._remove(self._lines.pop())
        else:
            self.measurements_changed.emit(self.measurements)

    def set_measurements(self, measurements: tuple[Measurement, ...]) -> None:
        """Replace every line (a reopened study's); an empty tuple clears them."""
        while self._lines:
            self._remove(self._lines.pop())
        for measurement in measurements:
            self._add(measurement)
        self.measurements_changed.emit(self.measurements)

    def clear(self) -> None:
        self.set_measurements(())

    def remove_last(self) -> None:
        """Take back the newest measurement (a line drawn in the wrong place)."""
        if self._lines:
            self.set_measurements(self.measurements[:-1])

    def _remove(self, line: _MeasureLine) -> None:
        scene = self._image_item.scene()
        if scene is not None:
            scene.removeItem(line)
        line.setParentItem(None)
