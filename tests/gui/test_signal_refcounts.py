"""The Qt binding must not leak or steal references on signal emission.

PySide6 6.12.0 dropped one reference to Python's ``True`` on every emitted signal. On Python
3.11, where ``True`` is reference-counted like any object, the app aborted after a few
thousand mouse moves over an image (each move emits the pixel read-out). pyproject.toml keeps
that release out; this test fails with any binding that does it again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from tests.gui.helpers import make_app, positive_image

MOVES = 500


def test_moving_the_mouse_over_an_image_keeps_pythons_true_alive(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    app = make_app(qtbot, tiny_registry, settings)
    app.controller.open_file(positive_image(tmp_path / "chest.png"))
    viewport = app.window.view.viewport()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for step in range(MOVES):
        point = QPointF(40 + step % 200, 40 + step % 150)
        move = QMouseEvent(QEvent.Type.MouseMove, point, point, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, move)
    after = sys.getrefcount(True), sys.getrefcount(False)
    # Objects created meanwhile may hold a few references more or fewer; a binding that drops
    # one per emitted signal loses at least one per move.
    assert after[0] > before[0] - MOVES // 10, f"True lost {before[0] - after[0]} references in {MOVES} moves"
    assert after[1] > before[1] - MOVES // 10, f"False lost {before[1] - after[1]} references in {MOVES} moves"
