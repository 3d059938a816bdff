"""The main window end to end on tiny real models: drops, opening, errors, recent files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from desktop.ui.about import about_html
from desktop.ui.main_window import open_file_filter
from desktop.ui.recent_files import RecentFiles
from desktop.ui.shortcuts_help import shortcuts_html
from tests.gui.helpers import drop_on, make_app, plain_image, positive_image


@pytest.fixture()
def app(qtbot, tiny_registry, settings):
    return make_app(qtbot, tiny_registry, settings)


def test_drop_png_on_viewer_shows_image_and_results(app, tmp_path: Path) -> None:
    image = positive_image(tmp_path / "chest.png")
    enter_ok, drop_ok = drop_on(app.window.view.viewport(), paths=[image])
    assert enter_ok and drop_ok
    window = app.window
    assert window.view.has_image
    assert window.view.displayed_image().width() == 128
    cards = window.panel.results.cards()
    assert [c.prediction.model_id for c in cards] == ["tiny_chest"]
    assert cards[0].label_widget.text() == "PNEUMONIA"
    assert set(cards[0].bars) == {"NORMAL", "PNEUMONIA"}
    assert window.panel.info.value("Format") == "PNG"
    assert window.panel.info.value("Size") == "128 \u00d7 128 px"
    assert "chest.png" in window.windowTitle()
    assert window.view.is_fitted


def test_drop_on_window_itself_and_several_files(app, tmp_path: Path, qtbot) -> None:
    first = positive_image(tmp_path / "first.png")
    second = plain_image(tmp_path / "second.png")
    with qtbot.waitSignal(app.window.worklist.message, check_params_cb=lambda text: "2 files added to the worklist" in text):
        drop_on(app.window, paths=[first, second])
    assert Path(app.controller.image.source_path).name == "first.png"
    assert app.window.worklist_dock.isVisible()


def test_non_file_drop_is_ignored(app) -> None:
    enter_ok, drop_ok = drop_on(app.window.view.viewport(), text="just some text")
    assert not enter_ok and not drop_ok
    assert not app.window.view.has_image
    assert app.window.panel.error_text == ""


def test_open_via_controller_and_study_type_rerun(app, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "knee.png"))
    assert app.window.panel.results.cards()[0].prediction.model_id == "tiny_chest"
    app.window.panel.set_body_part("knee")  # the user picks "Knee" in the combo box
    assert app.controller.body_part == "knee"
    card = app.window.panel.results.cards()[0]
    assert card.prediction.model_id == "tiny_knee"
    assert set(card.bars) == {"0", "1", "2", "3", "4"}
    texts = [w.text() for w in card.findChildren(type(card.label_widget))]
    assert any(t.startswith("Radiographic osteoarthritis (KL \u2265 2): ") for t in texts)
    assert any("Internal test (n=120): accuracy 90.0%" in t for t in texts)
    app.window.panel.set_body_part("other_bone")
    assert app.window.panel.results.cards() == []
    assert "No models are installed for Other bone studies" in app.window.panel.results.status_text
    assert "No models installed" in app.window.panel.models_hint.text()


def test_analyse_button_reruns(app, tmp_path: Path) -> None:
    panel = app.window.panel
    assert not panel.analyse_button.isEnabled()  # nothing open yet
    app.controller.open_file(positive_image(tmp_path / "a.png"))
    assert panel.analyse_button.isEnabled()
    submitted = app.runner.submitted
    panel.analyse_button.click()
    assert app.runner.submitted == submitted + 1
    assert len(panel.results.cards()) == 1


@pytest.mark.parametrize("case", ["text_as_png", "empty", "missing"])
def test_bad_files_show_message_and_keep_previous_image(app, tmp_path: Path, case: str) -> None:
    good = positive_image(tmp_path / "good.png")
    app.controller.open_file(good)
    before = app.window.view.displayed_image()
    bad = tmp_path / "bad.png"
    if case == "text_as_png":
        bad.write_text("this is not an image\n", encoding="utf-8")
    elif case == "empty":
        bad.write_bytes(b"")
    app.controller.open_file(bad)
    window = app.window
    message = window.panel.error_text
    assert "bad.png" in message
    assert window.statusBar().currentMessage() == message
    assert window.view.displayed_image() is before  # the previous image is still shown
    assert Path(app.controller.image.source_path).name == "good.png"
    assert len(window.panel.results.cards()) == 1  # and so are its results
    assert not window.status.is_busy
    assert app.recent.paths()[0].endswith("good.png")


def test_recent_files_updated_and_persisted(app, tmp_path: Path, settings: QSettings) -> None:
    paths = [positive_image(tmp_path / f"r{i}.png", size=64) for i in range(12)]
    for path in paths:
        app.controller.open_file(path)
    menu_paths = app.window.actions.recent_menu.paths()
    assert len(menu_paths) == 10
    assert menu_paths[0].endswith("r11.png") and menu_paths[-1].endswith("r2.png")
    app.controller.open_file(paths[5])  # reopening moves it to the top, without duplicates
    assert app.recent.paths()[0].endswith("r5.png") and len(app.recent.paths()) == 10
    settings.sync()
    reread = RecentFiles(QSettings(settings.fileName(), QSettings.Format.IniFormat))
    assert reread.paths() == app.recent.paths()
    assert Path(settings.fileName()).is_relative_to(tmp_path)
    # Choosing an entry from File > Open Recent opens it.
    app.window.actions.recent_menu.actions()[3].trigger()
    assert Path(app.controller.image.source_path).name == Path(app.recent.paths()[0]).name


def test_view_actions_drive_the_viewer(app, tmp_path: Path) -> None:
    app.controller.open_file(positive_image(tmp_path / "a.png"))
    view, actions = app.window.view, app.window.actions
    fitted = view.zoom
    actions.zoom_in.trigger()
    assert view.zoom == pytest.approx(fitted * 1.25)
    actions.zoom_out.trigger()
    actions.zoom_out.trigger()
    assert view.zoom == pytest.approx(fitted / 1.25)
    actions.actual_size.trigger()
    assert view.zoom == pytest.approx(1.0)
    actions.fit.trigger()
    assert view.zoom == pytest.approx(fitted)
    actions.invert.trigger()
    assert view.inverted and actions.invert.isChecked()
    actions.rotate.trigger()
    assert view.rotation_degrees == 90
    actions.reset_view.trigger()
    assert not view.inverted and not actions.invert.isChecked() and view.rotation_degrees == 0
    assert "Zoom" in app.window.status.zoom_label.text()


def test_single_key_shortcuts(app, tmp_path: Path, qtbot) -> None:
    app.controller.open_file(positive_image(tmp_path / "a.png"))
    window, view = app.window, app.window.view
    window.activateWindow()
    qtbot.waitActive(window)
    view.setFocus()
    fitted = view.zoom
    qtbot.keyClick(view, Qt.Key.Key_I)
    assert view.inverted
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(fitted * 1.25)
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.is_fitted
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert view.rotation_degrees == 90
    qtbot.keyClick(view, Qt.Key.Key_H)
    assert not view.heatmap_item.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.rotation_degrees == 0 and not view.inverted
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.measure_tool.mode == "distance" and window.actions.measure.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_A)  # one measure mode at a time
    assert view.measure_tool.mode == "angle" and not window.actions.measure.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.measure_tool.mode == "distance" and not window.actions.measure_angle.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.measure_tool.mode == "pan"


def test_keyboard_and_mouse_help_lists_every_shortcut(app) -> None:
    actions = app.window.actions
    text = shortcuts_html(actions.all())
    with_keys = [a for a in actions.all() if any(key.toString() for key in a.shortcuts())]
    assert len(with_keys) >= 15 and actions.shortcuts_help in with_keys and actions.about not in with_keys
    for action in with_keys:
        assert action.text().replace("&", "").rstrip("\u2026") in text
    assert "<b>, " not in text  # a standard key this platform leaves undefined is not listed as blank
    assert "Measure Distance</td><td><b>M</b>" in text and "Clear Measurements</td><td><b>Shift+M</b>" in text
    assert "Shift + left drag" in text and "Right drag" in text


def test_about_lists_models_and_disclaimer(tmp_path: Path) -> None:
    from desktop.inference.registry import ModelRegistry
    from tests.fixtures.tiny_models import make_tiny_model_dir

    models = tmp_path / "models"
    make_tiny_model_dir(models, model_id="tiny_chest")
    make_tiny_model_dir(models, model_id="broken", corrupt_hash=True)
    text = about_html(ModelRegistry.discover(models))
    assert "tiny_chest" in text and "available" in text
    assert "broken" in text and "sha256" in text
    assert "not a diagnosis" in text


def test_open_file_filter_offers_dicom_and_all_files() -> None:
    text = open_file_filter()
    for needle in ("*.png", "*.jpg", "*.bmp", "*.tif", "*.dcm", "All files (*)"):
        assert needle in text


def test_study_type_is_remembered(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    first = make_app(qtbot, tiny_registry, settings, show=False)
    first.window.panel.set_body_part("knee")
    second = make_app(qtbot, tiny_registry, settings, show=False)
    assert second.controller.body_part == "knee"
    assert second.window.panel.body_part == "knee"


def test_extensionless_dicom_shows_facts_and_millimetres(app, tmp_path: Path) -> None:
    import numpy as np
    from pydicom import uid
    from pydicom.dataset import FileDataset, FileMetaDataset
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from tests.gui.helpers import viewport_point

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    path = tmp_path / "IM000001"  # PACS exports often have no suffix
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = uid.DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = uid.generate_uid()
    ds.Modality = "DX"
    ds.set_pixel_data((np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) % 4096), "MONOCHROME2", 12)
    ds.PixelSpacing = [0.5, 0.25]
    ds.save_as(path, enforce_file_format=True)

    drop_on(app.window, paths=[path])
    info = app.window.panel.info
    assert info.value("Format") == "DICOM"
    assert info.value("Bit depth") == "12 bits stored"
    assert info.value("Pixel spacing") == "0.500 \u00d7 0.250 mm"
    assert info.value("Field of view") == "20 \u00d7 32 mm"
    view = app.window.view
    point = viewport_point(view, 40, 10)
    QApplication.sendEvent(view.viewport(), QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(point), QPointF(point),
                                                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    assert app.window.status.probe_label.text().startswith("x 40, y 10")
    assert "(10.1, 5.2 mm)" in app.window.status.probe_label.text()
