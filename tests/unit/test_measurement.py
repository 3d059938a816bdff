"""Measured distances: millimetres from DICOM pixel spacing, pixels otherwise, stored safely."""

from __future__ import annotations

import pytest

from desktop.core.measurement import Measurement, measurements_from_json, measurements_summary


def test_length_uses_row_and_column_spacing_separately() -> None:
    across = Measurement((10.0, 20.0), (40.0, 20.0))  # 30 columns
    down = Measurement((10.0, 20.0), (10.0, 60.0))  # 40 rows
    spacing = (0.2, 0.1)  # DICOM order: row spacing, column spacing
    assert across.length_mm(spacing) == pytest.approx(3.0) and down.length_mm(spacing) == pytest.approx(8.0)
    diagonal = Measurement((0.0, 0.0), (30.0, 40.0))
    assert diagonal.length_px == pytest.approx(50.0)
    assert diagonal.length_mm(spacing) == pytest.approx((3.0**2 + 8.0**2) ** 0.5)
    assert diagonal.label(spacing) == "8.5 mm"


def test_without_pixel_spacing_only_pixels_are_claimed() -> None:
    line = Measurement((0.0, 0.0), (30.0, 40.0))
    assert line.length_mm(None) is None and line.label(None) == "50 px"
    assert measurements_summary([line, line], None) == "1: 50 px; 2: 50 px (image pixels: the file gives no pixel size)"
    assert measurements_summary([line], (0.5, 0.5)) == "1: 25.0 mm"
    assert measurements_summary([], None) == ""


def test_stored_form_round_trips_and_bad_entries_are_skipped() -> None:
    line = Measurement((1.234, 2.0), (3.0, 4.5))
    stored = [line.to_dict(), {"start": [1, 2]}, {"start": "x", "end": [1, 2]}, {"start": [1], "end": [2, 3]}]
    assert measurements_from_json(stored) == (Measurement((1.23, 2.0), (3.0, 4.5)),)
    assert measurements_from_json(None) == ()
