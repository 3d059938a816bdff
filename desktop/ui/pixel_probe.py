"""What the viewer reports about the pixel under the cursor, and how that pixel is found.

Qt-free, so the status bar and the text formatting can use it without importing the viewer,
and the arithmetic (pixel edges, physical size) is testable on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PixelProbe", "probe_pixel"]


@dataclass(frozen=True)
class PixelProbe:
    """The image pixel under the cursor, in image coordinates (before rotation)."""

    col: int
    row: int
    value: float  # display-ready value in [0, 1]
    x_mm: float | None = None
    y_mm: float | None = None


def probe_pixel(pixels: np.ndarray, x: float, y: float, *, spacing_mm: tuple[float, float] | None) -> PixelProbe | None:
    """The pixel of ``pixels`` (rows, cols) containing the image point ``(x, y)``, or None outside it."""
    col, row = math.floor(x), math.floor(y)
    rows, cols = pixels.shape
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    x_mm = y_mm = None
    if spacing_mm is not None:
        # DICOM PixelSpacing is (row spacing, column spacing); centre of the pixel.
        y_mm, x_mm = (row + 0.5) * spacing_mm[0], (col + 0.5) * spacing_mm[1]
    return PixelProbe(col=col, row=row, value=float(pixels[row, col]), x_mm=x_mm, y_mm=y_mm)
