"""Facts about the open image: format, size, bit depth, pixel spacing and DICOM fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from desktop.ui.formatting import image_info_rows

if TYPE_CHECKING:
    from desktop.core.imaging import XRayImage

__all__ = ["ImageInfoPanel"]


class ImageInfoPanel(QWidget):
    """A two-column form, refilled whenever a new image is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setHorizontalSpacing(12)
        self._form.setVerticalSpacing(3)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._rows: list[tuple[str, str]] = []
        self.set_image(None)

    def rows(self) -> list[tuple[str, str]]:
        """What is shown, as (label, value) pairs."""
        return list(self._rows)

    def value(self, label: str) -> str | None:
        return dict(self._rows).get(label)

    def set_image(self, image: XRayImage | None) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self._rows = image_info_rows(image) if image is not None else []
        if not self._rows:
            empty = QLabel("No image open.")
            empty.setObjectName("muted")
            self._form.addRow(empty)
            return
        for label, value in self._rows:
            key = QLabel(label)
            key.setObjectName("muted")
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._form.addRow(key, text)
