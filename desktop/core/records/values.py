"""Value objects of the records store: patients, studies, stored predictions, queries.

Row ids are called ``key`` in Python so they are never confused with the clinic's own
patient ID (``patient_id``). Everything here is plain data; the store turns it into rows.
A stored prediction carries a summary of its model card, so a study reopened years later
still shows what the model was and how well it did then, whatever is installed now.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from desktop.core.body_part import BodyPartCheck
from desktop.core.joint_regions import JointRegion, joint_heading, patient_sides
from desktop.core.measurement import Measurement
from desktop.core.model_card import ModelCard
from desktop.core.prediction import DerivedPrediction, Prediction

if TYPE_CHECKING:
    from desktop.core.imaging import XRayImage

__all__ = [
    "Acquisition",
    "CardSummary",
    "PatientDetails",
    "PatientInfo",
    "PatientSummary",
    "RecordError",
    "StoredPrediction",
    "StudyDraft",
    "StudyQuery",
    "StudyRecord",
    "StudySummary",
    "decode_heatmap",
    "encode_heatmap",
]

# Levels kept when a heat map is stored: 8 bits is finer than any colour map can show.
_HEATMAP_LEVELS = 255


class RecordError(Exception):
    """A records operation failed; the message is one sentence a user can read."""


@dataclass(frozen=True)
class PatientDetails:
    """Who the study is about, as typed; every field may be blank."""

    name: str = ""
    patient_id: str = ""  # the clinic's own identifier, not the database row
    date_of_birth: str = ""  # ISO YYYY-MM-DD or ""
    sex: str = ""  # "female" | "male" | ""

    @property
    def is_blank(self) -> bool:
        return not (self.name.strip() or self.patient_id.strip() or self.date_of_birth or self.sex)


@dataclass(frozen=True)
class PatientInfo:
    """A stored patient."""

    key: int
    details: PatientDetails
    created_at: datetime
    updated_at: datetime

    @property
    def display_name(self) -> str:
        return self.details.name.strip() or "(no name)"


@dataclass(frozen=True)
class Acquisition:
    """Facts about how the image was taken, from DICOM tags when the file had them."""

    modality: str = ""
    study_date: str = ""
    body_part: str = ""
    manufacturer: str = ""
    pixel_spacing_mm: tuple[float, float] | None = None

    @classmethod
    def from_image(cls, image: XRayImage) -> Acquisition:
        """Pick the acquisition facts out of a decoded image's info dictionary."""
        info = image.info
        return cls(
            modality=info.get("Modality", ""),
            study_date=info.get("Study date", ""),
            body_part=info.get("Body part", ""),
            manufacturer=info.get("Manufacturer", ""),
            pixel_spacing_mm=image.pixel_spacing_mm,
        )


@dataclass(frozen=True)
class CardSummary:
    """The parts of a model card a report needs, frozen at the time of the study."""

    name: str
    task: str
    intended_use: str = ""
    limitations: tuple[str, ...] = ()  # as the report states them: the card's limits for readers
    threshold_rationale: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    heatmap_compared_with: str = ""  # studies saved before heat-map references read ""

    @classmethod
    def from_card(cls, card: ModelCard) -> CardSummary:
        return cls(
            name=card.name,
            task=card.task,
            intended_use=card.intended_use,
            limitations=card.limits_for_readers,
            threshold_rationale=card.threshold_rationale,
            metrics=dict(card.metrics),
            heatmap_compared_with=card.heatmap_compared_with,
        )


@dataclass(frozen=True)
class StoredPrediction:
    """One model's answer as stored with a study (heat map included, as 8-bit levels)."""

    model_id: str
    model_name: str
    model_version: str
    card_sha256: str
    body_part: str
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    label: str
    threshold: float | None = None
    positive_label: str | None = None
    calibrated: bool = False
    derived: tuple[DerivedPrediction, ...] = ()
    heatmap_method: str = "none"
    heatmap_label: str | None = None
    warnings: tuple[str, ...] = ()
    card: CardSummary | None = None
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    region: tuple[int, int, int, int] | None = None  # the joint box the model read; None: whole image
    region_side: str | None = None

    @classmethod
    def from_prediction(cls, prediction: Prediction, card: ModelCard | None = None) -> StoredPrediction:
        """What to keep of a live prediction (timings are dropped; the card is summarised)."""
        values = {name: getattr(prediction, name) for name in _SHARED_WITH_PREDICTION}
        # Plain tuples and floats: the store writes these as JSON.
        values.update(
            labels=tuple(prediction.labels),
            probabilities=tuple(float(p) for p in prediction.probabilities),
            derived=tuple(prediction.derived),
            warnings=tuple(prediction.warnings),
        )
        return cls(**values, card=CardSummary.from_card(card) if card is not None else None)

    @property
    def label_probability(self) -> float:
        """Probability of the label the model reported."""
        try:
            return self.probabilities[self.labels.index(self.label)]
        except ValueError:
            return max(self.probabilities) if self.probabilities else math.nan

    def model_card(self) -> ModelCard:
        """A card for the result views, from the stored summary (no model file behind it)."""
        c = self.card
        guessed_task = "binary" if len(self.labels) == 2 else "multiclass"
        return ModelCard(
            id=self.model_id, version=self.model_version, name=self.model_name,
            task=c.task if c is not None else guessed_task, body_part=self.body_part, labels=self.labels,
            input_name="", input_shape=(), probabilities_output="", sha256=self.card_sha256,
            threshold=self.threshold, threshold_rationale=c.threshold_rationale if c is not None else "",
            positive_label=self.positive_label, metrics=dict(c.metrics) if c is not None else {},
            intended_use=c.intended_use if c is not None else "", limitations=c.limitations if c is not None else (),
            heatmap_compared_with=c.heatmap_compared_with if c is not None else "",
        )

    def to_prediction(self, *, extra_warnings: tuple[str, ...] = ()) -> Prediction:
        """A :class:`Prediction` for the result views, rebuilt from the stored values."""
        values = {name: getattr(self, name) for name in _SHARED_WITH_PREDICTION}
        values["warnings"] = tuple(self.warnings) + tuple(extra_warnings)
        return Prediction(**values)


# Every Prediction field a stored prediction keeps (all but the timings): the converters copy
# these by name, so a field added to both classes cannot be forgotten in one direction.
_SHARED_WITH_PREDICTION = tuple(
    f.name for f in fields(Prediction) if f.name in {g.name for g in fields(StoredPrediction)}
)


@dataclass(frozen=True)
class StudyDraft:
    """Everything needed to save a study. ``study_key`` set: update that study in place."""

    image_path: Path  # the file to copy into the archive (its bytes must hash to image_sha256)
    image_sha256: str
    image_format: str
    original_file_name: str
    body_part: str
    patient: PatientDetails = field(default_factory=PatientDetails)
    acquisition: Acquisition = field(default_factory=Acquisition)
    predictions: tuple[StoredPrediction, ...] = ()
    patient_form: Mapping[str, Any] | None = None
    risk: Mapping[str, Any] | None = None
    notes: str = ""
    impression: str = ""
    doctor_name: str = ""
    study_key: int | None = None
    patient_key: int | None = None  # attach to this stored patient (reopened study)
    body_part_check: BodyPartCheck | None = None  # the guard's answer, when a guard ran
    warnings: tuple[str, ...] = ()  # study-level warnings (models vs. body part, no knee joint)
    knee_joints: tuple[JointRegion, ...] | None = None  # None: nobody looked for knee joints
    measurements: tuple[Measurement, ...] = ()  # distances and angles drawn on the image


@dataclass(frozen=True)
class StudyRecord:
    """A stored study with its patient and predictions."""

    key: int
    patient: PatientInfo
    created_at: datetime
    updated_at: datetime
    body_part: str
    image_path: Path  # the archived copy, absolute
    image_sha256: str
    image_format: str
    original_file_name: str
    acquisition: Acquisition
    predictions: tuple[StoredPrediction, ...]
    patient_form: Mapping[str, Any] | None
    risk: Mapping[str, Any] | None
    notes: str
    impression: str
    doctor_name: str
    report_id: str
    body_part_check: BodyPartCheck | None = None
    warnings: tuple[str, ...] = ()
    knee_joints: tuple[JointRegion, ...] | None = None
    measurements: tuple[Measurement, ...] = ()

    @property
    def all_warnings(self) -> tuple[str, ...]:
        """The study's warnings, then what each model said about its own reading (an image
        unlike the ones it was fitted on, a stretched one), named by model and joint, once each."""
        lines, sides = list(self.warnings), patient_sides(self.knee_joints)
        for p in self.predictions:
            where = f", {joint_heading(p.region_side, sides.get(p.region_side or '')).lower()}" if p.region_side else ""
            lines.extend(f"{p.model_name}{where}: {warning}" for warning in p.warnings)
        return tuple(dict.fromkeys(lines))


@dataclass(frozen=True)
class StudySummary:
    """One row of a study list."""

    key: int
    patient_key: int
    patient_name: str
    patient_id: str
    created_at: datetime
    body_part: str
    findings: str  # "Pneumonia 93.1%; ..." for the list
    impression: str
    report_id: str


@dataclass(frozen=True)
class PatientSummary:
    """One row of a patient list."""

    patient: PatientInfo
    study_count: int
    last_study_at: datetime | None


@dataclass(frozen=True)
class StudyQuery:
    """Filters for :meth:`RecordStore.search_studies`; every field narrows, blanks do not."""

    text: str = ""  # part of the name or the patient ID, any case, any script
    date_from: date | None = None  # study saved on or after (local date)
    date_to: date | None = None  # on or before
    body_part: str | None = None
    label: str | None = None  # some model reported this label (any case)
    patient_key: int | None = None
    limit: int = 1000


def encode_heatmap(heatmap: np.ndarray | None) -> bytes | None:
    """A heat map in [0, 1] as compact ``.npy`` bytes of 8-bit levels (never pickled)."""
    if heatmap is None:
        return None
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    levels = np.rint(np.clip(values, 0.0, 1.0) * _HEATMAP_LEVELS).astype(np.uint8)
    buffer = io.BytesIO()
    np.save(buffer, levels, allow_pickle=False)
    return buffer.getvalue()


def decode_heatmap(blob: bytes | None) -> np.ndarray | None:
    """Inverse of :func:`encode_heatmap`; float32 in [0, 1]."""
    if not blob:
        return None
    levels = np.load(io.BytesIO(blob), allow_pickle=False)
    heatmap = levels.astype(np.float32) / _HEATMAP_LEVELS
    heatmap.setflags(write=False)
    return heatmap
