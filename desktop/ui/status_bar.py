"""Status bar: messages on the left; busy indicator, pixel probe, window/level and zoom on the right."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from desktop.ui.display_mapping import WindowLevel
from desktop.ui.formatting import probe_text
from desktop.ui.pixel_probe import PixelProbe

__all__ = ["AppStatusBar"]

MESSAGE_MS = 8000


class AppStatusBar(QStatusBar):
    """Permanent read-outs plus transient messages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setMaximumHeight(12)
        self.probe_label = QLabel()
        self.window_label = QLabel()
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(70)
        for widget in (self.busy_label, self.busy_bar, self.probe_label, self.window_label, self.zoom_label):
            self.addPermanentWidget(widget)
        self.set_busy(False)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_label.setText(text)
        self.busy_label.setVisible(busy)
        self.busy_bar.setVisible(busy)

    @property
    def is_busy(self) -> bool:
        return not self.busy_bar.isHidden()

    def set_zoom(self, factor: float) -> None:
        self.zoom_label.setText(f"Zoom {factor * 100:.0f}%")

    def set_probe(self, probe: PixelProbe | None) -> None:
        self.probe_label.setText(probe_text(probe))

    def set_window_level(self, window: WindowLevel) -> None:
        self.window_label.setText(f"W {window.width:.2f}  L {window.level:.2f}")

    def show_message(self, text: str) -> None:
        self.showMessage(text, MESSAGE_MS)
