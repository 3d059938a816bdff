"""Keeps the worklist in step with the study workflow, and reads queued files ahead.

Files dropped or opened together (or a folder) are queued; the first is opened. The list
follows what the study controller actually shows: a file counts as opened when its image
arrived (not when it was asked for, since the unsaved-study question may keep the old one),
and as saved when the records saved the study of it.

Reading ahead: while the doctor looks at one film, the files not read yet go through the same
guard and models in the background, one at a time and only while the study controller is
idle, so the open film's own analysis never waits behind the queue; their findings fill the
list, and a positive one stands out before the film is even opened. No heat maps are drawn
for them; opening the file runs the full analysis again.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow

from desktop.core.records import RecordError
from desktop.core.worklist import MAX_QUEUED, EntryState, Worklist, export_worklist_csv, files_to_queue, findings_of
from desktop.core.worklist_file import load_worklist, save_worklist
from desktop.ui.batch_reports import BatchResult, write_reports
from desktop.ui.controller import describe_error
from desktop.ui.formatting import counted
from desktop.ui.prompts import Prompts
from desktop.ui.worklist_panel import WorklistPanel

if TYPE_CHECKING:
    from desktop.core.body_part import GuardedAnalysis
    from desktop.core.imaging import XRayImage
    from desktop.core.records import StudyRecord
    from desktop.ui.controller import AnalysisOutcome, StudyController
    from desktop.ui.records_controller import RecordsController

__all__ = ["WorklistController", "worklist_dock"]

log = logging.getLogger(__name__)

DOCK_WIDTH = 460  # file, findings and status side by side
KEEP_AFTER_MS = 500  # the list is written this long after its last change


class WorklistController(QObject):
    """Owns the :class:`Worklist` and its panel; connects them to the study workflow."""

    changed = Signal()
    queued = Signal(int)  # files added: the window shows the list
    message = Signal(str)

    def __init__(self, study: StudyController, service: Any, *, prompts: Prompts | None = None,
                 kept_at: Path | None = None, panel: WorklistPanel | None = None, parent: QObject | None = None) -> None:
        """``kept_at``: the file the list is kept in between sessions (None: not kept)."""
        super().__init__(parent)
        self.worklist = Worklist()
        self.kept_at = kept_at
        self._keep_timer = QTimer(self)
        self._keep_timer.setSingleShot(True)
        self._keep_timer.setInterval(KEEP_AFTER_MS)
        self._keep_timer.timeout.connect(self.keep_now)
        if kept_at is not None:
            self.changed.connect(self._keep_timer.start)  # every change is kept a moment later
        self._keep_warned = False
        self.panel = panel or WorklistPanel()
        self._prompts = prompts or Prompts()
        self._study = study
        self._service = service
        self._reading: Path | None = None  # the file being read ahead
        self._read_ahead = True
        self._records: RecordsController | None = None  # attach_records: saving and reports
        study.image_loaded.connect(self._image_loaded)
        study.analysis_finished.connect(self._analysis_finished)
        study.knee_sides_changed.connect(self._analysis_finished)  # the row names the knees anew
        study.file_failed.connect(self._file_failed)
        study.busy_changed.connect(self._study_busy)
        self.panel.open_requested.connect(self.open_entry)
        self.panel.step_requested.connect(self.step)
        self.panel.remove_requested.connect(self.remove)
        self.panel.clear_requested.connect(self.clear)
        self.panel.export_requested.connect(self.export_csv)
        self.panel.triage_requested.connect(self.put_flagged_first)
        self.panel.reports_requested.connect(self.save_reports)
        self.changed.connect(self._refresh)

    def _refresh(self) -> None:
        self.panel.show_worklist(self.worklist)

    # ---------------------------------------------------- kept between sessions
    def restore(self) -> int:
        """Bring back the list kept by the last session (call once the window is built, so
        the panel shows); returns how many files came back."""
        if self.kept_at is None:
            return 0
        kept = load_worklist(self.kept_at)
        count = self.worklist.add_entries(kept.entries)
        if count:
            unsaved = count - kept.count(EntryState.SAVED)
            missing = kept.count(EntryState.FAILED)
            self.message.emit(f"Worklist of {counted(count, 'file')} from the last session: {unsaved} not "
                              f"saved yet" + (f", {missing} not found or unreadable." if missing else "."))
            self.changed.emit()
            self.queued.emit(count)
            self._read_next()
        return count

    def keep_now(self) -> None:
        """Write the list to ``kept_at`` now (normally a moment after each change)."""
        self._keep_timer.stop()
        if self.kept_at is None:
            return
        try:
            save_worklist(self.kept_at, self.worklist)
        except OSError as exc:
            log.error("worklist not kept in %s: %s", self.kept_at, exc)
            if not self._keep_warned:
                self._keep_warned = True
                self.message.emit(f"The worklist cannot be kept for the next session ({exc.strerror or exc}).")

    def keep_pending(self) -> None:
        """Write the list now if a change is still waiting to be kept (on quit: nothing else
        is written then)."""
        if self._keep_timer.isActive():
            self.keep_now()

    def set_read_ahead(self, enabled: bool) -> None:
        """Off: queued files are read only when opened (tests; a very slow machine)."""
        self._read_ahead = enabled

    # ------------------------------------------------------------- queueing
    def take_files(self, paths: Sequence[str | Path]) -> None:
        """A drop or File > Open: one plain file opens as before; several, or a folder, are
        queued and the first of them is opened."""
        paths = [Path(p) for p in paths if str(p)]
        if len(paths) == 1 and not paths[0].is_dir():
            self._study.open_file(paths[0])
            return
        files, truncated = files_to_queue(paths)
        if not files:
            self.message.emit("No X-ray files were found there (PNG, JPEG, BMP, TIFF or DICOM).")
            return
        first_new = len(self.worklist)
        added = self.worklist.add(files)
        note = f"; more were left out (at most {MAX_QUEUED} files from one drop)" if truncated else ""
        self.message.emit(f"{counted(added, 'file')} added to the worklist{note}.")
        self.changed.emit()
        self.queued.emit(added)
        target = first_new if added else self.worklist.index_of(files[0])
        if target is not None:
            self.open_entry(target)
        self._read_next()

    def open_entry(self, index: int) -> None:
        if 0 <= index < len(self.worklist):
            self._study.open_file(self.worklist.entries[index].path)

    def step(self, step: int) -> None:
        """Next (+1) or previous (-1) file; at either end the status bar says so."""
        target = self.worklist.next_index(step)
        if target is None:
            self.message.emit("That was the last file in the worklist." if step > 0 else "This is the first file in the worklist.")
            return
        self.open_entry(target)

    def step_forward(self) -> None:
        self.step(1)

    def step_back(self) -> None:
        self.step(-1)

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.worklist):
            self.worklist.remove(index)
            self.changed.emit()

    def clear(self) -> None:
        self.worklist.clear()
        self.changed.emit()

    def put_flagged_first(self) -> None:
        self.worklist.put_flagged_first()
        self.changed.emit()
        flagged = self.worklist.flagged_count()
        self.message.emit(f"{counted(flagged, 'file')} with a positive finding at the top of the worklist.")

    def export_csv(self, path: str | None = None) -> Path | None:
        """Export List…: the rows with their findings as a CSV, where the user chooses."""
        if path is None:
            suggested = Path.home() / f"xraydesk-worklist-{date.today():%Y-%m-%d}.csv"
            path = self._prompts.save_path(self.panel, "Export worklist as CSV", str(suggested), "CSV (*.csv)")
        if not path:
            return None
        try:
            count = export_worklist_csv(self.worklist, path)
        except RecordError as exc:
            self.message.emit(str(exc))
            return None
        self.message.emit(f"Worklist of {counted(count, 'file')} exported to {path}.")
        return Path(path)

    def attach_records(self, records: RecordsController) -> None:
        """Saving marks the open file's row; the saved studies' reports can then be written together."""
        self._records = records
        records.saved.connect(self.study_saved)

    def save_reports(self, folder: str | None = None) -> BatchResult | None:
        """Save Reports…: the report of every study saved from the list, as PDFs in one folder."""
        records, keys = self._records, self.worklist.saved_studies()
        if records is None or records.store is None or not keys:
            self.message.emit("No study from this worklist is saved yet: save a study (Ctrl+S), then save its report.")
            return None
        if folder is None:
            folder = self._prompts.choose_folder(self.panel, "Save the reports of the saved files into", str(Path.home()))
        if not folder:
            return None
        result = write_reports(records.store, keys, Path(folder), clinic=records.clinic(), parent=self.panel)
        self.message.emit(result.summary(Path(folder)))
        return result

    def save_and_next(self) -> None:
        """Save and Next (Ctrl+Enter): reading through a batch takes one keystroke per film.
        Nothing moves when the save fails: the open study stays with its unsaved work."""
        if self._records is not None and self._records.save() is not None:
            self.step(1)

    def study_saved(self, record: StudyRecord) -> None:
        if self.worklist.saved_current(record.key) is not None:
            self.changed.emit()
            later = self.worklist.next_index(1)
            if later is not None:
                self.message.emit(f"Saved. Next in the worklist: {self.worklist.entries[later].name} (Ctrl+PgDown; "
                                  "Ctrl+Enter saves and opens the next).")

    # ------------------------------------------------------ following the study
    def _image_loaded(self, image: XRayImage) -> None:
        before = self.worklist.current
        if self.worklist.opened(image.source_path) is not None or before is not None:
            self.changed.emit()

    def _analysis_finished(self, outcome: AnalysisOutcome) -> None:
        index = self.worklist.index_of(outcome.image.source_path)
        if index is None or index != self.worklist.current:
            return
        findings = findings_of(outcome.pairs, skipped=outcome.skipped, joints=outcome.joints)
        self.worklist.set_findings(index, findings, opened=True)
        self.changed.emit()

    def _file_failed(self, path: str, text: str) -> None:
        index = self.worklist.index_of(path)
        if index is not None:
            self.worklist.failed(index, text)
            self.changed.emit()

    # --------------------------------------------------------- reading ahead
    def _study_busy(self, busy: bool, _text: str) -> None:
        if not busy:
            self._read_next()

    def _read_next(self) -> None:
        if not self._read_ahead or self._reading is not None or self._study.is_busy:
            return
        index = self.worklist.next_to_read()
        if index is None:
            return
        path = self._reading = self.worklist.entries[index].path
        part = self._study.body_part
        service = self._service
        self._study.runner.submit(
            lambda: service.analyse_guarded(service.load(path), default_body_part=part, with_heatmap=False),
            on_result=lambda result: self._read_done(path, result),
            on_error=lambda exc: self._read_failed(path, exc),
        )

    def _read_done(self, path: Path, result: GuardedAnalysis) -> None:
        self._reading = None
        index = self.worklist.index_of(path)  # the list may have changed meanwhile
        if index is not None:
            pairs = self._study.with_cards(result.predictions)
            self.worklist.set_findings(index, findings_of(pairs, skipped=result.skipped, joints=result.joints), opened=False)
            self.changed.emit()
        self._read_later()

    def _read_failed(self, path: Path, exc: BaseException) -> None:
        self._reading = None
        index = self.worklist.index_of(path)
        if index is not None:
            log.info("worklist: could not read %s ahead: %s", path, exc)
            self.worklist.failed(index, describe_error(exc, action=f"Reading {path.name}"))
            self.changed.emit()
        self._read_later()

    def _read_later(self) -> None:
        # Through the event loop: pending clicks and repaints go first, and a runner that
        # answers at once (tests) does not nest one read inside the last.
        QTimer.singleShot(0, self, self._read_next)


def worklist_dock(window: QMainWindow, worklist: WorklistController) -> QDockWidget:
    """The panel in a dock on the left of ``window``: hidden until files are queued, then
    shown, in front and wide enough to read."""
    dock = QDockWidget("Worklist", window)
    dock.setObjectName("worklistDock")
    dock.setWidget(worklist.panel)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    dock.hide()

    def show_queue() -> None:
        dock.show()
        dock.raise_()
        if dock.width() < DOCK_WIDTH:
            window.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)

    worklist.queued.connect(show_queue)
    return dock
