"""Saving and reopening studies; the guard against losing unsaved patient data; what a
crash left unsaved. The reports of a saved study are :mod:`desktop.ui.study_reports`.

The controller reads the study from :class:`StudyController`, the notes from the report
section and the patient data through :class:`PatientLink`, and writes through a
:class:`RecordStore`. Saving runs on the GUI thread on purpose: it takes milliseconds (one
image copy and one transaction), and the user must not open another image half-way through.

"Dirty" means: notes, impression, doctor, measurements, patient data or the doctor's choice of
knee sides differ from what was last saved (or loaded). Analysis results alone are not dirty:
re-opening the image reproduces them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from desktop.core.imaging import ImageLoadError
from desktop.core.records import (
    PatientDetails,
    RecordError,
    StoredPrediction,
    StudyDraft,
    StudyRecord,
)
from desktop.core.records.image_archive import load_archived_image
from desktop.core.records.recovery import UnsavedStudy
from desktop.core.records.values import Acquisition
from desktop.ui.clinic_settings import ClinicSettings, load_clinic_settings
from desktop.ui.controller import AnalysisOutcome
from desktop.ui.prompts import UNSAVED_DISCARD, UNSAVED_SAVE, Prompts
from desktop.ui.report_output import ReportOutput
from desktop.ui.report_section import NotesValues, ReportSection
from desktop.ui.study_reports import StudyReports

if TYPE_CHECKING:
    from desktop.core.imaging import XRayImage
    from desktop.core.measurement import Measurement
    from desktop.core.records import RecordStore
    from desktop.ui.controller import StudyController
    from desktop.ui.measure_overlay import MeasureTool
    from desktop.ui.patient_link import PatientLink

__all__ = ["RecordsController"]

log = logging.getLogger(__name__)


class RecordsController(QObject):
    saved = Signal(object)  # StudyRecord
    restored = Signal(object)  # StudyRecord, after its image and results are shown
    dirty_changed = Signal(bool)
    edited = Signal()  # something the study holds may have changed (kept aside after a pause)
    message = Signal(str)  # status-bar text
    failed = Signal(str)  # a user-facing sentence

    def __init__(
        self,
        *,
        store: RecordStore | None,
        study: StudyController,
        notes: ReportSection,
        patient: PatientLink | None,
        settings: QSettings,
        measurements: MeasureTool | None = None,
        registry: Any | None = None,
        prompts: Prompts | None = None,
        dialog_parent: QWidget | None = None,
        unavailable_reason: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._study = study
        self._notes = notes
        self._patient = patient
        self._measurements = measurements  # the viewer the doctor measures on
        self._settings = settings
        self._registry = registry
        self.prompts = prompts or Prompts()
        self.output = ReportOutput(settings, self.prompts, self.clinic)
        self.dialog_parent = dialog_parent
        self._unavailable = unavailable_reason or "the records database could not be opened"
        self.record: StudyRecord | None = None  # the stored version of the open study
        self.reports = StudyReports(self, study)
        self._record_outcome: AnalysisOutcome | None = None  # the results that record holds
        self._restoring = False
        self._pending_unsaved: UnsavedStudy | None = None  # put back once its image is open
        self._put_back_unsaved = False  # the open study's unsaved work came back after a crash
        self._had_image = False  # no study yet: the first image adopts whatever was typed
        self._baseline: tuple[Any, ...] = ()
        self._dirty = False
        study.set_open_guard(lambda: self.may_discard(carry_over=True))
        study.image_loaded.connect(self._new_image)
        study.busy_changed.connect(lambda *_: self._update_state())
        study.knee_sides_changed.connect(lambda *_: self._update_state())
        notes.changed.connect(self._update_state)
        notes.save_requested.connect(self.save)
        if patient is not None:
            patient.changed.connect(self._update_state)
        if measurements is not None:
            measurements.measurements_changed.connect(lambda *_: self._update_state())
        notes.set_values(NotesValues(doctor_name=self.clinic().doctor_name))
        self._mark_clean()

    # ------------------------------------------------------------------ state
    @property
    def available(self) -> bool:
        return self.store is not None

    @property
    def is_dirty(self) -> bool:
        return self._snapshot() != self._baseline

    def _snapshot(self) -> tuple[Any, ...]:
        return (self._notes.values(), self._patient.snapshot() if self._patient is not None else (),
                self._measured(), self._study.knee_sides)

    def _measured(self) -> tuple[Measurement, ...]:
        return self._measurements.measurements if self._measurements is not None else ()

    def _mark_clean(self) -> None:
        self._baseline = self._snapshot()
        self._put_back_unsaved = False
        self._update_state()

    def _update_state(self) -> None:
        dirty = self.is_dirty
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)
        self._notes.set_can_save(self.available and self._study.image is not None and not self._study.is_busy)
        if not self.available:
            self._notes.set_status(f"Records unavailable: {self._unavailable}.")
        elif self.record is None:
            self._notes.set_status(("Put back after XRayDesk closed unexpectedly \u2014 not saved yet."
                                    if self._put_back_unsaved else "Not saved yet.") if self._study.image is not None else "")
        else:
            changes = " \u2014 changes put back after XRayDesk closed unexpectedly, not saved." if self._put_back_unsaved \
                else " \u2014 changes not saved."
            self._notes.set_status(f"Saved as {self.record.report_id}" + (changes if dirty else "."))
        self.edited.emit()

    def clinic(self) -> ClinicSettings:
        return load_clinic_settings(self._settings)

    def _new_image(self, image: XRayImage) -> None:
        if self._restoring:
            return
        first, self._had_image = not self._had_image, True
        self.record, self._record_outcome = None, None
        pending, self._pending_unsaved = self._pending_unsaved, None
        if first:
            # Typed before any image was open (the patient arrived first): it belongs to this
            # study, and stays unsaved until saved.
            self._update_state()
        else:
            # A new image is a new study: never let the last patient's name ride along with it.
            self._notes.set_values(NotesValues(doctor_name=self.clinic().doctor_name))
            if self._patient is not None:
                self._patient.clear()
            self._mark_clean()
        if pending is not None and pending.image_sha256 == image.sha256:
            self._put_back(pending)

    # ------------------------------------------------------------------ guard
    def may_discard(self, *, carry_over: bool = False) -> bool:
        """True when the open study may be replaced: nothing unsaved, saved now, or discarded.

        ``carry_over``: a new image is about to open; with no image open yet, what was typed
        carries over to it, so there is nothing to ask.
        """
        if not self.is_dirty or (carry_over and not self._had_image):
            return True
        answer = self.prompts.ask_unsaved(self.dialog_parent)
        if answer == UNSAVED_SAVE:
            return self.save() is not None
        return answer == UNSAVED_DISCARD

    # ----------------------------------------------------------------- saving
    def save(self) -> StudyRecord | None:
        """Store the open study (or update its stored version); None if it could not be saved."""
        if self.store is None:
            return self._fail(f"The study cannot be saved: {self._unavailable}.")
        image, outcome = self._study.image, self._study.outcome
        if image is None:
            return self._fail("Open an X-ray before saving a study.")
        if self._study.is_busy:
            return self._fail("Wait until the analysis has finished, then save.")
        notes = self._notes.values()
        patient = self._patient
        stored = self._stored_version(image)
        draft = StudyDraft(
            image_path=stored.image_path if stored else Path(image.source_path),
            image_sha256=image.sha256,
            image_format=image.format,
            original_file_name=stored.original_file_name if stored else Path(image.source_path).name,
            body_part=outcome.body_part if outcome is not None else self._study.body_part,
            patient=patient.details() if patient is not None else self._draft_patient(),
            acquisition=Acquisition.from_image(image),
            predictions=tuple(StoredPrediction.from_prediction(p, card) for p, card in (outcome.pairs if outcome else ())),
            patient_form=patient.form_values() if patient is not None else None,
            risk=patient.risk() if patient is not None else None,
            notes=notes.notes, impression=notes.impression, doctor_name=notes.doctor_name,
            study_key=stored.key if stored else None,
            patient_key=self.record.patient.key if self.record is not None else None,
            body_part_check=outcome.check if outcome is not None else None,
            warnings=outcome.warnings if outcome is not None else (),
            knee_joints=outcome.joints if outcome is not None else None,
            measurements=self._measured(),
        )
        try:
            record = self.store.save_study(draft)
        except RecordError as exc:
            return self._fail(str(exc))
        self.record, self._record_outcome = record, outcome
        self._mark_clean()
        who = record.patient.details.name or "unnamed patient"
        self.message.emit(f"Saved study {record.report_id} for {who}.")
        self.saved.emit(record)
        return record

    def _stored_version(self, image: XRayImage) -> StudyRecord | None:
        """The stored study of ``image``: saving again updates it (same archived file, same
        name). None when the open image was never saved."""
        return self.record if self.record is not None and self.record.image_sha256 == image.sha256 else None

    def _draft_patient(self) -> PatientDetails:
        """Without a patient form, a re-save keeps the stored identity."""
        return self.record.patient.details if self.record is not None else PatientDetails()

    def _fail(self, text: str) -> None:
        log.warning("%s", text)
        self.failed.emit(text)

    # -------------------------------------------------------------- reopening
    def reopen(self, study_key: int) -> bool:
        """Show a stored study as the open one: archived image, stored results, notes, patient."""
        if self.store is None or not self.may_discard():
            return False
        try:
            record = self.store.get_study(study_key)
            image = load_archived_image(record)
        except (RecordError, ImageLoadError) as exc:
            self._fail(f"The study could not be opened: {exc}")
            return False
        # Shown under the name the user knows, not the archive's hash name; saving again reads
        # the bytes from record.image_path (see save), never from this path.
        image = replace(image, source_path=record.image_path.with_name(record.original_file_name))
        outcome = AnalysisOutcome(image=image, body_part=record.body_part,
                                  pairs=tuple(self._stored_pair(p) for p in record.predictions),
                                  check=record.body_part_check, warnings=record.warnings,
                                  joints=record.knee_joints)
        self._restoring = True
        try:
            self._study.restore(image, outcome)
            self._had_image = True
            self.record, self._record_outcome = record, outcome
            self._notes.set_values(NotesValues(record.notes, record.impression, record.doctor_name))
            if self._patient is not None:
                self._patient.restore(record.patient_form, record.risk, details=record.patient.details)
            if self._measurements is not None:
                self._measurements.set_measurements(record.measurements)
        finally:
            self._restoring = False
        self._mark_clean()
        self.message.emit(f"Opened stored study {record.report_id} ({record.original_file_name}).")
        self.restored.emit(record)
        return True

    # --------------------------------------------------------------- recovery
    def unsaved_study(self) -> UnsavedStudy | None:
        """The open study's unsaved work, to keep on disk until it is saved; None when none."""
        image = self._study.image
        if image is None or not self.is_dirty:
            return None
        notes, patient = self._notes.values(), self._patient
        stored = self._stored_version(image)
        return UnsavedStudy(
            original_file_name=stored.original_file_name if stored else Path(image.source_path).name,
            source_path=str(image.source_path), image_sha256=image.sha256, body_part=self._study.body_part,
            study_key=stored.key if stored else None,
            notes=notes.notes, impression=notes.impression, doctor_name=notes.doctor_name,
            patient_form=patient.form_values() if patient is not None else None,
            risk=patient.risk() if patient is not None else None, measurements=self._measured(),
            knee_sides=self._study.knee_sides,
        )

    def restore_unsaved(self, study: UnsavedStudy, image_path: Path | None) -> bool:
        """Show an unsaved study again: a stored one reopened from the records, a new one from
        ``image_path`` (its work is put back once the image is open). False with a message
        when its image cannot be found."""
        if study.study_key is not None:
            if not self.reopen(study.study_key):
                return False
            self._put_back(study)
            return True
        if image_path is None:
            self._fail(f"The unsaved study's image ({study.original_file_name}) could not be found; "
                       "its patient data and notes were not put back.")
            return False
        self._pending_unsaved = study
        self._study.open_file(image_path)
        return True

    def _put_back(self, study: UnsavedStudy) -> None:
        self._notes.set_values(NotesValues(study.notes, study.impression, study.doctor_name))
        if self._patient is not None:
            self._patient.restore(study.patient_form, study.risk, details=PatientDetails())
        if self._measurements is not None:
            self._measurements.set_measurements(study.measurements)
        if study.knee_sides is not None:
            self._study.set_knee_sides(study.knee_sides)  # applied when the analysis ends, if still running
        self._put_back_unsaved = True
        self._update_state()
        self.message.emit(f"Unsaved work on {study.original_file_name} put back; save it to keep it.")

    def _stored_pair(self, stored: StoredPrediction) -> tuple[Any, Any]:
        """The stored result as a card, saying when the installed model is not the one that made it."""
        try:
            current = self._registry.get(stored.model_id).card if self._registry is not None else None
        except Exception:
            current = None
        if current is None:
            note = f"Stored result from {stored.model_id} version {stored.model_version}; that model is no longer installed."
        elif current.sha256 != stored.card_sha256 or current.version != stored.model_version:
            note = (f"Stored result from version {stored.model_version}; the installed model is version "
                    f"{current.version}. Press Analyse to compare.")
        else:
            note = ""  # the same model: the card's own version line says all
        return stored.to_prediction(extra_warnings=(note,) if note else ()), stored.model_card()

    # -------------------------------------------------------------- reporting
    def saved_for_report(self) -> StudyRecord | None:
        """Every report (and comparison) matches a stored study, so the open study is saved
        first if needed; None when it cannot be."""
        if self.record is not None and not self.is_dirty and self._study.outcome is self._record_outcome:
            return self.record
        return self.save()

    def clinic_changed(self) -> None:
        """New clinic settings: a new default doctor fills an empty, untouched doctor field."""
        if not self._notes.values().doctor_name and not self.is_dirty:
            current = self._notes.values()
            self._notes.set_values(NotesValues(current.notes, current.impression, self.clinic().doctor_name))
            self._mark_clean()
