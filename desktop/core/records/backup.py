"""Backing up the records: one zip with the database and every image the studies refer to.

A clinic without internet has no cloud copy; a backup on a USB stick is what stands between a
failed disk and every patient's history. The zip holds a consistent copy of the database
(SQLite's online backup, of one moment even while another window saves) and the archived
images that copy refers to. It is checked before it is given its name: the zip
reads back, the database copy passes SQLite's integrity check with the same number of
studies, and every image's bytes still hash to the value its study recorded. A failed or
interrupted backup leaves no file under the chosen name.

Restoring is deliberately manual (see the README): unzip into an empty data folder while the
app is closed, so a restore can never overwrite records by accident.

Two steps, because the database connection belongs to the thread that opened it while the
zipping may take minutes: :func:`prepare_backup` on that thread, :func:`write_backup` on any.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from desktop.core.files import stream_sha256
from desktop.core.records.sqlite_store import DATABASE_NAME
from desktop.core.records.store import RecordStore
from desktop.core.records.values import RecordError

__all__ = ["BackupPlan", "BackupSummary", "prepare_backup", "write_backup"]

@dataclass(frozen=True)
class BackupPlan:
    """What goes into the zip, fixed at one moment of the database."""

    workdir: Path  # a temporary folder holding the database copy; removed by write_backup
    database_copy: Path
    root: Path  # the store's folder: image paths are relative to it
    images: tuple[tuple[str, str], ...]  # (relative path, sha256)
    studies: int


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    studies: int
    images: int
    size_bytes: int


def prepare_backup(store: RecordStore) -> BackupPlan:
    """Copy the database (on the store's own thread); fast, the images are not touched yet."""
    workdir = Path(tempfile.mkdtemp(prefix="xraydesk-backup-"))
    database_copy = workdir / DATABASE_NAME
    try:
        store.backup_database(database_copy)
        # What to archive is read from the copy itself, so the images match the database in the zip.
        copy = sqlite3.connect(database_copy)
        try:
            studies = copy.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
            images = tuple(copy.execute("SELECT DISTINCT image_path, image_sha256 FROM studies").fetchall())
        finally:
            copy.close()
    except (sqlite3.Error, OSError) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RecordError(f"The records database could not be copied: {exc}.") from exc
    return BackupPlan(workdir=workdir, database_copy=database_copy, root=store.root, images=images, studies=int(studies))


@contextmanager
def _read_back(archive: zipfile.ZipFile, name: str) -> Iterator[IO[bytes]]:
    """One member of the written zip, opened for reading; reading it to its end also checks
    its CRC (zipfile raises BadZipFile), so every member is read once, not tested and then read."""
    try:
        with archive.open(name) as member:
            yield member
    except zipfile.BadZipFile as exc:
        raise RecordError(f"the backup's copy of {name} does not read back") from exc


def _verify(zip_path: Path, plan: BackupPlan) -> None:
    """Read the written zip back: database intact with every study, every image unchanged.
    The zip holds exactly these members, so each is read once."""
    with zipfile.ZipFile(zip_path) as archive:
        check = plan.workdir / "check.sqlite3"
        with _read_back(archive, DATABASE_NAME) as source, open(check, "wb") as target:
            shutil.copyfileobj(source, target)
        for relative, sha256 in plan.images:
            with _read_back(archive, relative) as image:
                if stream_sha256(image) != sha256:
                    raise RecordError(f"the backup's copy of {relative} differs from the study's image")
    db = sqlite3.connect(check)
    try:
        status = db.execute("PRAGMA integrity_check").fetchone()[0]
        studies = db.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
    finally:
        db.close()
    if status != "ok" or studies != plan.studies:
        raise RecordError(f"the backup's database is not complete ({status}; {studies} of {plan.studies} studies)")


def write_backup(plan: BackupPlan, target: str | os.PathLike[str]) -> BackupSummary:
    """Zip the plan's database copy and images to ``target`` and verify it (any thread)."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(plan.database_copy, DATABASE_NAME)
            for relative, _sha256_recorded in plan.images:
                source = plan.root / relative
                if not source.is_file():
                    raise RecordError(f"the archived image {relative} is missing")
                # Images are already compressed: storing them saves time and loses nothing.
                archive.write(source, relative, compress_type=zipfile.ZIP_STORED)
        _verify(partial, plan)
        os.replace(partial, target)
    except (RecordError, OSError, sqlite3.Error, zipfile.BadZipFile) as exc:
        raise RecordError(f"The backup was not written: {exc}.") from exc
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(plan.workdir, ignore_errors=True)
    return BackupSummary(path=target, studies=plan.studies, images=len(plan.images), size_bytes=target.stat().st_size)
