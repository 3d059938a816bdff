"""The viewer: zoom, fit, pan, window/level, invert, rotation, pixel probe and the heat map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop.core.measurement import Distance
from desktop.ui.display_mapping import WindowLevel
from desktop.ui.image_view import ImageView
from desktop.ui.measure_overlay import ANGLE, DISTANCE, PAN, SECOND_LINE_PROMPT
from desktop.ui.qimages import qimage_to_array
from tests.gui.helpers import make_app, positive_image, render_scene, viewport_point


@pytest.fixture()
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    ramp = np.tile(np.linspace(0.0, 1.0, 200, dtype=np.float32), (100, 1))  # left dark, right bright
    widget.set_image(ramp, pixel_spacing_mm=(0.2, 0.1))
    return widget


def _shown(view: ImageView) -> np.ndarray:
    return qimage_to_array(view.displayed_image())[..., 0]


def test_fit_shows_whole_image(view: ImageView) -> None:
    rect = view.mapFromScene(view.image_item.sceneBoundingRect()).boundingRect()
    viewport = view.viewport().rect()
    assert viewport.adjusted(-2, -2, 2, 2).contains(rect)
    # The limiting side (width 200 in a 640-wide view) nearly fills the viewport.
    assert rect.width() >= viewport.width() - 8
    assert view.is_fitted


def test_zoom_in_out_changes_view_scale(view: ImageView) -> None:
    fitted = view.zoom
    view.zoom_in()
    assert view.transform().m11() == pytest.approx(fitted * 1.25)
    assert not view.is_fitted
    view.zoom_out()
    view.zoom_out()
    assert view.transform().m22() == pytest.approx(fitted / 1.25)
    view.actual_size()
    assert view.zoom == pytest.approx(1.0)
    view.fit_to_window()
    assert view.zoom == pytest.approx(fitted)


def test_wheel_zooms_about_the_cursor(view: ImageView) -> None:
    view.set_zoom(6.0)  # image larger than the viewport, so there is room to keep the anchor
    target = viewport_point(view, 120, 40)
    before = view.image_item.mapFromScene(view.mapToScene(target))
    QApplication.sendEvent(view.viewport(), _mouse_move(target))
    wheel = QWheelEvent(QPointF(target), QPointF(view.viewport().mapToGlobal(target)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(6.0 * 1.25**2)
    after = view.image_item.mapFromScene(view.mapToScene(target))
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2


def _mouse_move(pos: QPoint, buttons=Qt.MouseButton.NoButton):
    from PySide6.QtGui import QMouseEvent

    return QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(pos), QPointF(pos), Qt.MouseButton.NoButton, buttons, Qt.KeyboardModifier.NoModifier)


def test_left_drag_pans_when_zoomed(view: ImageView, qtbot) -> None:
    view.set_zoom(6.0)
    start = view.viewport().rect().center()
    centre_before = view.mapToScene(start)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    QApplication.sendEvent(view.viewport(), _mouse_move(start + QPoint(60, 0), Qt.MouseButton.LeftButton))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(60, 0))
    centre_after = view.mapToScene(start)
    assert centre_after.x() == pytest.approx(centre_before.x() - 10, abs=1.5)  # 60 px / zoom 6


def test_right_drag_sets_window_and_level(view: ImageView, qtbot) -> None:
    start = view.viewport().rect().center()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.RightButton, pos=start)
    QApplication.sendEvent(view.viewport(), _mouse_move(start + QPoint(-200, 40), Qt.MouseButton.RightButton))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.RightButton, pos=start + QPoint(-200, 40))
    assert view.window_level.width == pytest.approx(0.5)  # 200 px left halves the window
    assert view.window_level.level == pytest.approx(0.6)  # 40 px down raises the level
    shown = _shown(view)
    assert shown[0, 0] == 0 and shown[0, -1] == 255  # narrower window: more contrast, clipped ends


def test_invert_flips_displayed_pixels(view: ImageView) -> None:
    before = _shown(view).astype(int)
    view.set_inverted(True)
    after = _shown(view).astype(int)
    assert before[50, 0] < 5 and after[50, 0] > 250
    assert np.all(np.abs(before + after - 255) <= 1)
    # And what reaches the screen flips too.
    grab = qimage_to_array(view.viewport().grab().toImage())
    centre_left = view.mapFromScene(view.image_item.mapToScene(QPointF(5, 50)))
    assert grab[centre_left.y(), centre_left.x(), 0] > 200


def test_rotate_keeps_image_in_view_and_reset(view: ImageView) -> None:
    view.rotate_90()
    rect = view.image_item.sceneBoundingRect()
    assert (rect.width(), rect.height()) == pytest.approx((100, 200))
    assert view.sceneRect() == rect
    view.set_window_level(WindowLevel(width=0.3, level=0.4))
    view.reset_view()
    assert view.rotation_degrees == 0 and view.window_level == WindowLevel() and view.is_fitted


def test_probe_reports_value_and_millimetres(view: ImageView) -> None:
    probes = []
    view.probe_changed.connect(probes.append)
    QApplication.sendEvent(view.viewport(), _mouse_move(viewport_point(view, 150, 40)))
    probe = probes[-1]
    assert (probe.col, probe.row) == (150, 40)
    assert probe.value == pytest.approx(150 / 199, abs=1e-3)
    assert probe.x_mm == pytest.approx(15.05) and probe.y_mm == pytest.approx(8.1)
    # A reference line of 20 mm over 100 columns (10 mm by the file) doubles the scale.
    view.measure_tool.set_measurements((Distance((0.0, 10.0), (100.0, 10.0), 20.0),))
    QApplication.sendEvent(view.viewport(), _mouse_move(viewport_point(view, 150, 40)))
    assert probes[-1].x_mm == pytest.approx(30.1) and probes[-1].y_mm == pytest.approx(16.2)


def test_overlay_aligned_toggle_opacity_and_colours(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    parts = make_app(qtbot, tiny_registry, settings)
    parts.controller.open_file(positive_image(tmp_path / "blob.png", size=128))
    view, panel = parts.window.view, parts.window.panel
    heat = view.heatmap_item
    assert view.has_heatmap and heat.isVisible()
    assert heat.topLevelItem() is view.image_item  # inside the image's clipping frame
    image_rect = view.image_item.sceneBoundingRect()
    heat_rect = heat.sceneBoundingRect()
    for a, b in zip(heat_rect.getRect(), image_rect.getRect()):
        assert a == pytest.approx(b, abs=1e-6)
    # Stays aligned through zoom and rotation.
    view.zoom_in()
    view.rotate_90()
    for a, b in zip(heat.sceneBoundingRect().getRect(), view.image_item.sceneBoundingRect().getRect()):
        assert a == pytest.approx(b, abs=1e-6)
    view.reset_view()

    # By pixels: reddish where the blob is (top-left), untouched grey far from it.
    panel.opacity_slider.setValue(100)
    assert heat.opacity() == pytest.approx(1.0)
    rendered = render_scene(view).astype(int)
    top_left = rendered[16:40, 16:40]
    r, g, b = (top_left[..., i].mean() for i in range(3))
    assert r > 150 and r > b + 60, (r, g, b)
    bottom_right = rendered[100:124, 100:124, :3]
    assert np.all(np.abs(bottom_right - bottom_right[..., :1]) <= 2)  # no colour: grey only

    panel.opacity_slider.setValue(30)
    assert heat.opacity() == pytest.approx(0.3)
    assert panel.opacity_label.text() == "30%"
    parts.window.actions.heatmap.trigger()  # H
    assert not heat.isVisible() and not panel.heatmap_check.isChecked()
    no_overlay = render_scene(view)
    assert np.all(np.abs(no_overlay[..., 0].astype(int) - no_overlay[..., 2]) <= 1)
    panel.heatmap_check.setChecked(True)
    assert heat.isVisible() and parts.window.actions.heatmap.isChecked()


def test_heatmap_model_selector_with_several_models(qtbot, settings, tmp_path: Path) -> None:
    from desktop.inference.registry import ModelRegistry
    from tests.fixtures.tiny_models import make_tiny_model_dir

    models = tmp_path / "models"
    make_tiny_model_dir(models, model_id="chest_a")
    make_tiny_model_dir(models, model_id="chest_b", seed=3)
    parts = make_app(qtbot, ModelRegistry.discover(models), settings)
    parts.controller.open_file(positive_image(tmp_path / "blob.png"))
    combo = parts.window.panel.heatmap_model
    assert combo.isVisibleTo(parts.window) and combo.count() == 2
    outcome = parts.controller.outcome
    assert parts.window.view.heatmap is outcome.heatmap_for("chest_a")
    combo.setCurrentIndex(1)
    assert parts.window.panel.heatmap_model_id == "chest_b"
    assert parts.window.view.heatmap is outcome.heatmap_for("chest_b")


def _drag(view: ImageView, qtbot, start: QPoint, end: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, modifier, pos=start)
    QApplication.sendEvent(view.viewport(), _mouse_move(end, Qt.MouseButton.LeftButton))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, modifier, pos=end)


def test_shift_drag_measures_in_millimetres_and_survives_rotation(view: ImageView, qtbot) -> None:
    changes = []
    view.measure_tool.measurements_changed.connect(changes.append)
    _drag(view, qtbot, viewport_point(view, 20, 50), viewport_point(view, 120, 50), Qt.KeyboardModifier.ShiftModifier)
    (line,) = view.measure_tool.measurements
    assert line.length_px == pytest.approx(100, abs=3)
    assert view.measure_tool.labels() == [line.label((0.2, 0.1))] and line.label((0.2, 0.1)).endswith(" mm")
    assert line.length_mm((0.2, 0.1)) == pytest.approx(10.0, abs=0.3)  # 100 columns of 0.1 mm
    assert changes[-1] == view.measure_tool.measurements
    view.rotate_90()
    assert view.measure_tool.measurements == (line,)  # drawn on the image, so turning the view keeps it
    # Without Shift and outside measure mode a left drag pans: no new measurement.
    _drag(view, qtbot, viewport_point(view, 50, 20), viewport_point(view, 50, 80))
    assert len(view.measure_tool.measurements) == 1


def test_measure_mode_tiny_drags_and_clearing(view: ImageView, qtbot) -> None:
    view.set_measure_mode(DISTANCE)
    _drag(view, qtbot, viewport_point(view, 20, 20), viewport_point(view, 21, 21))
    assert view.measure_tool.measurements == ()  # a slipped click is not a measurement
    _drag(view, qtbot, viewport_point(view, 20, 20), viewport_point(view, 20, 90))
    _drag(view, qtbot, viewport_point(view, 150, 10), viewport_point(view, 190, 10))
    assert len(view.measure_tool.measurements) == 2
    view.measure_tool.clear()
    assert view.measure_tool.measurements == () and view.measure_tool.labels() == []
    _drag(view, qtbot, viewport_point(view, 20, 20), viewport_point(view, 20, 90))
    view.set_image(np.zeros((50, 50), dtype=np.float32))  # a new image starts without them
    assert view.measure_tool.measurements == ()
    # Without pixel spacing (a PNG) the label is in pixels.
    _drag(view, qtbot, viewport_point(view, 5, 5), viewport_point(view, 45, 5))
    assert view.measure_tool.labels()[0].endswith(" px")


def test_angle_mode_takes_two_drags_and_undo_drops_a_half_drawn_angle(view: ImageView, qtbot) -> None:
    changes = []
    view.measure_tool.measurements_changed.connect(changes.append)
    view.set_measure_mode(ANGLE)
    _drag(view, qtbot, viewport_point(view, 20, 80), viewport_point(view, 120, 80))
    assert view.measure_tool.measurements == () and changes == []  # half an angle is not a measurement yet
    assert view.measure_tool.draft_label() == SECOND_LINE_PROMPT
    _drag(view, qtbot, viewport_point(view, 60, 60), viewport_point(view, 61, 61))  # a slipped click
    assert view.measure_tool.draft_label() == SECOND_LINE_PROMPT
    _drag(view, qtbot, viewport_point(view, 60, 10), viewport_point(view, 60, 95))
    (angle,) = view.measure_tool.measurements
    # Columns are 0.1 mm and rows 0.2 mm here, yet an upright line stays upright: 90 degrees.
    assert angle.degrees((0.2, 0.1)) == pytest.approx(90.0, abs=2.0)
    assert view.measure_tool.labels() == [angle.label((0.2, 0.1))] and view.measure_tool.draft_label() is None
    assert changes[-1] == (angle,)
    _drag(view, qtbot, viewport_point(view, 20, 40), viewport_point(view, 120, 40))
    view.measure_tool.remove_last()  # takes back the half-drawn angle, not the finished one
    assert view.measure_tool.measurements == (angle,) and view.measure_tool.draft_label() is None
    view.set_measure_mode(PAN)
    _drag(view, qtbot, viewport_point(view, 50, 20), viewport_point(view, 50, 80))
    assert view.measure_tool.measurements == (angle,)


def test_dragging_a_measured_end_corrects_the_line_instead_of_drawing_another(view: ImageView, qtbot) -> None:
    view.set_measure_mode(DISTANCE)
    _drag(view, qtbot, viewport_point(view, 20, 50), viewport_point(view, 120, 50))
    (line,) = view.measure_tool.measurements
    changes = []
    view.measure_tool.measurements_changed.connect(changes.append)
    _drag(view, qtbot, viewport_point(view, 121, 51), viewport_point(view, 160, 50))  # grabs the end, a pixel off
    (moved,) = view.measure_tool.measurements
    assert moved.start == line.start and moved.end[0] == pytest.approx(160, abs=2)
    assert view.measure_tool.labels() == [moved.label((0.2, 0.1))] and changes == [(moved,)]
    view.set_measure_mode(ANGLE)
    _drag(view, qtbot, viewport_point(view, 20, 90), viewport_point(view, 120, 90))
    _drag(view, qtbot, viewport_point(view, 60, 20), viewport_point(view, 60, 60))
    _drag(view, qtbot, viewport_point(view, 60, 60), viewport_point(view, 100, 60))  # the second line's end
    angle = view.measure_tool.measurements[1]
    assert angle.degrees((0.2, 0.1)) == pytest.approx(63.43, abs=3)  # 40 columns wide, 40 rows of twice the size: atan(2)
