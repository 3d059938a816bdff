"""The heat-map overlay: a coloured, partly transparent copy of a model's map over the image.

It is a child of the image's pixmap item and is stretched to the image's extent (or to the
knee joint box a regional model read) by its own transform, so it follows every zoom, pan and
rotation of the image without being recomputed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem

from desktop.ui.display_mapping import heatmap_rgba
from desktop.ui.qimages import rgba_to_qimage

__all__ = ["HeatmapOverlay"]

DEFAULT_OPACITY = 0.5


class HeatmapOverlay:
    """Owns the overlay item; remembers whether the user wants it shown."""

    def __init__(self, image_item: QGraphicsItem) -> None:
        # An invisible frame the size of the image holds the map and clips it: a joint box may
        # reach past the image edge, and colour where there is no image would mislead.
        self._frame = QGraphicsRectItem(image_item)
        self._frame.setPen(QPen(Qt.PenStyle.NoPen))
        self._frame.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.item = QGraphicsPixmapItem(self._frame)
        # Smooth stretching keeps coarse CAM grids from showing their cells.
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.item.setOpacity(DEFAULT_OPACITY)
        self.item.setVisible(False)
        self._wanted = True
        self._heatmap: np.ndarray | None = None

    @property
    def heatmap(self) -> np.ndarray | None:
        """The map currently overlaid, as given (before colouring)."""
        return self._heatmap

    def set_heatmap(
        self,
        heatmap: np.ndarray | None,
        *,
        image_shape: tuple[int, int],
        region: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Overlay ``heatmap`` in [0, 1] (any resolution) over an image of ``image_shape`` (rows, cols).

        ``region`` (top, left, height, width in image pixels): the map covers that box instead
        of the whole image, as for a model that read one knee joint.
        """
        self._heatmap = heatmap
        rows, cols = image_shape
        self._frame.setRect(0, 0, cols, rows)
        if heatmap is None:
            self.item.setPixmap(QPixmap())
            self.item.setVisible(False)
            return
        pixmap = QPixmap.fromImage(rgba_to_qimage(heatmap_rgba(heatmap)))
        top, left, height, width = region if region is not None else (0, 0, rows, cols)
        # Stretch, not fit: by contract the map covers exactly the image's (or the box's) extent.
        transform = QTransform.fromTranslate(left, top).scale(width / pixmap.width(), height / pixmap.height())
        self.item.setTransform(transform)
        self.item.setPixmap(pixmap)
        self.item.setVisible(self._wanted)

    def set_visible(self, visible: bool) -> None:
        self._wanted = visible
        self.item.setVisible(visible and self._heatmap is not None)

    def set_opacity(self, opacity: float) -> None:
        self.item.setOpacity(min(max(opacity, 0.0), 1.0))
