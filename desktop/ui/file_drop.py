"""Drag and drop of local files onto any part of the window.

One event filter, installed on the window and on the viewer's viewport (which would otherwise
swallow drags for its graphics scene), accepts drags that carry local file URLs and ignores
everything else (text, web links), so a stray drop never does anything surprising.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QMimeData, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

__all__ = ["FileDropFilter", "local_paths"]

log = logging.getLogger(__name__)


def local_paths(mime: QMimeData | None) -> list[str]:
    """Local file paths carried by a drag, in order; empty for anything else."""
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class FileDropFilter(QObject):
    """Turns drops of local files on the watched widgets into ``files_dropped``."""

    files_dropped = Signal(list)  # list[str], first one is opened

    def watch(self, widget: QWidget) -> None:
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, (QDragEnterEvent, QDragMoveEvent))
            if local_paths(event.mimeData()):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            paths = local_paths(event.mimeData())
            if not paths:
                event.ignore()
                return True
            event.acceptProposedAction()
            log.info("dropped %d file(s)", len(paths))
            self.files_dropped.emit(paths)
            return True
        return super().eventFilter(watched, event)
