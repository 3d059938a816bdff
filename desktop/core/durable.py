"""Writing a small file so that a power cut leaves either the old file or the new one whole."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_text_durably"]


def write_text_durably(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to the disk, then rename it
    over ``path`` (atomic on one file system). Raises OSError."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
