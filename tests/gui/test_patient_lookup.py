"""Returning patients: typing part of a stored name or ID offers them; choosing fills the identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.gui.helpers import plain_image, positive_image


@pytest.fixture()
def app(qtbot, tiny_registry, settings):
    return make_records_app(qtbot, tiny_registry, settings, ScriptedPrompts())


def _type(widget: QWidget, text: str) -> None:
    """Key presses carrying the text, as a keyboard layout sends them (QTest types ASCII only)."""
    for char in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char))


def _form(app):
    return app.records._patient.form


def _save_patient(app, image: Path, name: str, patient_id: str, born: str, sex: str) -> None:
    app.controller.open_file(image)
    _form(app).set_values({"patient_name": name, "patient_id": patient_id, "date_of_birth": born, "gender": sex})
    assert app.records.save() is not None


def test_typing_part_of_a_name_offers_the_stored_patient_and_choosing_fills_identity(app, qtbot, tmp_path: Path) -> None:
    _save_patient(app, positive_image(tmp_path / "first.png"), "Амина Коэн", "P-7", "2019-05-02", "female")
    _save_patient(app, plain_image(tmp_path / "other.png"), "John Mensah", "P-8", "1950-01-01", "male")
    app.controller.open_file(plain_image(tmp_path / "follow_up.png", value=0.3))
    form = _form(app)
    assert form.values()["patient_name"] in ("", None)
    name = form.editors["patient_name"]
    name.setFocus()
    _type(name, "амин")  # another case, as typed at the follow-up visit
    completer = name.completer()
    qtbot.waitUntil(completer.popup().isVisible)
    assert completer.completionModel().rowCount() == 1
    assert completer.completionModel().index(0, 0).data() == "Амина Коэн \u00b7 ID P-7 \u00b7 born 2019-05-02 \u00b7 1 study"
    popup = completer.popup()
    popup.setCurrentIndex(completer.completionModel().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    values = form.values()
    assert (values["patient_name"], values["patient_id"], values["date_of_birth"], values["gender"]) == \
        ("Амина Коэн", "P-7", "2019-05-02", "female")
    assert app.records.save().patient.key == app.store.search_patients(text="P-7")[0].patient.key  # same patient


def test_the_id_field_offers_by_id_and_one_letter_offers_nothing(app, qtbot, tmp_path: Path) -> None:
    _save_patient(app, positive_image(tmp_path / "first.png"), "Амина Коэн", "CL-2024-117", "2019-05-02", "female")
    app.controller.open_file(plain_image(tmp_path / "again.png"))
    editor = _form(app).editors["patient_id"]
    editor.setFocus()
    _type(editor, "2")
    assert editor.completer().completionModel().rowCount() == 0
    _type(editor, "024-1")
    assert editor.completer().completionModel().rowCount() == 1
