"""numpy arrays to ``QImage`` without dangling buffers.

``QImage(buffer, ...)`` only borrows the numpy memory; once the array is garbage-collected the
image points at freed memory. Every function here returns ``.copy()``, an image that owns its
pixels, so callers may drop the array immediately.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

__all__ = ["grey_to_qimage", "qimage_to_array", "rgba_to_qimage"]


def grey_to_qimage(grey: np.ndarray) -> QImage:
    """(rows, cols) uint8 -> an owning ``Format_Grayscale8`` image."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("expected a 2-D uint8 array")
    grey = np.ascontiguousarray(grey)
    rows, cols = grey.shape
    image = QImage(grey.data, cols, rows, grey.strides[0], QImage.Format.Format_Grayscale8)
    return image.copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """(rows, cols, 4) uint8, straight (not premultiplied) alpha -> an owning RGBA image."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError("expected a (rows, cols, 4) uint8 array")
    rgba = np.ascontiguousarray(rgba)
    rows, cols = rgba.shape[:2]
    image = QImage(rgba.data, cols, rows, rgba.strides[0], QImage.Format.Format_RGBA8888)
    return image.copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """Any ``QImage`` as an (rows, cols, 4) uint8 RGBA array (for tests and screenshots)."""
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    rows, cols = converted.height(), converted.width()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    return buffer.reshape(rows, converted.bytesPerLine())[:, : cols * 4].reshape(rows, cols, 4).copy()
