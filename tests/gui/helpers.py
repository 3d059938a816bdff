"""Helpers for the GUI tests: building the app, real drop events, a hand-cranked runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsView, QWidget

from desktop.app import XRayDeskApp, build_app
from desktop.ui.qimages import qimage_to_array
from tests.fixtures.tiny_models import blob_image, write_png

__all__ = ["DeferredTaskRunner", "drop_on", "make_app", "plain_image", "positive_image", "render_scene", "viewport_point"]


def positive_image(path: Path, size: int = 128) -> Path:
    """A PNG the tiny models call positive: dark, with a bright blob in the top-left quarter."""
    return write_png(path, blob_image(size, top=size // 16, left=size // 16, blob=size * 5 // 16))


def plain_image(path: Path, size: int = 96, value: float = 0.2) -> Path:
    """A uniform dark PNG (no blob)."""
    return write_png(path, np.full((size, size), value, dtype=np.float32))


def make_app(qtbot: Any, registry: Any, settings: Any, *, runner: Any = None, show: bool = True) -> XRayDeskApp:
    """The real window on the real services, with a test runner and private settings."""
    from desktop.ui.task_runner import SynchronousTaskRunner

    parts = build_app(registry=registry, runner=runner or SynchronousTaskRunner(), settings=settings)
    qtbot.addWidget(parts.window)
    parts.window.resize(1200, 800)
    if show:
        parts.window.show()
        qtbot.waitExposed(parts.window)
    return parts


def drop_on(widget: QWidget, *, paths: list[Path] | None = None, text: str | None = None) -> tuple[bool, bool]:
    """Send a real QDragEnterEvent then QDropEvent; returns (enter accepted, drop accepted)."""
    mime = QMimeData()
    if paths is not None:
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    if text is not None:
        mime.setText(text)
    centre = widget.rect().center()
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction
    enter = QDragEnterEvent(centre, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(QPointF(centre), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return enter.isAccepted(), drop.isAccepted()


def render_scene(view: QGraphicsView) -> np.ndarray:
    """The scene (image + overlay) drawn at the image's own size, as an RGBA array."""
    rect: QRectF = view.image_item.sceneBoundingRect()
    target = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_RGBA8888)
    target.fill(Qt.GlobalColor.black)
    painter = QPainter(target)
    view.scene().render(painter, QRectF(target.rect()), rect)
    painter.end()
    return qimage_to_array(target)


def viewport_point(view: QGraphicsView, col: float, row: float) -> QPoint:
    """Viewport position of an image pixel centre."""
    scene = view.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    return view.mapFromScene(scene)


class DeferredTaskRunner:
    """Queues tasks; the test decides when (and in which order) each one runs and reports."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]]] = []

    def submit(self, fn: Callable[[], Any], *, on_result: Callable[[Any], None], on_error: Callable[[BaseException], None]) -> int:
        self.queue.append((fn, on_result, on_error))
        return len(self.queue)

    def run(self, index: int = 0) -> Any:
        fn, on_result, on_error = self.queue.pop(index)
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001
            on_error(exc)
            return exc
        on_result(value)
        return value

    def run_all(self) -> None:
        while self.queue:
            self.run(0)

    def shutdown(self, *, timeout_ms: int = 0) -> bool:
        return True


def print_to_pdf(path: Path):
    """A print-dialog answer that accepts and sends the printer's pages to ``path`` as a PDF."""
    def answer(printer) -> bool:  # noqa: ANN001 - QPrinter, imported lazily like the app does
        from PySide6.QtPrintSupport import QPrinter

        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(path))
        return True

    return answer
