"""File > Back Up Records…: ask where, copy the database here, zip and check it off the GUI thread.

The database copy is taken on the GUI thread (the connection belongs to it; it takes
milliseconds). Zipping and checking the images can take minutes on a big archive, so that runs
in the task runner and the window stays usable; the status bar says when it is done.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from desktop.core.records import RecordError
from desktop.core.records.backup import BackupSummary, prepare_backup, write_backup
from desktop.ui.formatting import counted

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from desktop.core.records import RecordStore
    from desktop.ui.prompts import Prompts
    from desktop.ui.task_runner import Runner

__all__ = ["back_up_records", "backup_done_text"]


def backup_done_text(summary: BackupSummary) -> str:
    return (f"Backup of {counted(summary.studies, 'study', 'studies')} ({counted(summary.images, 'image')}, "
            f"{summary.size_bytes / 1e6:.1f} MB) written to {summary.path} and checked.")


def back_up_records(store: RecordStore, *, prompts: Prompts, runner: Runner, parent: QWidget,
                    message: Callable[[str], None], error: Callable[[str], None]) -> bool:
    """Start a backup; False when the user cancelled or the database could not be copied."""
    suggested = Path.home() / f"xraydesk-backup-{date.today():%Y-%m-%d}.zip"
    chosen = prompts.save_path(parent, "Back up records", str(suggested), "Zip archive (*.zip)")
    if not chosen:
        return False
    target = Path(chosen) if Path(chosen).suffix.lower() == ".zip" else Path(f"{chosen}.zip")
    try:
        plan = prepare_backup(store)
    except RecordError as exc:
        error(str(exc))
        return False
    message(f"Backing up {counted(plan.studies, 'study', 'studies')} to {target.name}\u2026 (you can keep working)")
    runner.submit(lambda: write_backup(plan, target), on_result=lambda summary: message(backup_done_text(summary)),
                  on_error=lambda exc: error(str(exc)))
    return True
