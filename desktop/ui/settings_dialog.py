"""File > Clinic Settings…: clinic name, address, logo, default page size, doctor name, and
whether the clinic's knee films always follow the standard display."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QImageReader, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.clinic_settings import PAGE_SIZES, ClinicSettings, import_logo

__all__ = ["SettingsDialog", "choose_logo_file"]

log = logging.getLogger(__name__)

LOGO_PREVIEW_HEIGHT = 48


def choose_logo_file(parent: QWidget) -> str:
    """The native open dialog for a logo picture ('' when cancelled)."""
    formats = " ".join(f"*.{bytes(f).decode()}" for f in QImageReader.supportedImageFormats())
    path, _ = QFileDialog.getOpenFileName(parent, "Choose clinic logo", str(Path.home()), f"Images ({formats})")
    return path


class SettingsDialog(QDialog):
    """Edits a :class:`ClinicSettings`; :meth:`result_settings` gives the accepted values."""

    def __init__(
        self,
        clinic: ClinicSettings,
        *,
        choose_logo: Callable[[QWidget], str] = choose_logo_file,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Clinic Settings")
        self.setMinimumWidth(460)
        self._choose_logo = choose_logo
        self._logo_path = clinic.logo_path
        form = QFormLayout()
        self.name_edit = QLineEdit(clinic.name)
        self.name_edit.setPlaceholderText("Shown at the top of every report")
        form.addRow("Clinic name:", self.name_edit)
        self.address_edit = QPlainTextEdit(clinic.address)
        self.address_edit.setTabChangesFocus(True)
        self.address_edit.setFixedHeight(70)
        form.addRow("Address:", self.address_edit)
        logo_row = QHBoxLayout()
        self.logo_preview = QLabel()
        self.logo_preview.setMinimumHeight(LOGO_PREVIEW_HEIGHT)
        logo_row.addWidget(self.logo_preview, 1)
        self.logo_button = QPushButton("Choose\u2026")
        self.logo_button.clicked.connect(self._pick_logo)
        self.clear_logo_button = QPushButton("Remove")
        self.clear_logo_button.clicked.connect(lambda: self._set_logo(""))
        logo_row.addWidget(self.logo_button)
        logo_row.addWidget(self.clear_logo_button)
        form.addRow("Logo:", logo_row)
        self.page_size = QComboBox()
        self.page_size.addItems(PAGE_SIZES)
        self.page_size.setCurrentText(clinic.page_size)
        form.addRow("Report page size:", self.page_size)
        self.doctor_edit = QLineEdit(clinic.doctor_name)
        self.doctor_edit.setPlaceholderText("Pre-filled on new studies")
        form.addRow("Doctor name:", self.doctor_edit)
        self.standard_knee_display = QCheckBox("Standard display: the patient's right knee on the image's left")
        self.standard_knee_display.setChecked(clinic.standard_knee_display)
        self.standard_knee_display.setToolTip(
            "Tick only if every knee film this clinic opens shows the patient's right knee on the "
            "image's left. A film whose file names its sides (DICOM) follows its file, a one-knee "
            "film stays unnamed, and the doctor can still change the sides of any film."
        )
        form.addRow("Knee sides:", self.standard_knee_display)
        knee_note = QLabel(
            "Tick only if every knee film this clinic opens is shown this way. From the next "
            "analysis on, the two knees of a film whose file does not name its sides are then named "
            "right and left; reports say the sides came from this setting, not from the film's marker."
        )
        knee_note.setObjectName("muted")
        knee_note.setWordWrap(True)
        form.addRow("", knee_note)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._set_logo(clinic.logo_path)

    def _pick_logo(self) -> None:
        chosen = self._choose_logo(self)
        if not chosen:
            return
        if QPixmap(chosen).isNull():
            self._show_error(f"'{Path(chosen).name}' is not a picture XRayDesk can read.")
            return
        try:
            self._set_logo(import_logo(chosen))
        except OSError as exc:
            self._show_error(f"Could not copy the logo: {exc.strerror or exc}.")

    def _set_logo(self, path: str) -> None:
        self._logo_path = path
        pixmap = QPixmap(path) if path else QPixmap()
        if pixmap.isNull():
            self.logo_preview.setText("No logo" if not path else "Logo file missing")
            self.logo_preview.setPixmap(QPixmap())
        else:
            self.logo_preview.setPixmap(pixmap.scaledToHeight(LOGO_PREVIEW_HEIGHT, Qt.TransformationMode.SmoothTransformation))
        self.clear_logo_button.setEnabled(bool(path))
        self.error_label.setVisible(False)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)

    def result_settings(self) -> ClinicSettings:
        return ClinicSettings(
            name=self.name_edit.text().strip(),
            address=self.address_edit.toPlainText().strip(),
            logo_path=self._logo_path,
            page_size=self.page_size.currentText(),
            doctor_name=self.doctor_edit.text().strip(),
            standard_knee_display=self.standard_knee_display.isChecked(),
        )
