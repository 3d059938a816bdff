"""Content-addressed copies of the studied images: ``<root>/images/<sha256>.<ext>``.

A study must not depend on the user's original file, which can be moved, edited or deleted;
so saving copies the bytes. The copy is written to a temporary name, flushed to disk, then
renamed: a crash leaves either no file or a complete one, never a truncated file under the
final name. A copy whose study never committed is an orphan: harmless (its name is its hash)
and removed by :meth:`ImageArchive.remove_orphans` when the store next opens.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from desktop.core.files import copy_verified, file_sha256
from desktop.core.imaging import XRayImage, load_image
from desktop.core.records.values import RecordError

if TYPE_CHECKING:
    from desktop.core.records.values import StudyRecord

__all__ = ["ImageArchive", "extension_for", "load_archived_image"]

log = logging.getLogger(__name__)

IMAGES_FOLDER = "images"
_TEMP_SUFFIX = ".partial"
# Decoded format -> suffix of the copy. By format, not by the original name: PACS exports
# often have no suffix at all, and a stored copy should say what it is.
_EXTENSIONS = {"DICOM": "dcm", "PNG": "png", "JPEG": "jpg", "TIFF": "tif", "BMP": "bmp", "GIF": "gif"}


def extension_for(image_format: str) -> str:
    return _EXTENSIONS.get(image_format.upper(), "bin")


def load_archived_image(record: StudyRecord) -> XRayImage:
    """A stored study's archived image, refused when its bytes no longer match the study.

    Raises ``ImageLoadError`` when it cannot be decoded and ``RecordError`` when it was
    changed on disk: a study is never shown with an image it was not made on."""
    image = load_image(record.image_path)
    if image.sha256 != record.image_sha256:
        raise RecordError(f"The archived image of {record.report_id} was changed on disk; it is not shown.")
    return image


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable. POSIX only: Windows cannot open a directory, and NTFS journals
    the rename itself."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageArchive:
    """Writes, finds and tidies the archived image copies under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.folder = self.root / IMAGES_FOLDER

    def relative_path(self, sha256: str, image_format: str) -> str:
        """Where a copy lives, relative to ``root`` (the form stored in the database)."""
        return f"{IMAGES_FOLDER}/{sha256.lower()}.{extension_for(image_format)}"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def store(self, source: Path, *, sha256: str, image_format: str) -> str:
        """Copy ``source`` in (once per content) and return its relative path.

        The bytes are hashed while copying; if they no longer match ``sha256`` (the file was
        changed after it was opened) nothing is stored and :class:`RecordError` is raised,
        because the study's results belong to the bytes that were analysed.
        """
        relative = self.relative_path(sha256, image_format)
        target = self.absolute(relative)
        if target.is_file():
            # Same content already archived (the rename made it complete). Touch it so a
            # concurrent orphan sweep, which spares recent files, cannot take it from us.
            os.utime(target)
            return relative
        self.folder.mkdir(parents=True, exist_ok=True)
        # The temporary name ends in _TEMP_SUFFIX so an interrupted copy is swept as an orphan.
        temp = target.with_name(f"{target.name}.{os.getpid()}{_TEMP_SUFFIX}")
        try:
            copied = copy_verified(source, target, sha256, temporary=temp)
            if copied:
                _fsync_dir(self.folder)
        except OSError as exc:
            raise RecordError(f"Could not copy '{source.name}' into the records folder: {exc.strerror or exc}.") from exc
        if not copied:
            raise RecordError(f"'{source.name}' changed on disk after it was opened; open it again before saving.")
        log.debug("archived %s as %s", source, relative)
        return relative

    def verify(self, relative: str, sha256: str) -> bool:
        """True when the copy exists and still hashes to ``sha256``."""
        path = self.absolute(relative)
        if not path.is_file():
            return False
        return file_sha256(path) == sha256.lower()

    def remove(self, relative: str) -> None:
        try:
            self.absolute(relative).unlink(missing_ok=True)
        except OSError as exc:  # a locked file is tidied next time; the record is already gone
            log.warning("could not remove %s: %s", relative, exc)

    def remove_orphans(self, referenced: Iterable[str], *, older_than_s: float) -> int:
        """Delete copies no study refers to, and leftover temporary files.

        Only files older than ``older_than_s`` go: another XRayDesk window may be between
        copying an image and committing its study right now.
        """
        if not self.folder.is_dir():
            return 0
        keep = {Path(r).name for r in referenced}
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.folder.iterdir():
            if path.name in keep or not path.is_file():
                continue
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
                removed += 1
            except OSError as exc:
                log.warning("could not remove orphan %s: %s", path, exc)
        if removed:
            log.info("removed %d orphaned image file(s) from %s", removed, self.folder)
        return removed
