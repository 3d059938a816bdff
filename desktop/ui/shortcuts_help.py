"""Help > Keyboard and Mouse: every shortcut of the window's actions and the mouse gestures.

The keyboard table is read from the actions themselves, so it can never disagree with the
menus; the mouse gestures live in the viewer's event handlers and are listed here by hand.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["MOUSE_GESTURES", "shortcuts_html", "show_shortcuts"]

MOUSE_GESTURES = (
    ("Wheel", "zoom in or out about the cursor"),
    ("Left or middle drag", "pan"),
    ("Right drag", "contrast (left-right: window width) and brightness (up-down: level)"),
    ("Shift + left drag", "measure a distance (any left drag while Measure Distance is on; "
                          "with Measure Angle on, two drags draw an angle's two lines); "
                          "starting on a measured line's end moves that end"),
    ("Double-click", "fit the image to the window"),
    ("Click a result", "show that result's heat map (on its knee joint)"),
    ("Drop a file on the window", "open it"),
)


def shortcuts_html(actions: Iterable[QAction]) -> str:
    """Two tables: the actions that have a shortcut, then the mouse gestures."""
    rows = []
    for action in actions:
        # A standard key the platform does not define (Preferences on some desktops) is empty.
        keys = [text for key in action.shortcuts() if (text := key.toString(QKeySequence.SequenceFormat.NativeText))]
        if keys:
            name = action.text().replace("&", "").rstrip("\u2026")
            rows.append(f"<tr><td>{html.escape(name)}</td><td><b>{html.escape(', '.join(keys))}</b></td></tr>")
    gestures = "".join(f"<tr><td>{html.escape(what)}</td><td><b>{html.escape(does)}</b></td></tr>"
                       for what, does in MOUSE_GESTURES)
    return ("<p><b>Keyboard</b></p><table cellspacing='0' cellpadding='3'>" + "".join(rows) + "</table>"
            "<p><b>Mouse (on the image)</b></p><table cellspacing='0' cellpadding='3'>" + gestures + "</table>")


def show_shortcuts(parent: QWidget, actions: Iterable[QAction]) -> None:
    """The modal help box (only ever opened by the user)."""
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard and mouse")
    box.setText(shortcuts_html(actions))
    box.exec()
