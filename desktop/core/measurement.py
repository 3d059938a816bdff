"""Distances measured on an image: joint space width, fracture displacement, implant sizes.

A measurement is a straight line between two points in image pixels (x = column, y = row, as
the viewer maps them), so it stays on the anatomy whatever the zoom, rotation or window. Its
length is in millimetres only when the file says how large a pixel is (DICOM pixel spacing);
a PNG or JPEG has no such scale, and a length in pixels is then all that can honestly be said.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_LENGTH_PX", "Measurement", "measurements_from_json", "measurements_summary"]

# A drag shorter than this is a click that slipped, not a measurement.
MIN_LENGTH_PX = 3.0


@dataclass(frozen=True)
class Measurement:
    start: tuple[float, float]  # (x, y) in image pixels
    end: tuple[float, float]

    @property
    def length_px(self) -> float:
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    def length_mm(self, spacing_mm: tuple[float, float] | None) -> float | None:
        """Length in mm with DICOM pixel spacing (row spacing, column spacing); None without."""
        if not spacing_mm:
            return None
        row_mm, col_mm = spacing_mm
        return math.hypot((self.end[0] - self.start[0]) * col_mm, (self.end[1] - self.start[1]) * row_mm)

    def label(self, spacing_mm: tuple[float, float] | None) -> str:
        """The length as the viewer and the report print it: "23.4 mm" or "182 px"."""
        millimetres = self.length_mm(spacing_mm)
        return f"{millimetres:.1f} mm" if millimetres is not None else f"{self.length_px:.0f} px"

    def to_dict(self) -> dict[str, list[float]]:
        return {"start": [round(v, 2) for v in self.start], "end": [round(v, 2) for v in self.end]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        start, end = data["start"], data["end"]
        return cls((float(start[0]), float(start[1])), (float(end[0]), float(end[1])))


def measurements_from_json(items: Iterable[Mapping[str, Any]] | None) -> tuple[Measurement, ...]:
    """Stored measurements back as objects; a malformed entry is skipped, never fatal, so a
    damaged record still opens with everything else it holds."""
    found = []
    for item in items or ():
        try:
            found.append(Measurement.from_dict(item))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return tuple(found)


def measurements_summary(measurements: Sequence[Measurement], spacing_mm: tuple[float, float] | None) -> str:
    """One line for the report: "1: 23.4 mm; 2: 12.0 mm", with a note when only pixels are known."""
    text = "; ".join(f"{number}: {m.label(spacing_mm)}" for number, m in enumerate(measurements, start=1))
    if measurements and not spacing_mm:
        text += " (image pixels: the file gives no pixel size)"
    return text
