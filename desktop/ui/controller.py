"""Open -> decode -> analyse, off the GUI thread, with stale results dropped.

The controller owns the workflow state (current image, study type, latest results) and talks
to the services through a task runner; the window only connects its signals to views. Every
request carries a sequence number: when the user opens image B while image A is still
decoding or being analysed, A's late answer is recognised as stale and ignored, so results
are never shown over the wrong image.

The body-part guard (when installed) runs first in the same worker task as the models. Until
the user picks a study type for the open image ("pins" it), the guard's confident answer
chooses the type, and the window's selector follows; once pinned, the user's type runs and
the guard only warns.

Which of the patient's knees each joint is comes from the DICOM header, the clinic's display
convention (:meth:`StudyController.set_standard_knee_display`), or from the doctor
(:meth:`StudyController.set_knee_sides`). The doctor's choice belongs to the study, not to one
run: it is applied to every analysis of the same image, so choosing another study type and back,
or pressing Analyse, keeps it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from PySide6.QtCore import QObject, Signal

from desktop.core.imaging import ImageLoadError
from desktop.core.joint_regions import NO_JOINT_NOTICE, patient_sides, side_label
from desktop.core.knee_sides import STANDARD_DISPLAY, user_choice, with_user_sides
from desktop.ui.analysis_outcome import AnalysisOutcome
from desktop.ui.formatting import percent, study_type_name

if TYPE_CHECKING:
    from desktop.core.body_part import BodyPartCheck, GuardedAnalysis
    from desktop.core.imaging import XRayImage
    from desktop.core.model_card import ModelCard
    from desktop.core.prediction import Prediction
    from desktop.ui.recent_files import RecentFiles
    from desktop.ui.task_runner import Runner

# AnalysisOutcome is re-exported: callers know it from this module.
__all__ = ["AnalysisOutcome", "StudyController", "describe_error"]

log = logging.getLogger(__name__)

DEFAULT_BODY_PART = "chest"


def describe_error(exc: BaseException, *, action: str) -> str:
    """One user-facing sentence for a failure; ``ImageLoadError`` already is one."""
    if isinstance(exc, ImageLoadError):
        return str(exc)
    detail = str(exc).strip().rstrip(".")
    return f"{action} failed: {detail}." if detail else f"{action} failed ({type(exc).__name__})."


class StudyController(QObject):
    """Holds the open study and runs loading and analysis through a task runner."""

    image_loaded = Signal(object)  # XRayImage
    load_failed = Signal(str)  # user-facing sentence; the previous image stays
    file_failed = Signal(str, str)  # the file that could not be opened, and the same sentence
    analysis_started = Signal(str)  # body part
    study_type_detected = Signal(str)  # the guard chose this study type for the open image
    analysis_finished = Signal(object)  # AnalysisOutcome
    analysis_failed = Signal(str)
    knee_sides_changed = Signal(object)  # AnalysisOutcome: the same results, its joints named anew
    busy_changed = Signal(bool, str)  # busy?, what is happening ("Analysing…")
    message = Signal(str)  # transient status-bar text

    def __init__(
        self,
        service: Any,
        *,
        runner: Runner,
        registry: Any | None = None,
        recent: RecentFiles | None = None,
        body_part: str = DEFAULT_BODY_PART,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._runner = runner
        self._registry = registry if registry is not None else getattr(service, "registry", None)
        self._recent = recent
        self._body_part = body_part
        self._image: XRayImage | None = None
        self._outcome: AnalysisOutcome | None = None
        self._load_seq = 0
        self._analysis_seq = 0
        self._loading: str | None = None  # file name being decoded
        self._analysing = False
        self._open_guard: Callable[[], bool] | None = None
        self._pinned = False  # the user chose the study type for the open image
        self._check: BodyPartCheck | None = None  # the guard's answer for the open image
        # The doctor's knee sides for the open image (joint side -> "right"/"left"/None); None
        # when they chose none, so the header's (if any) stand.
        self._knee_sides: dict[str, str | None] | None = None

    # ------------------------------------------------------------------ state
    @property
    def runner(self) -> Runner:
        """The task runner, shared with other long jobs of the window (a backup)."""
        return self._runner

    @property
    def image(self) -> XRayImage | None:
        return self._image

    @property
    def outcome(self) -> AnalysisOutcome | None:
        """Results for the current image and study type, or None while none are valid."""
        return self._outcome

    @property
    def body_part(self) -> str:
        return self._body_part

    @property
    def study_type_pinned(self) -> bool:
        """True once the user chose the study type for the open image; the guard then only warns."""
        return self._pinned

    @property
    def knee_sides(self) -> dict[str, str | None] | None:
        """The doctor's choice of knee sides for the open image; None when they made none."""
        return dict(self._knee_sides) if self._knee_sides is not None else None

    @property
    def is_busy(self) -> bool:
        return self._loading is not None or self._analysing

    def model_names(self, part: str | None = None) -> list[str]:
        """Names of the models that would run for a study type (default: the current one)."""
        try:
            models = self._service.models_for(part or self._body_part)
        except Exception:  # noqa: BLE001 - a hint only; analyse() reports real failures
            return []
        return [getattr(getattr(m, "card", m), "name", str(m)) for m in models]

    def unavailable_models(self) -> tuple[tuple[str, str], ...]:
        models = getattr(self._registry, "unavailable", ()) or ()
        return tuple((m.model_id, m.reason) for m in models)

    # ---------------------------------------------------------------- opening
    def set_open_guard(self, guard: Callable[[], bool] | None) -> None:
        """Asked before any new image replaces the current one (menu, recent list, drop).

        False keeps the current study: the records controller uses it so unsaved notes or
        patient data are never dropped silently.
        """
        self._open_guard = guard

    def _may_replace(self) -> bool:
        if self._open_guard is None or self._open_guard():
            return True
        self.message.emit("The current study stays open.")
        return False

    def open_file(self, path: str | Path) -> None:
        """Decode ``path`` off the GUI thread; on success show it and analyse it."""
        if self._may_replace():
            self._open(Path(path))

    def restore(self, image: XRayImage, outcome: AnalysisOutcome) -> None:
        """Show a stored study: its image and its stored results, without running any model.

        Pending loads and analyses become stale, exactly as if a new file had been opened.
        """
        self._load_seq += 1
        self._analysis_seq += 1
        self._loading, self._analysing = None, False
        self._image, self._outcome = image, outcome
        self._knee_sides = user_choice(outcome.joints)
        self._body_part = outcome.body_part
        # The stored study's type was chosen when it was saved; Analyse re-runs that type.
        self._pinned, self._check = True, outcome.check
        self.image_loaded.emit(image)
        self._emit_busy()
        self.analysis_finished.emit(outcome)

    def _open(self, path: Path) -> None:
        self._load_seq += 1
        seq = self._load_seq
        self._loading = path.name
        self._emit_busy()
        log.info("opening %s", path)
        self._runner.submit(
            lambda: self._service.load(path),
            on_result=lambda image: self._loaded(seq, path, image),
            on_error=lambda exc: self._load_error(seq, path, exc),
        )

    def _loaded(self, seq: int, path: Path, image: XRayImage) -> None:
        if seq != self._load_seq:
            log.debug("dropping stale decode of %s", path)
            return
        self._loading = None
        self._image = image
        self._outcome = None
        self._pinned, self._check = False, None  # a new image: the guard chooses again
        self._knee_sides = None
        if self._recent is not None:
            self._recent.add(path)
        self.image_loaded.emit(image)
        self.message.emit(f"Opened {path.name} ({image.width} \u00d7 {image.height}, {image.format}).")
        self.analyse()

    def _load_error(self, seq: int, path: Path, exc: BaseException) -> None:
        if seq != self._load_seq:
            return
        self._loading = None
        if not isinstance(exc, ImageLoadError):
            log.error("unexpected error opening %s", path, exc_info=exc)
        self._emit_busy()
        text = describe_error(exc, action=f"Opening {path.name}")
        self.load_failed.emit(text)
        self.file_failed.emit(str(path), text)

    # -------------------------------------------------------------- analysing
    def set_body_part(self, part: str) -> None:
        """Change the study type; re-analyses the open image (unless one is still loading).

        A change while an image is open pins the type for that image: the guard no longer
        overrides it, it only warns when the type does not fit.
        """
        if part == self._body_part:
            return
        self._body_part = part
        if self._image is not None and self._loading is None:
            self._pinned = True
            self.analyse()

    def analyse_chosen_type(self) -> None:
        """The user pressed Analyse: run the study type shown, whatever the guard says."""
        if self._image is not None:
            self._pinned = True
        self.analyse()

    def analyse(self) -> None:
        """Ask the guard, then run the study type's models on the current image, off the GUI thread."""
        image, part = self._image, self._body_part
        if image is None:
            return
        self._analysis_seq += 1
        seq = self._analysis_seq
        self._outcome = None
        guarded = bool(getattr(self._service, "has_guard", False))
        if not guarded and not self._has_models(part):
            # Nothing to run: answer at once instead of spinning a thread for an empty list.
            self._analysing = False
            self._emit_busy()
            self._finish(seq, image, part, None, time.perf_counter())
            return
        self._analysing = True
        self._emit_busy()
        self.analysis_started.emit(part)
        started = time.perf_counter()
        pinned, check = self._pinned, self._check
        self._runner.submit(
            lambda: self._service.analyse_guarded(
                image, body_part=part if pinned else None, default_body_part=part, check=check
            ),
            on_result=lambda result: self._finish(seq, image, part, result, started),
            on_error=lambda exc: self._analysis_error(seq, exc),
        )

    def _has_models(self, part: str) -> bool:
        try:
            return bool(self._service.models_for(part))
        except Exception:  # noqa: BLE001 - let analyse() surface the real error instead
            log.debug("models_for(%s) failed", part, exc_info=True)
            return True

    def _finish(
        self, seq: int, image: XRayImage, part: str, result: GuardedAnalysis | None, started: float
    ) -> None:
        if seq != self._analysis_seq or image is not self._image:
            log.debug("dropping stale analysis (request %d, current %d)", seq, self._analysis_seq)
            return
        self._analysing = False
        predictions: Sequence[Prediction] = result.predictions if result is not None else ()
        if result is not None:
            self._check = result.check
            if result.chosen_by_guard and result.body_part and result.body_part != self._body_part:
                # Set before telling the window, so its selector change reads as "no change".
                part = self._body_part = result.body_part
                self.study_type_detected.emit(part)
        outcome = AnalysisOutcome(
            image=image,
            body_part=part,
            pairs=self.with_cards(predictions),
            unavailable=self.unavailable_models(),
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            check=result.check if result is not None else None,
            warnings=result.warnings if result is not None else (),
            skipped=result.skipped if result is not None else False,
            joints=with_user_sides(result.joints, self._knee_sides) if result is not None else None,
        )
        self._outcome = outcome
        self._emit_busy()
        self.analysis_finished.emit(outcome)
        if outcome.skipped:
            self.message.emit("No model was run: the image does not look like an X-ray.")
        elif outcome.pairs:
            sides = patient_sides(outcome.joints)
            summary = "; ".join(
                f"{p.model_name}{f' ({side_label(p.region_side, sides.get(p.region_side))})' if p.region_side else ''}: "
                f"{p.label} ({percent(max(p.probabilities))})"
                for p in outcome.predictions
            )
            self.message.emit(f"Analysed in {outcome.elapsed_ms:.0f} ms \u2014 {summary}")
        elif outcome.no_joint_found:
            self.message.emit(NO_JOINT_NOTICE)
        else:
            self.message.emit(f"No models for {study_type_name(part)} studies.")

    def set_knee_sides(self, sides: Mapping[str, str | None]) -> None:
        """The doctor says which of the patient's knees each joint is (joint side -> "right",
        "left", or None for not stated, which also sets aside what a header said). Applied to
        the shown results at once and to every later analysis of this image."""
        self._knee_sides = dict(sides)
        outcome = self._outcome
        if outcome is None or not outcome.joints:
            return
        joints = with_user_sides(outcome.joints, self._knee_sides)
        if joints != outcome.joints:
            self._outcome = replace(outcome, joints=joints)
            self.knee_sides_changed.emit(self._outcome)

    def set_standard_knee_display(self, standard: bool) -> None:
        """The clinic's settings: ``standard`` names the knees of two-knee films whose file
        says nothing about sides by the standard display (patient's right on the image's left).
        The analysis service (shared with the worklist) applies it from the next analysis on;
        results already shown, and stored studies, keep the names they were given."""
        self._service.clinic_display = STANDARD_DISPLAY if standard else None

    def _analysis_error(self, seq: int, exc: BaseException) -> None:
        if seq != self._analysis_seq:
            return
        self._analysing = False
        log.error("analysis failed", exc_info=exc)
        self._emit_busy()
        self.analysis_failed.emit(describe_error(exc, action="Analysis"))

    # ---------------------------------------------------------------- helpers
    def with_cards(self, predictions: Sequence[Prediction]) -> tuple[tuple[Prediction, ModelCard | None], ...]:
        """Each prediction with its installed model's card, as the results views take them."""
        return tuple((p, self._card_for(p.model_id)) for p in predictions)

    def _card_for(self, model_id: str) -> ModelCard | None:
        """The installed model's card, or None when the registry does not know it."""
        try:
            return self._registry.get(model_id).card
        except Exception:  # noqa: BLE001 - a card only adds detail; the prediction still shows
            log.debug("no card for %s", model_id, exc_info=True)
            return None

    def _emit_busy(self) -> None:
        if self._loading is not None:
            self.busy_changed.emit(True, f"Opening {self._loading}\u2026")
        elif self._analysing:
            self.busy_changed.emit(True, "Analysing\u2026")
        else:
            self.busy_changed.emit(False, "")
