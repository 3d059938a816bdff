"""Small file helpers shared by the records, their backup, the recovery folder, the worklist and
the model registry: a content hash read in chunks, a copy checked against the hash it should
have, and a write that a power cut cannot leave half done."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["copy_verified", "file_sha256", "stream_sha256", "write_text_durably"]

_CHUNK = 1 << 20  # 1 MiB: large models and films never sit in memory twice


def stream_sha256(handle: BinaryIO) -> str:
    """Hex sha256 of what is left to read in a binary file object (a file, a zip member)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes. Raises OSError."""
    with open(path, "rb") as handle:
        return stream_sha256(handle)


def copy_verified(source: Path, target: Path, sha256: str, *, temporary: Path | None = None) -> bool:
    """Copy ``source`` to ``target`` through ``temporary`` (default: beside ``target``), hashing
    the bytes as they are copied and flushing them to the disk. ``target`` appears only when the
    bytes hash to ``sha256``; False, with nothing written, when they do not (the file changed
    since it was read). Raises OSError."""
    temporary = temporary or target.with_name(target.name + ".tmp")
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as reader, open(temporary, "wb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        if digest.hexdigest() != sha256.lower():
            return False
        os.replace(temporary, target)
        return True
    finally:
        temporary.unlink(missing_ok=True)


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
