"""Measured distances and angles: millimetres from DICOM pixel spacing or a reference line,
pixels otherwise; angles in the image's real proportions; all stored safely."""

from __future__ import annotations

import pytest

from desktop.core.measurement import (
    Angle, Distance, effective_spacing, measurement_labels, measurements_from_json, measurements_summary, with_end_moved,
    with_reference,
)


def test_length_uses_row_and_column_spacing_separately() -> None:
    across = Distance((10.0, 20.0), (40.0, 20.0))  # 30 columns
    down = Distance((10.0, 20.0), (10.0, 60.0))  # 40 rows
    spacing = (0.2, 0.1)  # DICOM order: row spacing, column spacing
    assert across.length_mm(spacing) == pytest.approx(3.0) and down.length_mm(spacing) == pytest.approx(8.0)
    diagonal = Distance((0.0, 0.0), (30.0, 40.0))
    assert diagonal.length_px == pytest.approx(50.0)
    assert diagonal.length_mm(spacing) == pytest.approx((3.0**2 + 8.0**2) ** 0.5)
    assert diagonal.label(spacing) == "8.5 mm"


def test_without_pixel_spacing_only_pixels_are_claimed() -> None:
    line = Distance((0.0, 0.0), (30.0, 40.0))
    assert line.length_mm(None) is None and line.label(None) == "50 px"
    assert measurements_summary([line, line], None) == "1: 50 px; 2: 50 px (image pixels: the file gives no pixel size)"
    assert measurements_summary([line], (0.5, 0.5)) == "1: 25.0 mm"
    assert measurements_summary([], None) == ""


def test_stored_form_round_trips_and_bad_entries_are_skipped() -> None:
    line = Distance((1.234, 2.0), (3.0, 4.5))
    stored = [line.to_dict(), {"start": [1, 2]}, {"start": "x", "end": [1, 2]}, {"start": [1], "end": [2, 3]}]
    assert measurements_from_json(stored) == (Distance((1.23, 2.0), (3.0, 4.5)),)
    assert measurements_from_json(None) == ()


def test_angle_is_the_acute_angle_between_the_lines_whichever_way_they_were_drawn() -> None:
    flat = Distance((0.0, 0.0), (100.0, 0.0))
    rising = Distance((0.0, 0.0), (100.0, -57.735))  # 30 degrees above the horizontal
    assert Angle(flat, rising).degrees(None) == pytest.approx(30.0, abs=0.01)
    backwards = Distance((100.0, -57.735), (0.0, 0.0))
    assert Angle(flat, backwards).degrees(None) == pytest.approx(30.0, abs=0.01)  # not 150
    upright = Distance((50.0, 10.0), (50.0, 90.0))
    assert Angle(flat, upright).label(None) == "90.0\u00b0"
    # 45 degrees in pixels is steeper when rows are twice as tall as columns are wide.
    diagonal = Distance((0.0, 0.0), (10.0, 10.0))
    assert Angle(flat, diagonal).degrees((0.2, 0.1)) == pytest.approx(63.43, abs=0.01)
    assert Angle(flat, diagonal).degrees(None) == pytest.approx(45.0)


def test_a_reference_line_sets_the_scale_and_corrects_a_file_scale() -> None:
    ruler = Distance((0.0, 0.0), (200.0, 0.0))
    gap = Distance((0.0, 10.0), (0.0, 50.0))
    assert with_reference([gap], 25.0) == (Distance((0.0, 10.0), (0.0, 50.0), 25.0),)
    measured = with_reference([gap, ruler, Angle(ruler, gap)], 50.0)  # the newest distance, not the angle
    assert measured[1].reference_mm == 50.0 and measured[0].reference_mm is None
    assert effective_spacing(measured, None) == pytest.approx((0.25, 0.25))
    assert measurement_labels(measured, None) == ["10.0 mm", "50.0 mm reference", "90.0\u00b0"]
    assert measurements_summary(measured, None) == "1: 10.0 mm; 2: 50.0 mm reference; 3: 90.0\u00b0 (lengths scaled to reference line 2)"
    # The file says 0.2 mm per pixel at the detector; the 50 mm ruler shows 0.25 mm on the anatomy.
    assert effective_spacing(measured, (0.2, 0.2)) == pytest.approx((0.25, 0.25))
    assert effective_spacing([gap], (0.2, 0.2)) == (0.2, 0.2)
    # A new reference replaces the old one.
    again = with_reference(measured, 20.0)
    assert [getattr(item, "reference_mm", None) for item in again] == [None, 20.0, None]
    assert with_reference([Angle(ruler, gap)], 10.0) is None and with_reference([gap], 0.0) is None


def test_angles_alone_need_no_pixel_size_note() -> None:
    angle = Angle(Distance((0.0, 0.0), (10.0, 0.0)), Distance((0.0, 0.0), (0.0, 10.0)))
    assert measurements_summary([angle], None) == "1: 90.0\u00b0"


def test_angles_and_references_round_trip_and_older_or_damaged_entries_are_handled() -> None:
    angle = Angle(Distance((1.0, 2.0), (3.0, 4.0)), Distance((5.0, 6.0), (7.0, 8.5)))
    reference = Distance((0.0, 0.0), (10.0, 0.0), 5.0)
    stored = [angle.to_dict(), reference.to_dict(), {"start": [1, 2], "end": [3, 4]},  # stored before angles existed
              {"kind": "angle", "first": {"start": [1, 2], "end": [3, 4]}},  # one line short
              {"start": [0, 0], "end": [1, 1], "reference_mm": -3}, "not a measurement"]
    assert measurements_from_json(stored) == (angle, reference, Distance((1.0, 2.0), (3.0, 4.0)))


def test_an_angle_is_labelled_where_its_lines_come_closest() -> None:
    femur = Distance((100.0, 0.0), (110.0, 200.0))
    tibia = Distance((112.0, 230.0), (95.0, 420.0))
    assert Angle(femur, tibia).label_anchor == pytest.approx((111.0, 215.0))
    assert Distance((0.0, 0.0), (5.0, 5.0)).label_anchor == (5.0, 5.0)


def test_moving_an_end_keeps_the_rest_and_a_moved_reference_rescales() -> None:
    reference = Distance((0.0, 0.0), (100.0, 0.0), 10.0)
    moved = with_end_moved(reference, 0, "end", (50.0, 0.0))
    assert moved == Distance((0.0, 0.0), (50.0, 0.0), 10.0)
    assert effective_spacing([moved], None) == pytest.approx((0.2, 0.2))  # still 10 mm, now over 50 px
    angle = Angle(Distance((0.0, 0.0), (10.0, 0.0)), Distance((0.0, 0.0), (0.0, 10.0)))
    assert with_end_moved(angle, 1, "start", (5.0, 5.0)) == Angle(angle.first, Distance((5.0, 5.0), (0.0, 10.0)))
