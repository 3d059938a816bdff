"""Unsaved work kept on disk while it is typed, so a power cut or a crash does not lose it.

Clinics without internet are often clinics with unreliable power. While a study has changes
that are not saved (patient form, notes, measurements), the app keeps them here, written
atomically and flushed to disk, together with a copy of the image they belong to (the file
may have come from a USB stick that is gone when the power returns). Saving or knowingly
discarding the study removes it; finding it at start-up means the app did not close normally,
and the user is offered the work back.

Qt-free: the records controller says what the unsaved study is, this module only stores it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop.core.files import copy_verified, file_sha256, write_text_durably
from desktop.core.joint_regions import PATIENT_SIDES
from desktop.core.measurement import Measurement, measurements_from_json

__all__ = ["RecoveryFolder", "UnsavedStudy"]

log = logging.getLogger(__name__)

_DRAFT = "unsaved-study.json"
_DECLINED = "declined-study.json"  # the last draft the user chose not to restore
_IMAGE_DIR = "image"
_FORMAT = 1


@dataclass(frozen=True)
class UnsavedStudy:
    """Everything the user typed or drew for one open study, and which image it belongs to.

    ``study_key`` names the stored study being edited (its archived image is the image);
    for a study never saved, the image is the copy kept beside the draft.
    """

    original_file_name: str
    source_path: str
    image_sha256: str
    body_part: str
    study_key: int | None = None
    notes: str = ""
    impression: str = ""
    doctor_name: str = ""
    patient_form: Mapping[str, Any] | None = None
    risk: Mapping[str, Any] | None = None
    measurements: tuple[Measurement, ...] = ()
    # The doctor's knee sides (joint side -> "right"/"left"/None); None when they chose none.
    knee_sides: Mapping[str, str | None] | None = None
    written_at: datetime = field(default_factory=lambda: datetime.now().astimezone())

    @property
    def patient_name(self) -> str:
        return str((self.patient_form or {}).get("patient_name") or "").strip()

    def same_work(self, other: UnsavedStudy | None) -> bool:
        """True when ``other`` holds the same work (the time it was written aside)."""
        return other is not None and _payload(self) == _payload(other)


def _payload(study: UnsavedStudy) -> dict[str, Any]:
    return {
        "original_file_name": study.original_file_name, "source_path": study.source_path,
        "image_sha256": study.image_sha256, "body_part": study.body_part, "study_key": study.study_key,
        "notes": study.notes, "impression": study.impression, "doctor_name": study.doctor_name,
        "patient_form": dict(study.patient_form) if study.patient_form is not None else None,
        "risk": dict(study.risk) if study.risk is not None else None,
        "measurements": [m.to_dict() for m in study.measurements],
        "knee_sides": dict(study.knee_sides) if study.knee_sides is not None else None,
    }


def _study_from(data: Mapping[str, Any]) -> UnsavedStudy:
    if data.get("format") != _FORMAT:
        raise ValueError(f"unknown format {data.get('format')!r}")
    key = data.get("study_key")
    return UnsavedStudy(
        original_file_name=str(data["original_file_name"]), source_path=str(data["source_path"]),
        image_sha256=str(data["image_sha256"]), body_part=str(data["body_part"]),
        study_key=int(key) if key is not None else None,
        notes=str(data.get("notes") or ""), impression=str(data.get("impression") or ""),
        doctor_name=str(data.get("doctor_name") or ""),
        patient_form=dict(data["patient_form"]) if data.get("patient_form") else None,
        risk=dict(data["risk"]) if data.get("risk") else None,
        measurements=measurements_from_json(data.get("measurements")),
        knee_sides=_knee_sides(data.get("knee_sides")),  # absent in files written before sides were named
        written_at=datetime.fromisoformat(str(data["written_at"])),
    )


def _knee_sides(value: object) -> dict[str, str | None] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(side): (patient if patient in PATIENT_SIDES else None) for side, patient in value.items()}


def _if_unchanged(path: Path, sha256: str) -> Path | None:
    try:
        return path if path.is_file() and file_sha256(path) == sha256 else None
    except OSError:
        return None


class RecoveryFolder:
    """One unsaved study at a time (the app shows one study), in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._copied: str | None = None  # hash of the image copy known to be in place

    @property
    def draft_path(self) -> Path:
        return self.folder / _DRAFT

    def image_copy(self, study: UnsavedStudy) -> Path | None:
        """The kept copy of the study's image, if one was kept and still matches."""
        return _if_unchanged(self.folder / _IMAGE_DIR / study.original_file_name, study.image_sha256)

    def image_to_open(self, study: UnsavedStudy) -> Path | None:
        """The image of a study never saved: the kept copy, else the file it was opened from if
        that still holds the same image. None for a stored study (the records hold its image)."""
        if study.study_key is not None:
            return None
        return self.image_copy(study) or _if_unchanged(Path(study.source_path), study.image_sha256)

    def keep(self, study: UnsavedStudy) -> None:
        """Write ``study`` (and, the first time for its image, a copy of the image). Raises OSError."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if study.study_key is None and self._copied != study.image_sha256:
            if self.image_copy(study) is None:
                self._copy_image(study)
            self._copied = study.image_sha256
        text = json.dumps({"format": _FORMAT, **_payload(study), "written_at": study.written_at.isoformat()},
                          ensure_ascii=False, default=str, indent=1)
        write_text_durably(self.draft_path, text)

    def _copy_image(self, study: UnsavedStudy) -> None:
        images = self.folder / _IMAGE_DIR
        shutil.rmtree(images, ignore_errors=True)  # the last study's copy
        images.mkdir(parents=True)
        try:
            if not copy_verified(Path(study.source_path), images / study.original_file_name, study.image_sha256):
                log.warning("recovery: %s changed since it was opened; no copy kept", study.source_path)
        except OSError as exc:
            log.warning("recovery: could not copy %s: %s", study.source_path, exc)

    def read(self) -> UnsavedStudy | None:
        """The unsaved study left by a session that did not close normally, or None.

        A draft that cannot be read is set aside (never deleted) and counts as none.
        """
        try:
            text = self.draft_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("recovery: %s unreadable: %s", self.draft_path, exc)
            return None
        try:
            return _study_from(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("recovery: damaged draft set aside: %s", exc)
            self.set_aside()
            return None

    def set_aside(self) -> Path | None:
        """Move the draft out of the way, keeping it as the last declined one; returns where."""
        if not self.draft_path.exists():
            return None
        target = self.folder / _DECLINED
        try:
            os.replace(self.draft_path, target)
        except OSError as exc:
            log.warning("recovery: could not set %s aside: %s", self.draft_path, exc)
            return None
        return target

    def clear(self) -> None:
        """The study was saved or knowingly discarded: nothing left to recover. Never raises:
        a draft that cannot be removed is offered once more at the next start, no worse."""
        self._copied = None
        try:
            self.draft_path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("recovery: could not remove %s: %s", self.draft_path, exc)
        shutil.rmtree(self.folder / _IMAGE_DIR, ignore_errors=True)
