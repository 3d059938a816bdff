"""Knee joints in the window: boxes in the viewer, results grouped per joint, the no-joint
notice, and the joints kept with a saved study, its reopening and its report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QLabel

from desktop.core.joint_regions import NO_JOINT_NOTICE, JointRegion
from desktop.inference import regional
from desktop.inference.registry import ModelRegistry
from desktop.ui import main_window
from desktop.ui.clinic_settings import ClinicSettings, load_clinic_settings, save_clinic_settings
from desktop.ui.formatting import percent
from desktop.ui.qimages import qimage_to_array
from desktop.ui.report.content import report_content
from desktop.ui.report.render import report_images
from desktop.ui.settings_dialog import SettingsDialog
from tests.fixtures.fake_locator import ScriptedJoints, bilateral_film, halves, with_locator
from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.fixtures.tiny_models import make_tiny_model_dir, write_png
from tests.gui.helpers import make_app, plain_image, render_scene

OA = {"id": "oa", "name": "Radiographic OA", "labels": ["Normal", "Osteoarthritis"], "positive_classes": ["2", "3", "4"]}
LEFT, RIGHT = QRectF(0, 0, 64, 64), QRectF(96, 0, 64, 64)  # x, y, width, height of the two joints


@pytest.fixture(scope="module")
def knee_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    root = tmp_path_factory.mktemp("knee_gui_models")
    make_tiny_model_dir(root, model_id="tiny_chest")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=("0", "1", "2", "3", "4"), task="ordinal",
                        derived_outputs=[OA], region="knee_joint")
    return with_locator(ModelRegistry.discover(root))


@pytest.fixture()
def joints(monkeypatch: pytest.MonkeyPatch) -> ScriptedJoints:
    scripted = ScriptedJoints(halves)
    monkeypatch.setattr(regional, "locate_knee_joints", scripted)
    return scripted


def _open_knee_film(app, path: Path) -> None:
    app.window.panel.set_body_part("knee")  # no guard installed: the study type is the user's
    app.controller.open_file(path)


def _is_box_colour(pixel: np.ndarray) -> bool:
    r, g, b = (int(v) for v in pixel[:3])
    return r > 200 and b > 160 and g < 130


def _box_colour_near(rendered: np.ndarray, x: float, y: float) -> bool:
    col, row = int(round(x)), int(round(y))
    patch = rendered[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].reshape(-1, 4)
    return any(_is_box_colour(p) for p in patch)


def _rects_match(a: QRectF, b: QRectF) -> bool:
    return all(abs(x - y) < 1e-6 for x, y in zip(a.getRect(), b.getRect()))


def test_viewer_outlines_each_joint_at_any_zoom_and_rotation(qtbot, knee_registry, settings, tmp_path: Path,
                                                             joints: ScriptedJoints) -> None:
    app = make_app(qtbot, knee_registry, settings)
    _open_knee_film(app, write_png(tmp_path / "film.png", bilateral_film()))
    view = app.window.view
    boxes = view.joint_boxes.items
    assert view.joint_boxes.labels() == ["image left", "image right"]
    assert [box.rect() for box in boxes] == [LEFT, RIGHT]
    assert all(box.parentItem() is view.image_item for box in boxes)
    assert app.controller.outcome.joints == (JointRegion((0, 0, 64, 64), 0.9, "image_left"),
                                             JointRegion((0, 96, 64, 64), 0.8, "image_right"))

    view.set_heatmap_visible(False)  # look at the outlines alone
    for turn in range(2):
        rendered = render_scene(view)
        origin = view.image_item.sceneBoundingRect().topLeft()
        for rect in (LEFT, RIGHT):
            # Points on the left and bottom edges, away from the label tab at the top-left corner.
            for point in (QPointF(rect.left() + 0.5, 45), QPointF(rect.center().x(), rect.bottom() - 0.5)):
                at = view.image_item.mapToScene(point) - origin
                assert _box_colour_near(rendered, at.x(), at.y()), (turn, rect, point)
        middle = view.image_item.mapToScene(QPointF(80, 45)) - origin  # between the joints: no outline
        assert not _box_colour_near(rendered, middle.x(), middle.y())
        view.zoom_in()
        view.rotate_90()


def test_results_are_grouped_per_joint_and_each_shows_its_heat_map_in_its_box(qtbot, knee_registry, settings,
                                                                               tmp_path: Path, joints: ScriptedJoints) -> None:
    app = make_app(qtbot, knee_registry, settings)
    _open_knee_film(app, write_png(tmp_path / "film.png", bilateral_film()))
    panel, view = app.window.panel, app.window.view
    groups = panel.results.groups()
    assert [(heading, [(c.prediction.model_id, c.label_widget.text()) for c in cards]) for heading, cards in groups] == [
        ("Knee on image left", [("tiny_knee", "Grade 4")]),
        ("Knee on image right", [("tiny_knee", "Grade 0")]),
    ]
    def shown_headings() -> list[str]:
        return [w.text() for w in panel.results.findChildren(QLabel, "jointHeading") if w.isVisibleTo(panel)]

    # Widgets added to a shown panel appear on the next turn of the event loop.
    qtbot.waitUntil(lambda: shown_headings() == ["Knee on image left", "Knee on image right"], timeout=2000)
    assert panel.body_part_warning_text == ""

    # The first joint's map is shown, stretched over its box only.
    heat = view.heatmap_item
    left_card, right_card = (cards[0] for _, cards in groups)
    assert view.heatmap is left_card.prediction.heatmap and heat.isVisible()
    assert _rects_match(heat.sceneBoundingRect(), view.image_item.mapRectToScene(LEFT))
    assert left_card.property("selected") is True and right_card.property("selected") is False

    qtbot.mouseClick(right_card, Qt.MouseButton.LeftButton)  # select the other knee's result
    assert panel.heatmap_model_id == "tiny_knee@image_right"
    assert view.heatmap is right_card.prediction.heatmap
    assert _rects_match(heat.sceneBoundingRect(), view.image_item.mapRectToScene(RIGHT))
    assert right_card.property("selected") is True and left_card.property("selected") is False
    widths = [box.pen().widthF() for box in view.joint_boxes.items]
    assert widths[1] > widths[0]  # the selected joint's outline stands out
    view.rotate_90()
    assert _rects_match(heat.sceneBoundingRect(), view.image_item.mapRectToScene(RIGHT))


def test_no_joint_found_says_so_and_runs_no_knee_model(qtbot, knee_registry, settings, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regional, "locate_knee_joints", ScriptedJoints(lambda _pixels: []))
    app = make_app(qtbot, knee_registry, settings)
    _open_knee_film(app, write_png(tmp_path / "film.png", bilateral_film()))
    panel = app.window.panel
    assert panel.results.cards() == [] and panel.results.status_text == NO_JOINT_NOTICE
    assert panel.body_part_banner.isVisible() and panel.body_part_banner.kind == "warning"
    assert panel.body_part_warning_text == f"Warning: {NO_JOINT_NOTICE}"
    assert app.window.view.joint_boxes.items == [] and not app.window.view.has_heatmap


def test_joints_are_saved_reopened_and_printed_per_joint(qtbot, knee_registry, settings, tmp_path: Path,
                                                          joints: ScriptedJoints) -> None:
    script = ScriptedPrompts()
    app = make_records_app(qtbot, knee_registry, settings, script)
    _open_knee_film(app, write_png(tmp_path / "film.png", bilateral_film()))
    record = app.records.save()
    assert len(record.knee_joints) == 2
    assert [(p.region_side, p.region) for p in record.predictions] == [("image_left", (0, 0, 64, 64)),
                                                                       ("image_right", (0, 96, 64, 64))]

    app.controller.open_file(plain_image(tmp_path / "other.png", value=0.0))  # another study, no joint on it
    assert app.window.view.joint_boxes.items == []
    assert app.records.reopen(record.key)
    view = app.window.view
    assert [box.rect() for box in view.joint_boxes.items] == [LEFT, RIGHT]
    assert [heading for heading, _ in app.window.panel.results.groups()] == ["Knee on image left", "Knee on image right"]
    assert _rects_match(view.heatmap_item.sceneBoundingRect(), view.image_item.mapRectToScene(LEFT))

    content = report_content(record, clinic=ClinicSettings(), generated_at=record.created_at)
    assert [(row.joint, row.model, row.result) for row in content.findings] == [
        ("Knee on image left", "Tiny knee test model", "Grade 4"),
        ("Knee on image left", "Radiographic OA", "Osteoarthritis"),
        ("Knee on image right", "Tiny knee test model", "Grade 0"),
        ("Knee on image right", "Radiographic OA", "Normal"),
    ]
    assert dict(content.study_rows)["Knee joints"] == (
        "2 found (image left, image right), outlined on the images; named by place on the image (sides not stated)")
    # Both knees' maps are printed, each named with the result it explains.
    assert "\u201cGrade 4\u201d (knee on image left), \u201cGrade 0\u201d (knee on image right)" in content.heatmap_caption
    assert len(content.model_notes) == 1  # one model, however many joints it read

    pixels = app.controller.image.pixels
    images = report_images(record, pixels)
    for picture in (images.radiograph, images.overlay):
        drawn = qimage_to_array(picture.convertToFormat(picture.Format.Format_RGBA8888))
        scale = picture.width() / pixels.shape[1]
        assert _box_colour_near(drawn, 96 * scale, 50 * scale) and _box_colour_near(drawn, 63 * scale, 50 * scale)
        assert not _box_colour_near(drawn, 80 * scale, 50 * scale)
    # Each knee's heat map lies inside its own box: coloured on both knees, grey between them.
    overlay = qimage_to_array(images.overlay.convertToFormat(images.overlay.Format.Format_RGBA8888)).astype(int)
    scale = images.overlay.width() / pixels.shape[1]
    between = overlay[int(32 * scale), int(80 * scale), :3]
    assert between.max() - between.min() <= 2
    for column in (32, 128):
        on_knee = overlay[int(32 * scale), int(column * scale), :3]
        assert on_knee.max() - on_knee.min() > 40, column

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("poppler-utils not installed")
    script.paths.append(str(tmp_path / "report.pdf"))
    target = app.records.reports.export_pdf()
    # -layout keeps table rows in reading order (spanning heading rows otherwise come out last).
    text = subprocess.run([pdftotext, "-layout", str(target), "-"], capture_output=True, text=True, check=True).stdout
    lines = [" ".join(line.split()) for line in text[text.index("Decision rule"):].splitlines() if line.strip()]
    left, right = record.predictions
    assert lines[1:7] == [
        "Knee on image left",
        f"Tiny knee test model Grade 4 {percent(left.label_probability)} most probable class 1.0.0",
        f"– Radiographic OA Osteoarthritis {percent(left.derived[0].probability)} Osteoarthritis if 50% or more",
        "Knee on image right",
        f"Tiny knee test model Grade 0 {percent(right.label_probability)} most probable class 1.0.0",
        f"– Radiographic OA Normal {percent(right.derived[0].probability)} Osteoarthritis if 50% or more",
    ]


def _pick_sides(app, text: str) -> None:
    """Choose an entry of the Study box's knee-sides list as a user does (``activated``)."""
    combo = app.window.panel.knee_sides.combo
    index = combo.findText(text)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_the_doctor_names_the_knees_and_the_study_keeps_them(qtbot, knee_registry, settings, tmp_path: Path,
                                                             joints: ScriptedJoints) -> None:
    script = ScriptedPrompts()
    app = make_records_app(qtbot, knee_registry, settings, script)
    _open_knee_film(app, write_png(tmp_path / "film.png", bilateral_film()))
    picker, results = app.window.panel.knee_sides, app.window.panel.results
    assert picker.isVisible() and picker.combo.currentText().startswith("Not stated") and not picker.source.isVisible()
    record = app.records.save()
    assert not app.records.is_dirty

    # The film's marker shows the patient's right knee on the image's right (a mirrored export).
    _pick_sides(app, "Right knee: image right, left knee: image left")
    assert [heading for heading, _ in results.groups()] == ["Left knee (image left)", "Right knee (image right)"]
    assert app.window.view.joint_boxes.labels() == ["left knee", "right knee"]
    assert app.window.panel.heatmap_model.currentText() == "Tiny knee test model \u2014 left knee (image left)"
    assert app.records.is_dirty  # a choice of the doctor's, like a note: not saved yet
    assert app.records.unsaved_study().knee_sides == {"image_left": "left", "image_right": "right"}
    # Analysing again (another study type and back) keeps the doctor's choice.
    app.window.panel.set_body_part("chest")
    app.window.panel.set_body_part("knee")
    assert [heading for heading, _ in results.groups()] == ["Left knee (image left)", "Right knee (image right)"]

    record = app.records.save()
    assert [(j.patient_side, j.sided_by) for j in record.knee_joints] == [("left", "user"), ("right", "user")]
    app.controller.open_file(plain_image(tmp_path / "other.png", value=0.0))
    assert not app.window.panel.knee_sides.isVisible()  # no joint on that one
    assert app.records.reopen(record.key)
    assert picker.combo.currentText() == "Right knee: image right, left knee: image left"
    assert [heading for heading, _ in results.groups()] == ["Left knee (image left)", "Right knee (image right)"]
    assert not app.records.is_dirty

    content = report_content(app.records.store.get_study(record.key), clinic=ClinicSettings(),
                             generated_at=record.created_at)
    assert [row.joint for row in content.findings] == ["Left knee (image left)"] * 2 + ["Right knee (image right)"] * 2
    assert dict(content.study_rows)["Knee joints"] == (
        "2 found, outlined on the images: left knee (image left), right knee (image right); "
        "sides as stated by the doctor")
    assert "(left knee (image left))" in content.heatmap_caption


def test_a_clinic_that_vouches_for_the_standard_display_gets_its_knees_named(
        qtbot, knee_registry, settings, tmp_path: Path, joints: ScriptedJoints, monkeypatch: pytest.MonkeyPatch) -> None:
    save_clinic_settings(settings, ClinicSettings(standard_knee_display=True))
    app = make_records_app(qtbot, knee_registry, settings, ScriptedPrompts())
    app.window.panel.set_body_part("knee")
    app.window.worklist.take_files([write_png(tmp_path / "film.png", bilateral_film()),
                                    write_png(tmp_path / "next.png", bilateral_film())])
    panel, worklist = app.window.panel, app.window.worklist.worklist
    assert [row.findings.line.startswith("right knee (image left): Grade") for row in worklist.entries] == [True, True]
    assert [heading for heading, _ in panel.results.groups()] == ["Right knee (image left)", "Left knee (image right)"]
    assert panel.knee_sides.combo.currentText() == "Right knee: image left, left knee: image right"
    assert panel.knee_sides.source.isVisible() and "Clinic Settings" in panel.knee_sides.source.text()
    assert not app.records.is_dirty  # named by a setting, like a header: a result, not an edit
    record = app.records.save()
    assert [(j.patient_side, j.sided_by) for j in record.knee_joints] == [("right", "clinic"), ("left", "clinic")]
    content = report_content(app.records.store.get_study(record.key), clinic=ClinicSettings(), generated_at=record.created_at)
    assert dict(content.study_rows)["Knee joints"] == (
        "2 found, outlined on the images: right knee (image left), left knee (image right); "
        "sides by the clinic's standard display, not read from this film")

    # Switched off in File > Clinic Settings: the next analysis names the knees by place again.
    class Untick(SettingsDialog):
        def exec(self) -> int:
            self.standard_knee_display.setChecked(False)
            return SettingsDialog.DialogCode.Accepted

    monkeypatch.setattr(main_window, "SettingsDialog", Untick)
    app.window.edit_clinic_settings()
    assert not load_clinic_settings(settings).standard_knee_display
    assert panel.knee_sides.combo.currentText() == "Right knee: image left, left knee: image right"  # shown results stay
    app.controller.analyse()
    assert [heading for heading, _ in panel.results.groups()] == ["Knee on image left", "Knee on image right"]
    assert not panel.knee_sides.source.isVisible()


def test_a_dicom_header_names_the_knees_until_the_doctor_says_otherwise(qtbot, knee_registry, settings, tmp_path: Path,
                                                                       joints: ScriptedJoints) -> None:
    from pydicom import uid
    from pydicom.dataset import FileDataset, FileMetaDataset

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    path = tmp_path / "knees.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = uid.DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = uid.generate_uid()
    ds.Modality = "DX"
    ds.set_pixel_data(np.round(bilateral_film() * 4095).astype(np.uint16), "MONOCHROME2", 12)
    ds.PatientOrientation = ["L", "F"]  # rows run towards the patient's left: the usual display
    ds.save_as(path, enforce_file_format=True)

    app = make_records_app(qtbot, knee_registry, settings, ScriptedPrompts())
    app.window.panel.set_body_part("knee")
    app.window.worklist.take_files([path, write_png(tmp_path / "next.png", bilateral_film())])
    row = app.window.worklist.worklist.entries[0]
    assert row.findings.line.startswith("right knee (image left): Grade")
    panel = app.window.panel
    assert panel.info.value("Sides") == "patient's right on the image left"
    assert [heading for heading, _ in panel.results.groups()] == ["Right knee (image left)", "Left knee (image right)"]
    assert panel.knee_sides.combo.currentText() == "Right knee: image left, left knee: image right"
    assert panel.knee_sides.source.isVisible() and not app.records.is_dirty  # the header's sides are a result
    _pick_sides(app, "Not stated (named by place on the image)")
    assert [heading for heading, _ in panel.results.groups()] == ["Knee on image left", "Knee on image right"]
    assert app.window.view.joint_boxes.labels() == ["image left", "image right"]
    assert not panel.knee_sides.source.isVisible() and app.records.is_dirty
    assert app.window.worklist.worklist.entries[0].findings.line.startswith("image left: Grade")  # the row follows
