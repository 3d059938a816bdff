"""Distances and angles measured on an image: joint space width, fracture displacement and
angulation, implant sizes, limb axes.

A distance is a straight line between two points in image pixels (x = column, y = row, as the
viewer maps them), so it stays on the anatomy whatever the zoom, rotation or window. An angle
is two such lines; its size is the acute angle between them (0-90 degrees), as for fracture
angulation or the angle between two bone axes.

A length is in millimetres only when the scale is known: from the file (DICOM pixel spacing),
or from a reference line the doctor drew over something of known size (a ruler or a
calibration marker on the film) and gave its real length. The reference also corrects a DICOM
scale, which is measured at the detector and magnifies the anatomy. A PNG or JPEG without a
reference has no scale, and a length in pixels is then all that can honestly be said. Angles
need no scale (a square pixel is assumed only when the file gives none).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "MIN_LENGTH_PX", "Angle", "Distance", "Measurement", "effective_spacing", "measurement_labels",
    "measurements_from_json", "measurements_summary", "with_end_moved", "with_reference",
]

# A drag shorter than this is a click that slipped, not a measurement.
MIN_LENGTH_PX = 3.0

Spacing = tuple[float, float]  # (row mm, column mm): DICOM PixelSpacing order


def _point(values: Any) -> tuple[float, float]:
    return float(values[0]), float(values[1])


@dataclass(frozen=True)
class Distance:
    start: tuple[float, float]  # (x, y) in image pixels
    end: tuple[float, float]
    reference_mm: float | None = None  # the real length, when this line is the scale reference

    @property
    def length_px(self) -> float:
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    def length_mm(self, spacing_mm: Spacing | None) -> float | None:
        """Length in mm with a pixel spacing (row spacing, column spacing); None without."""
        if not spacing_mm:
            return None
        row_mm, col_mm = spacing_mm
        return math.hypot((self.end[0] - self.start[0]) * col_mm, (self.end[1] - self.start[1]) * row_mm)

    @property
    def lines(self) -> tuple[Distance, ...]:
        return (self,)

    @property
    def label_anchor(self) -> tuple[float, float]:
        return self.end

    def label(self, spacing_mm: Spacing | None) -> str:
        """The length as the viewer and the report print it: "23.4 mm" or "182 px"."""
        if self.reference_mm is not None:
            return f"{self.reference_mm:.1f} mm reference"
        millimetres = self.length_mm(spacing_mm)
        return f"{millimetres:.1f} mm" if millimetres is not None else f"{self.length_px:.0f} px"

    def to_dict(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"start": [round(v, 2) for v in self.start], "end": [round(v, 2) for v in self.end]}
        if self.reference_mm is not None:
            stored["reference_mm"] = round(self.reference_mm, 3)
        return stored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Distance:
        reference = data.get("reference_mm")
        if reference is not None and not float(reference) > 0:
            raise ValueError("a reference length must be positive")
        return cls(_point(data["start"]), _point(data["end"]), None if reference is None else float(reference))


@dataclass(frozen=True)
class Angle:
    first: Distance
    second: Distance

    def degrees(self, spacing_mm: Spacing | None) -> float:
        """The acute angle between the two lines, in the image's real proportions when the
        pixel spacing is known (rows and columns may differ in size)."""
        row_mm, col_mm = spacing_mm or (1.0, 1.0)
        directions = [math.atan2((line.end[1] - line.start[1]) * row_mm, (line.end[0] - line.start[0]) * col_mm)
                      for line in (self.first, self.second)]
        between = abs(directions[0] - directions[1]) % math.pi
        return math.degrees(min(between, math.pi - between))

    @property
    def lines(self) -> tuple[Distance, ...]:
        return (self.first, self.second)

    @property
    def label_anchor(self) -> tuple[float, float]:
        """Where the lines come closest (the midpoint of their nearest ends): where two bone
        axes meet at a joint or a fracture, not at the far end of a long line."""
        a, b = min(((p, q) for p in (self.first.start, self.first.end) for q in (self.second.start, self.second.end)),
                   key=lambda pair: math.dist(*pair))
        return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2

    def label(self, spacing_mm: Spacing | None) -> str:
        return f"{self.degrees(spacing_mm):.1f}\u00b0"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "angle", "first": self.first.to_dict(), "second": self.second.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Angle:
        return cls(Distance.from_dict(data["first"]), Distance.from_dict(data["second"]))


Measurement = Distance | Angle


def measurements_from_json(items: Iterable[Mapping[str, Any]] | None) -> tuple[Measurement, ...]:
    """Stored measurements back as objects; a malformed entry is skipped, never fatal, so a
    damaged record still opens with everything else it holds. Entries without a kind are
    distances (the only kind stored before angles)."""
    found: list[Measurement] = []
    for item in items or ():
        try:
            found.append(Angle.from_dict(item) if item.get("kind") == "angle" else Distance.from_dict(item))
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            continue
    return tuple(found)


def _reference(measurements: Sequence[Measurement]) -> tuple[int, Distance] | None:
    """The scale reference and its number (from 1), if the doctor marked one."""
    for number, item in enumerate(measurements, start=1):
        if isinstance(item, Distance) and item.reference_mm is not None and item.length_px > 0:
            return number, item
    return None


def effective_spacing(measurements: Sequence[Measurement], file_spacing_mm: Spacing | None) -> Spacing | None:
    """The pixel spacing lengths are measured with: the file's, rescaled so the reference
    line has its real length when there is one (a reference alone gives square pixels)."""
    found = _reference(measurements)
    if found is None:
        return file_spacing_mm
    reference = found[1]
    if file_spacing_mm:
        factor = reference.reference_mm / reference.length_mm(file_spacing_mm)
        return file_spacing_mm[0] * factor, file_spacing_mm[1] * factor
    per_pixel = reference.reference_mm / reference.length_px
    return per_pixel, per_pixel


def with_reference(measurements: Sequence[Measurement], real_length_mm: float) -> tuple[Measurement, ...] | None:
    """The measurements with the newest distance made the scale reference of ``real_length_mm``
    (any earlier reference becomes a plain distance again); None when there is no distance."""
    newest = next((i for i in range(len(measurements) - 1, -1, -1) if isinstance(measurements[i], Distance)), None)
    if newest is None or not real_length_mm > 0:
        return None
    return tuple(
        replace(item, reference_mm=real_length_mm if i == newest else None) if isinstance(item, Distance) else item
        for i, item in enumerate(measurements)
    )


def with_end_moved(measurement: Measurement, line: int, end: str, point: tuple[float, float]) -> Measurement:
    """``measurement`` with one end ("start" or "end") of its ``line``-th line moved to
    ``point``: a line drawn slightly off is corrected, not redrawn. A reference keeps its real
    length, so moving its ends rescales every length."""
    if isinstance(measurement, Angle):
        lines = [measurement.first, measurement.second]
        lines[line] = replace(lines[line], **{end: point})
        return Angle(*lines)
    return replace(measurement, **{end: point})


def measurement_labels(measurements: Sequence[Measurement], file_spacing_mm: Spacing | None) -> list[str]:
    """Each measurement's label, on the scale they are measured with."""
    spacing = effective_spacing(measurements, file_spacing_mm)
    return [item.label(spacing) for item in measurements]


def measurements_summary(measurements: Sequence[Measurement], file_spacing_mm: Spacing | None) -> str:
    """One line for the report: "1: 23.4 mm; 2: 12.0°", with a note on where the scale came
    from when it is not the file's, or that only pixels are known."""
    labels = measurement_labels(measurements, file_spacing_mm)
    text = "; ".join(f"{number}: {label}" for number, label in enumerate(labels, start=1))
    found = _reference(measurements)
    if found is not None:
        text += f" (lengths scaled to reference line {found[0]})"
    elif not file_spacing_mm and any(isinstance(item, Distance) for item in measurements):
        text += " (image pixels: the file gives no pixel size)"
    return text
