"""The questions the records workflow asks the user, behind one injectable bundle.

Controllers, dialogs and the window call these instead of QMessageBox / QFileDialog directly, so GUI
tests answer them with plain functions and never block on a modal dialog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter

__all__ = ["UNSAVED_CANCEL", "UNSAVED_DISCARD", "UNSAVED_SAVE", "Prompts"]

UNSAVED_SAVE, UNSAVED_DISCARD, UNSAVED_CANCEL = "save", "discard", "cancel"


def ask_unsaved(parent: QWidget | None) -> str:
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved study",
                      "The current study has notes or patient data that are not saved yet.",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText("Save them before continuing?")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return UNSAVED_SAVE
    return UNSAVED_DISCARD if answer == QMessageBox.StandardButton.Discard else UNSAVED_CANCEL


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def save_path(parent: QWidget | None, caption: str, suggested: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, suggested, file_filter)
    return path


def choose_folder(parent: QWidget | None, caption: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, start)


def print_setup(parent: QWidget | None, printer: QPrinter) -> bool:
    from PySide6.QtPrintSupport import QPrintDialog

    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle("Print report")
    return dialog.exec() == QPrintDialog.DialogCode.Accepted


def real_length_mm(parent: QWidget | None) -> float | None:
    """The real length of the line just drawn as a scale reference; None when cancelled."""
    value, accepted = QInputDialog.getDouble(
        parent, "Set scale", "Real length of the newest line (a ruler or a marker of known size), in mm:",
        25.0, 0.1, 2000.0, 1)
    return value if accepted else None


@dataclass(frozen=True)
class Prompts:
    """Each answers one question; the defaults show the native dialogs."""

    ask_unsaved: Callable[[QWidget | None], str] = ask_unsaved  # UNSAVED_SAVE / _DISCARD / _CANCEL
    confirm: Callable[[QWidget | None, str, str], bool] = confirm
    save_path: Callable[[QWidget | None, str, str, str], str] = save_path  # '' when cancelled
    choose_folder: Callable[[QWidget | None, str, str], str] = choose_folder  # '' when cancelled
    print_setup: Callable[[QWidget | None, QPrinter], bool] = print_setup
    real_length_mm: Callable[[QWidget | None], float | None] = real_length_mm
