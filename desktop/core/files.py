"""Small file helpers shared by the records, the recovery folder, the worklist and the model
registry: a content hash read in chunks, and a write that a power cut cannot leave half done."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["file_sha256", "write_text_durably"]

_CHUNK = 1 << 20  # 1 MiB: large models and films never sit in memory twice


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes. Raises OSError."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_text_durably(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to the disk, then rename it
    over ``path`` (atomic on one file system), so a cut leaves the old file or the new one
    whole. Raises OSError."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
