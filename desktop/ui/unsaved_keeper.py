"""Keeps the open study's unsaved work on disk, and offers it back after a crash or power cut.

A second after the last change (typing, a measurement, the risk estimate) the records
controller's unsaved study is written to the recovery folder; saving the study, or closing the
app normally (after the unsaved-study question), removes it. So finding it at start-up means
the last session ended without that question, and :func:`offer_unsaved_work` asks whether to
put the work back. A declined draft is kept aside, never deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from desktop.core.records.recovery import RecoveryFolder, UnsavedStudy

if TYPE_CHECKING:
    from desktop.ui.prompts import Prompts
    from desktop.ui.records_controller import RecordsController

__all__ = ["UnsavedWorkKeeper", "offer_unsaved_work"]

log = logging.getLogger(__name__)

# Long enough not to write on every key press, short enough that a cut loses a word or two.
KEEP_AFTER_MS = 1000


class UnsavedWorkKeeper(QObject):
    """Writes :meth:`RecordsController.unsaved_study` to a :class:`RecoveryFolder` after a pause."""

    def __init__(self, records: RecordsController, folder: RecoveryFolder, *, delay_ms: int = KEEP_AFTER_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self._records = records
        self._kept: UnsavedStudy | None = None
        self._warned = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.keep_now)
        records.edited.connect(self._timer.start)
        records.saved.connect(self.forget)

    def keep_now(self) -> None:
        """Write the unsaved work now if it changed since last written; remove it when none is left."""
        self._timer.stop()
        study = self._records.unsaved_study()
        try:
            if study is None:
                if self._kept is not None:
                    self.folder.clear()
                    self._kept = None
            elif not study.same_work(self._kept):
                self.folder.keep(study)
                self._kept = study
        except OSError as exc:
            log.error("unsaved work could not be kept in %s: %s", self.folder.folder, exc)
            if not self._warned:  # once a session: the doctor can still save, which is what matters
                self._warned = True
                self._records.message.emit(f"Unsaved work cannot be kept aside ({exc.strerror or exc}); save the study often.")

    def forget(self, _saved_record: object = None) -> None:
        """Nothing is left to recover: the study was saved (``saved`` passes its record), or the
        window closed after the unsaved-study question (the work was saved or let go)."""
        self._timer.stop()
        self._kept = None
        self.folder.clear()


def offer_unsaved_work(keeper: UnsavedWorkKeeper, records: RecordsController, prompts: Prompts,
                       parent: QWidget | None) -> bool:
    """At start-up: when the last session left unsaved work, ask to put it back. True when put back."""
    study = keeper.folder.read()
    if study is None:
        return False
    who = f" for {study.patient_name}" if study.patient_name else ""
    when = study.written_at.strftime("%d %b %Y %H:%M")
    text = (f"XRayDesk did not close normally. The study of {study.original_file_name}{who} had unsaved work "
            f"(last change {when}). Put it back?\n\nIf not, it is kept aside in {keeper.folder.folder}.")
    if not prompts.confirm(parent, "Restore unsaved work?", text):
        aside = keeper.folder.set_aside()
        if aside is not None:
            records.message.emit(f"Unsaved work kept aside in {aside}.")
        return False
    if not records.restore_unsaved(study, keeper.folder.image_to_open(study)):
        keeper.folder.set_aside()
        return False
    return True

