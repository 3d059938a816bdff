"""The "Open Recent" list, persisted in ``QSettings``.

The settings object is injected so tests pass one backed by a temporary file and never touch
the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

__all__ = ["MAX_RECENT", "RecentFiles", "app_settings"]


MAX_RECENT = 10
_KEY = "recent_files"


def app_settings() -> QSettings:
    """The application's settings store (organisation and application both "XRayDesk")."""
    return QSettings("XRayDesk", "XRayDesk")


class RecentFiles(QObject):
    """Most-recently-opened first, no duplicates, at most :data:`MAX_RECENT` entries."""

    changed = Signal()

    def __init__(self, settings: QSettings, *, limit: int = MAX_RECENT, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._limit = limit

    def paths(self) -> list[str]:
        value = self._settings.value(_KEY, [])
        # INI-backed QSettings returns a bare string for a one-element list and None for none.
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value if v][: self._limit]

    def add(self, path: str | os.PathLike[str]) -> None:
        entry = str(Path(path).resolve())
        entries = [entry] + [p for p in self.paths() if p != entry]
        self._store(entries[: self._limit])

    def remove(self, path: str | os.PathLike[str]) -> None:
        entry = str(Path(path).resolve())
        self._store([p for p in self.paths() if p != entry])

    def clear(self) -> None:
        self._store([])

    def _store(self, entries: list[str]) -> None:
        self._settings.setValue(_KEY, entries)
        self._settings.sync()
        self.changed.emit()
