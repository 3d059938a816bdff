"""The report's two pictures: the radiograph, and the same radiograph with the heat map.

Drawn with the viewer's own helpers (display mapping, colour map, joint box colour) so the
paper matches the screen, at a resolution that stays sharp when printed a few centimetres
wide. Located knee joints are outlined and named on both pictures, as in the viewer; the
doctor's measurements are drawn, numbered, on the plain radiograph only, so the heat map's
picture shows the evidence uncluttered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from desktop.core.joint_regions import JointRegion, box_label
from desktop.core.measurement import Measurement, measurement_labels
from desktop.ui.display_mapping import heatmap_rgba, map_to_uint8
from desktop.ui.joint_boxes import BOX_COLOUR
from desktop.ui.qimages import grey_to_qimage, rgba_to_qimage

__all__ = ["REPORT_IMAGE_SIDE", "draw_joint_boxes", "draw_measurements", "overlay_image", "radiograph_image"]

# About 8 cm at 250 dpi: sharp on paper, and two of them keep a report PDF around a megabyte.
REPORT_IMAGE_SIDE = 800
DEFAULT_OVERLAY_OPACITY = 0.5  # as in the viewer: the anatomy stays readable under the colours


def radiograph_image(pixels: np.ndarray, *, max_side: int = REPORT_IMAGE_SIDE) -> QImage:
    """The image in its default window, as an RGB ``QImage`` no larger than ``max_side``."""
    image = grey_to_qimage(map_to_uint8(pixels))
    if max(image.width(), image.height()) > max_side:
        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image.convertToFormat(QImage.Format.Format_RGB32)


def _scaled_box(box: tuple[int, int, int, int], picture: QImage, shape: tuple[int, ...]) -> QRectF:
    """An image-pixel box (top, left, height, width) in the picture's (smaller) pixels."""
    top, left, height, width = box
    sy, sx = picture.height() / shape[0], picture.width() / shape[1]
    return QRectF(left * sx, top * sy, width * sx, height * sy)


def overlay_image(
    pixels: np.ndarray,
    maps: Sequence[tuple[np.ndarray, tuple[int, int, int, int] | None]],
    *,
    max_side: int = REPORT_IMAGE_SIDE,
    opacity: float = DEFAULT_OVERLAY_OPACITY,
) -> QImage:
    """The radiograph with each (heat map, region) drawn as in the viewer: stretched over the
    whole image when region is None, else over the knee joint box the model read (cut at the
    image edge)."""
    base = radiograph_image(pixels, max_side=max_side)
    painter = QPainter(base)
    try:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setOpacity(min(max(opacity, 0.0), 1.0))
        painter.setClipRect(QRect(0, 0, base.width(), base.height()))
        for heatmap, region in maps:
            target = _scaled_box(region, base, pixels.shape) if region is not None else QRectF(base.rect())
            painter.drawImage(target, rgba_to_qimage(heatmap_rgba(heatmap)))
    finally:
        painter.end()
    return base


@contextmanager
def _labelled_painting(picture: QImage) -> Iterator[tuple[QPainter, QFontMetricsF, float]]:
    """A painter on ``picture`` with the label font, its metrics and the line width, sized so
    labels and lines read well when the picture is printed about 8 cm wide."""
    painter = QPainter(picture)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(8, picture.width() // 45))
        painter.setFont(font)
        yield painter, QFontMetricsF(font), max(2.0, picture.width() / 300)
    finally:
        painter.end()


def _label_tab(painter: QPainter, metrics: QFontMetricsF, text: str, colour: QColor, *,
               left: float, top: float, within: QImage) -> None:
    """``text`` on a dark tab with its top left at (left, top), kept inside the picture."""
    tab = QRectF(0, 0, metrics.horizontalAdvance(text) + 8, metrics.height() + 4)
    tab.moveTo(min(max(left, 0.0), within.width() - tab.width()), min(max(top, 0.0), within.height() - tab.height()))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRect(tab)
    painter.setPen(colour)
    painter.drawText(tab, Qt.AlignmentFlag.AlignCenter, text)


def draw_joint_boxes(picture: QImage, joints: Sequence[JointRegion], *, image_shape: tuple[int, ...]) -> QImage:
    """Outline and name each joint on ``picture`` (the image shown at its own scale), in place."""
    if not joints:
        return picture
    with _labelled_painting(picture) as (painter, metrics, line_width):
        for joint in joints:
            box = _scaled_box(joint.box, picture, image_shape)
            painter.setPen(QPen(BOX_COLOUR, line_width))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            _label_tab(painter, metrics, box_label(joint), BOX_COLOUR, left=box.left(), top=box.top(), within=picture)
    return picture


def draw_measurements(picture: QImage, measurements: Sequence[Measurement], *, image_shape: tuple[int, ...],
                      spacing_mm: tuple[float, float] | None) -> QImage:
    """Draw each measurement's lines with "number: value" beside its label anchor on
    ``picture``, in place; the numbers match the report's Measurements row. ``spacing_mm`` is
    the file's (a reference line among the measurements rescales it)."""
    if not measurements:
        return picture
    sy, sx = picture.height() / image_shape[0], picture.width() / image_shape[1]
    with _labelled_painting(picture) as (painter, metrics, line_width):
        for number, (item, label) in enumerate(zip(measurements, measurement_labels(measurements, spacing_mm)), start=1):
            for line in item.lines:
                start = QPointF(line.start[0] * sx, line.start[1] * sy)
                end = QPointF(line.end[0] * sx, line.end[1] * sy)
                for colour, width in ((QColor(0, 0, 0, 200), line_width * 2.2), (QColor(255, 255, 255), line_width)):
                    painter.setPen(QPen(colour, width))
                    painter.drawLine(start, end)
            anchor = QPointF(item.label_anchor[0] * sx, item.label_anchor[1] * sy)
            _label_tab(painter, metrics, f"{number}: {label}", QColor(255, 255, 255),
                       left=anchor.x() + 4, top=anchor.y() - (metrics.height() + 4) / 2, within=picture)
    return picture
