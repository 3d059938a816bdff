"""The report's two pictures: the radiograph, and the same radiograph with the heat map.

Drawn with the viewer's own helpers (display mapping, colour map) so the paper matches the
screen, at a resolution that stays sharp when printed a few centimetres wide.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter

from desktop.ui.display_mapping import heatmap_rgba, map_to_uint8
from desktop.ui.qimages import grey_to_qimage, rgba_to_qimage

__all__ = ["REPORT_IMAGE_SIDE", "overlay_image", "radiograph_image"]

# About 8 cm at 250 dpi: sharp on paper, and two of them keep a report PDF around a megabyte.
REPORT_IMAGE_SIDE = 800
DEFAULT_OVERLAY_OPACITY = 0.5  # as in the viewer: the anatomy stays readable under the colours


def radiograph_image(pixels: np.ndarray, *, max_side: int = REPORT_IMAGE_SIDE) -> QImage:
    """The image in its default window, as an RGB ``QImage`` no larger than ``max_side``."""
    image = grey_to_qimage(map_to_uint8(pixels))
    if max(image.width(), image.height()) > max_side:
        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image.convertToFormat(QImage.Format.Format_RGB32)


def overlay_image(
    pixels: np.ndarray,
    heatmap: np.ndarray,
    *,
    max_side: int = REPORT_IMAGE_SIDE,
    opacity: float = DEFAULT_OVERLAY_OPACITY,
) -> QImage:
    """The radiograph with the heat map stretched over its whole extent, as in the viewer."""
    base = radiograph_image(pixels, max_side=max_side)
    colours = rgba_to_qimage(heatmap_rgba(heatmap))
    painter = QPainter(base)
    try:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setOpacity(min(max(opacity, 0.0), 1.0))
        painter.drawImage(QRect(0, 0, base.width(), base.height()), colours)
    finally:
        painter.end()
    return base
