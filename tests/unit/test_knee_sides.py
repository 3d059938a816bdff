"""Naming located knee joints by the patient's side: from the DICOM header, the clinic's
display convention, or the doctor."""

from __future__ import annotations

from desktop.core.joint_regions import JointRegion, box_label, joint_heading, patient_sides, side_label
from desktop.core.knee_sides import (
    NOT_STATED,
    STANDARD_DISPLAY,
    FilmSides,
    side_choices,
    sides_named_by,
    sides_summary,
    user_choice,
    with_clinic_display,
    with_header_sides,
    with_user_sides,
)

BILATERAL = (JointRegion((10, 10, 50, 50), 0.9, "image_left"), JointRegion((10, 90, 50, 50), 0.9, "image_right"))
SIDEWAYS = (JointRegion((10, 10, 50, 50), 0.9, "image_top", turn=1), JointRegion((90, 10, 50, 50), 0.9, "image_bottom", turn=1))
SINGLE = (JointRegion((10, 10, 50, 50), 0.9, "single"),)


def _sides(joints):
    return [(j.patient_side, j.sided_by) for j in joints]


def test_header_values_are_read_by_their_main_direction() -> None:
    assert FilmSides.from_header(["L", "F"], None) == FilmSides(across="L")
    assert FilmSides.from_header("LP\\FR", "") == FilmSides(across="L", down=None)
    assert FilmSides.from_header(["F", "R"], None) == FilmSides(down="R")
    assert FilmSides.from_header(None, "l") == FilmSides(laterality="L")
    # A lateral film (anterior-posterior across), a bilateral film, one value or junk: nothing known.
    for orientation, laterality in ((["A", "F"], "B"), (["L"], None), (42, None), ("", "U")):
        assert FilmSides.from_header(orientation, laterality) is None


def test_header_sides_follow_the_direction_the_image_runs() -> None:
    standard = with_header_sides(BILATERAL, FilmSides(across="L"))  # the usual display
    assert _sides(standard) == [("right", "header"), ("left", "header")]
    mirrored = with_header_sides(BILATERAL, FilmSides(across="R"))
    assert _sides(mirrored) == [("left", "header"), ("right", "header")]
    # A bilateral film stored sideways: the rows of the image run head to foot, the columns
    # towards the patient's right, so the knee at the bottom is the right one.
    assert _sides(with_header_sides(SIDEWAYS, FilmSides(across="H", down="R"))) == [("left", "header"), ("right", "header")]
    # Orientation says nothing about a lone joint; laterality does, and only for it.
    assert _sides(with_header_sides(SINGLE, FilmSides(across="L"))) == [(None, None)]
    assert _sides(with_header_sides(SINGLE, FilmSides(laterality="L"))) == [("left", "header")]
    assert _sides(with_header_sides(BILATERAL, FilmSides(laterality="L"))) == [(None, None), (None, None)]
    assert with_header_sides(None, FilmSides(across="L")) is None
    assert with_header_sides(BILATERAL, None) == BILATERAL


def test_the_doctors_choice_overrides_the_header_and_can_be_read_back() -> None:
    header = with_header_sides(BILATERAL, FilmSides(across="L"))
    assert with_user_sides(header, None) == header
    chosen = with_user_sides(header, {"image_left": "left", "image_right": "right"})
    assert _sides(chosen) == [("left", "user"), ("right", "user")]
    unstated = with_user_sides(header, {"image_left": None, "image_right": None})
    assert _sides(unstated) == [(None, "user"), (None, "user")]
    assert user_choice(unstated) == {"image_left": None, "image_right": None}
    assert user_choice(header) is None and user_choice(None) is None
    # Stored and read back (saved studies, the command line's JSON) without losing who said it.
    assert tuple(JointRegion.from_dict(j.to_dict()) for j in chosen) == chosen
    old = {"box": [1, 2, 3, 4], "score": 0.5, "side": "image_left"}  # stored before sides were named
    assert (JointRegion.from_dict(old).patient_side, JointRegion.from_dict(old).sided_by) == (None, None)
    assert JointRegion.from_dict({**old, "patient_side": "middle", "sided_by": "guess"}).patient_side is None


def test_the_clinics_standard_display_names_only_the_two_knees_of_an_upright_film() -> None:
    standard = with_clinic_display(BILATERAL, STANDARD_DISPLAY)
    assert _sides(standard) == [("right", "clinic"), ("left", "clinic")]
    assert sides_named_by(standard) == "clinic"
    assert sides_summary(standard) == "image left: right knee, image right: left knee (clinic's standard display)"
    # No display says which knee a lone joint is, and a film read turned is no longer shown
    # the way the convention speaks of; without a convention nothing changes.
    assert with_clinic_display(SINGLE, STANDARD_DISPLAY) == SINGLE
    assert with_clinic_display(SIDEWAYS, STANDARD_DISPLAY) == SIDEWAYS
    # Only the direction across the image counts, whatever else the display value holds.
    assert with_clinic_display(SINGLE, FilmSides(across="L", laterality="L")) == SINGLE
    assert with_clinic_display(SIDEWAYS, FilmSides(across="L", down="R")) == SIDEWAYS
    assert with_clinic_display(BILATERAL, None) == BILATERAL
    assert with_clinic_display(None, STANDARD_DISPLAY) is None
    # The doctor's choice (the film's marker) overrides it, "not stated" included, and who
    # named the knees survives storing.
    assert _sides(with_user_sides(standard, {"image_left": "left", "image_right": "right"})) == [("left", "user"), ("right", "user")]
    assert sides_named_by(with_user_sides(standard, {"image_left": None, "image_right": None})) is None
    assert tuple(JointRegion.from_dict(j.to_dict()) for j in standard) == standard
    assert sides_named_by(with_header_sides(BILATERAL, FilmSides(across="L"))) == "header"


def test_choices_name_every_way_the_joints_can_be_the_patients_knees() -> None:
    assert side_choices(()) == []
    two = side_choices(BILATERAL)
    assert [c.text for c in two] == [
        NOT_STATED,
        "Right knee: image left, left knee: image right",
        "Right knee: image right, left knee: image left",
    ]
    assert two[1].sides == {"image_left": "right", "image_right": "left"}
    assert two[2].sides == {"image_right": "right", "image_left": "left"}
    one = side_choices(SINGLE)
    assert [(c.text, c.sides) for c in one[1:]] == [("Right knee", {"single": "right"}), ("Left knee", {"single": "left"})]


def test_names_carry_the_patients_side_once_it_is_known() -> None:
    sided = with_user_sides(BILATERAL, {"image_left": "right", "image_right": "left"})
    assert side_label("image_left") == "image left" and joint_heading("image_left") == "Knee on image left"
    assert side_label("image_left", "right") == "right knee (image left)"
    assert joint_heading("image_left", "right") == "Right knee (image left)"
    assert joint_heading("single", "left") == "Left knee" and side_label("single", "left") == "left knee"
    assert [box_label(j) for j in sided] == ["right knee", "left knee"]
    assert [box_label(j) for j in BILATERAL] == ["image left", "image right"]
    assert patient_sides(sided) == {"image_left": "right", "image_right": "left"}
    assert patient_sides(BILATERAL) == {} and patient_sides(None) == {}
