"""Measurements over the image: distances and angles, each with its value on a small tab.

Lines are children of the image's pixmap item, in image pixels, so like the joint boxes they
follow every zoom, pan and rotation; pens are cosmetic and labels ignore the view's transform,
so both stay thin and readable at any zoom. White with a dark outline: the heat map's colour
scale and the magenta joint boxes never hide it, and it reads on bright bone and dark air.

An angle takes two drags, one per line; between them its first line waits on screen with a
tab asking for the second. Pressing near the end of a finished line (in a measure mode, or
with Shift) drags that end instead of starting a new line.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QObject, QPointF, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from desktop.core.measurement import (
    MIN_LENGTH_PX, Angle, Distance, Measurement, effective_spacing, measurement_labels, with_end_moved, with_reference,
)
from desktop.ui.overlay_label import OverlayLabel

__all__ = ["ANGLE", "DISTANCE", "PAN", "SECOND_LINE_PROMPT", "MeasureTool"]

PAN, DISTANCE, ANGLE = "pan", "distance", "angle"  # what a plain left drag does
SECOND_LINE_PROMPT = "angle: drag the second line"

_LINE_COLOUR = QColor(255, 255, 255)
_OUTLINE_COLOUR = QColor(0, 0, 0, 200)
_TICK_PX = 6.0  # half-length of the end ticks, in image pixels (they scale with the image)
_Z_MEASUREMENTS = 3.0  # above the heat map and the joint boxes


class _MeasureDrawing(QGraphicsPathItem):
    """The lines of one measurement with ticks at their ends (white over a dark outline) and
    its value on a tab (at a distance's end, where an angle's lines meet)."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setZValue(_Z_MEASUREMENTS)
        self.label = OverlayLabel(self, colour=_LINE_COLOUR)

    def show_lines(self, lines: tuple[Distance, ...], text: str, anchor: tuple[float, float]) -> None:
        path = QPainterPath()
        for line in lines:
            start, end = QPointF(*line.start), QPointF(*line.end)
            path.moveTo(start)
            path.lineTo(end)
            segment = QLineF(start, end)
            if segment.length() > 0:
                # Ticks across the line at both ends, so where it starts and stops is unambiguous.
                normal = segment.normalVector().unitVector()
                offset = QPointF(normal.dx(), normal.dy()) * _TICK_PX
                for point in (start, end):
                    path.moveTo(point - offset)
                    path.lineTo(point + offset)
        self.setPath(path)
        self.label.set_text(text)
        self.label.setPos(QPointF(*anchor))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        for colour, width in ((_OUTLINE_COLOUR, 3.5), (_LINE_COLOUR, 1.5)):
            pen = QPen(colour, width)
            pen.setCosmetic(True)  # a width in screen pixels, whatever the zoom
            painter.setPen(pen)
            painter.drawPath(self.path())


class MeasureTool(QObject):
    """The measurements of the image on show, the one being drawn, and what a plain left drag
    does (``mode``: PAN, DISTANCE or ANGLE). The viewer feeds it image points from the mouse;
    the records controller reads and restores what it holds."""

    measurements_changed = Signal(object)  # tuple[Measurement, ...], after a finished change

    def __init__(self, image_item: QGraphicsItem, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._image_item = image_item
        self._done: list[tuple[Measurement, _MeasureDrawing]] = []
        self._draft_lines: list[Distance] = []  # the measurement being drawn
        self._draft_kind = DISTANCE
        self._draft: _MeasureDrawing | None = None
        self._file_spacing: tuple[float, float] | None = None
        self._moving: tuple[int, int, str] | None = None  # (measurement, line, "start"/"end") being dragged
        self.mode = PAN

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(measurement for measurement, _ in self._done)

    @property
    def spacing_mm(self) -> tuple[float, float] | None:
        """The pixel spacing lengths are shown with (the file's, or the reference's)."""
        return effective_spacing(self.measurements, self._file_spacing)

    def labels(self) -> list[str]:
        return [drawing.label.text for _, drawing in self._done]

    def draft_label(self) -> str | None:
        return self._draft.label.text if self._draft is not None else None

    def set_spacing(self, spacing_mm: tuple[float, float] | None) -> None:
        """The file's pixel spacing (None for a PNG or JPEG)."""
        self._file_spacing = spacing_mm

    # ------------------------------------------------------------ drawing with the mouse
    def begin(self, point: tuple[float, float]) -> None:
        """Start a line at an image point (a left press in a measure mode, or with Shift):
        the second line of a waiting angle, or a new measurement of the current mode."""
        line = Distance(point, point)
        if self._draft is not None and self._draft_kind == ANGLE and len(self._draft_lines) == 1:
            self._draft_lines.append(line)
        else:
            self._drop_draft()
            self._draft_kind = ANGLE if self.mode == ANGLE else DISTANCE
            self._draft_lines = [line]
            self._draft = _MeasureDrawing(self._image_item)
        self._show_draft()

    def grab_end(self, point: tuple[float, float], reach_px: float) -> bool:
        """Start moving the end of a finished line within ``reach_px`` image pixels of
        ``point`` (the nearest, if several); False when there is none."""
        ends = [(math.dist(getattr(line, end), point), index, number, end)
                for index, (measurement, _) in enumerate(self._done)
                for number, line in enumerate(measurement.lines) for end in ("start", "end")]
        near = [found for found in ends if found[0] <= reach_px]
        if not near:
            return False
        self._moving = min(near)[1:]
        return True

    def stretch(self, point: tuple[float, float]) -> None:
        """Move the end of the line being drawn, or the end that was grabbed."""
        if self._moving is not None:
            index, line, end = self._moving
            moved = list(self.measurements)
            moved[index] = with_end_moved(moved[index], line, end, point)
            self._show_done(moved)
        elif self._draft is not None:
            self._draft_lines[-1] = Distance(self._draft_lines[-1].start, point)
            self._show_draft()

    def finish(self) -> None:
        """Keep the line being drawn, unless it is too short to be meant; a distance or an
        angle's second line completes a measurement."""
        if self._moving is not None:
            self._moving = None
            self.measurements_changed.emit(self.measurements)
            return
        if self._draft is None:
            return
        if self._draft_lines[-1].length_px < MIN_LENGTH_PX:
            self._draft_lines.pop()
            if not self._draft_lines:
                self._drop_draft()
                return
        elif (measurement := self._draft_measurement()) is not None:
            self._drop_draft()
            self.set_measurements((*self.measurements, measurement))
            return
        self._show_draft()

    def _draft_measurement(self) -> Measurement | None:
        """What the lines drawn so far measure: None while an angle waits for its second line."""
        lines = self._draft_lines
        if self._draft_kind == DISTANCE:
            return lines[0]
        return Angle(*lines) if len(lines) == 2 else None

    def _show_draft(self) -> None:
        lines = tuple(self._draft_lines)
        measurement = self._draft_measurement()
        if measurement is not None:
            self._draft.show_lines(lines, measurement.label(self.spacing_mm), measurement.label_anchor)
        else:
            self._draft.show_lines(lines, SECOND_LINE_PROMPT, lines[0].end)

    def _drop_draft(self) -> None:
        if self._draft is not None:
            self._remove(self._draft)
        self._draft, self._draft_lines = None, []

    # ------------------------------------------------------------ whole-set changes
    def set_measurements(self, measurements: tuple[Measurement, ...]) -> None:
        """Replace every measurement (a reopened study's); an empty tuple clears them."""
        self._drop_draft()
        self._moving = None
        for _, drawing in self._done:
            self._remove(drawing)
        self._done = [(measurement, _MeasureDrawing(self._image_item)) for measurement in measurements]
        self._show_done(measurements)
        self.measurements_changed.emit(self.measurements)

    def _show_done(self, measurements: list[Measurement] | tuple[Measurement, ...]) -> None:
        """Hold and draw ``measurements`` in the existing drawings, one each. A reference line
        rescales every length, so all labels are redrawn together."""
        labels = measurement_labels(measurements, self._file_spacing)
        self._done = [(measurement, drawing) for measurement, (_, drawing) in zip(measurements, self._done)]
        for (measurement, drawing), text in zip(self._done, labels):
            drawing.show_lines(measurement.lines, text, measurement.label_anchor)

    def clear(self) -> None:
        self.set_measurements(())

    def remove_last(self) -> None:
        """Take back the angle half drawn, else the newest measurement."""
        if self._draft is not None:
            self._drop_draft()
        elif self._done:
            self.set_measurements(self.measurements[:-1])

    def calibrate(self, real_length_mm: float) -> bool:
        """Make the newest distance the scale reference of ``real_length_mm``; False when
        there is no distance to calibrate with."""
        calibrated = with_reference(self.measurements, real_length_mm)
        if calibrated is None:
            return False
        self.set_measurements(calibrated)
        return True

    def _remove(self, drawing: _MeasureDrawing) -> None:
        scene = self._image_item.scene()
        if scene is not None:
            scene.removeItem(drawing)
        drawing.setParentItem(None)
