"""What the PDF report says, as plain text: built from a stored study, Qt-free and unit-testable.

Everything comes from the stored study (and the card summary stored with each prediction),
never from the models installed now: a report reprinted next year says what was found then.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Mapping

from desktop.core.joint_regions import joint_heading, patient_sides, side_label
from desktop.core.knee_sides import sides_named_by
from desktop.core.measurement import measurements_summary
from desktop.core.model_card import readable_label
from desktop.core.records.values import CardSummary, StoredPrediction, StudyRecord
from desktop.ui.formatting import DISCLAIMER, percent, study_type_name

if TYPE_CHECKING:
    from desktop.ui.clinic_settings import ClinicSettings

__all__ = [
    "FindingRow",
    "finding_rows",
    "ModelNote",
    "ReportContent",
    "limit_lines",
    "performance_sentence",
    "report_content",
    "risk_lines",
]

_TEST_SPLITS = ("test", "internal_test", "external_test", "external")
_WHO_TEXT = {"normal": "normal bone density", "osteopenia": "osteopenia", "osteoporosis": "osteoporosis"}
_TOP_FACTORS = 5


@dataclass(frozen=True)
class FindingRow:
    model: str
    result: str
    probability: str
    threshold: str
    version: str
    derived: bool = False  # an output computed from the model's classes (indented in the table)
    model_id: str = ""  # the model that made it (pairs findings across studies; not printed)
    region_side: str | None = None  # the knee joint it is about, by place on the image (None: the
    patient_side: str | None = None  # whole image), and which of the patient's knees it is
    probability_of: str = ""  # set when ``probability`` is not the result's own: a derived output's positive label

    @property
    def joint(self) -> str:
        """"Knee on image left", "Right knee (image left)"; "" for the whole image."""
        return joint_heading(self.region_side, self.patient_side) if self.region_side else ""

    @property
    def probability_text(self) -> str:
        """"37.0%", or "Osteoarthritis 45.0%" when the probability is not the result's own,
        so it is never read as the probability of "Normal"."""
        if self.probability_of and self.probability_of != self.result:
            return f"{self.probability_of} {self.probability}"
        return self.probability


@dataclass(frozen=True)
class ModelNote:
    title: str
    performance: str
    limits: tuple[str, ...]


@dataclass(frozen=True)
class ReportContent:
    report_id: str
    clinic_name: str
    clinic_address: tuple[str, ...]
    patient_rows: tuple[tuple[str, str], ...]
    study_rows: tuple[tuple[str, str], ...]
    findings: tuple[FindingRow, ...]
    warnings: tuple[str, ...]  # the models may not fit this image: printed above the findings
    heatmap_caption: str
    risk: tuple[str, ...]  # empty when the patient form was not assessed
    notes: str
    impression: str
    doctor_name: str
    model_notes: tuple[ModelNote, ...]
    disclaimer: str
    saved_at: str
    generated_at: str


def _test_figures(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(metrics.get("n"), (int, float)):
        return metrics
    for key in _TEST_SPLITS:
        if isinstance(metrics.get(key), Mapping):
            return metrics[key]
    return None


def _pct(value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return None
    return f"{value * 100:.0f}%"


def performance_sentence(card: CardSummary | None, *, positive_label: str | None = None) -> str:
    """The held-out result in one plain sentence, e.g. "On 787 held-out images from patients
    not used in training, this model was right 96% of the time."""
    figures = _test_figures(card.metrics) if card is not None else None
    n = figures.get("n") if figures else None
    accuracy = _pct(figures.get("accuracy")) if figures else None
    if card is None or not n or accuracy is None:
        return "No held-out test results are recorded for this model."
    described = str(card.metrics.get("split", "")) + str(figures.get("split", ""))
    source = "from patients not used in training" if "patient" in described.lower() else "not used in training"
    verb = "gave exactly the right grade" if card.task == "ordinal" else "was right"
    sentence = f"On {int(n):,} held-out images {source}, this model {verb} {accuracy} of the time"
    sensitivity, specificity = _pct(figures.get("sensitivity")), _pct(figures.get("specificity"))
    if sensitivity and specificity and positive_label:
        sentence += (f"; it found {sensitivity} of the {positive_label.lower()} cases and correctly"
                     f" cleared {specificity} of the others")
    return sentence + "."


def limit_lines(card: CardSummary | None) -> tuple[str, ...]:
    """Who the model is not for (from the intended use) and its known limits, as sentences."""
    if card is None:
        return ("The model's card was not stored with this study.",)
    lines = []
    for sentence in re.split(r"(?<=\.)\s+", card.intended_use.strip()):
        if sentence.startswith("Not for "):  # "Not for adults, ..." -> "It is not validated for adults, ..."
            lines.append("It is not validated for " + sentence[len("Not for "):])
    lines.extend(card.limitations)
    return tuple(lines)


def risk_lines(risk: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The patient-data risk section: probability, verdict, top factors, WHO category."""
    if not risk or not isinstance(risk.get("probability"), (int, float)):
        return ()
    probability, label = float(risk["probability"]), str(risk.get("label", ""))
    positive = str(risk.get("positive_label", label))
    threshold = risk.get("threshold")
    flagged = label == positive
    verdict = f"flagged as {label}" if flagged else f"not flagged ({label})"
    line = f"Model probability {percent(probability)} \u2014 {verdict}"
    if isinstance(threshold, (int, float)):
        line += f"; threshold {percent(float(threshold))}"
    version = " ".join(str(risk[k]) for k in ("model_id", "model_version") if risk.get(k))
    lines = [line + (f" (model {version})." if version else ".")]
    factors = [str(f) for f in risk.get("top_factors", [])][:_TOP_FACTORS]
    if factors:
        lines.append("Top factors: " + "; ".join(factors) + ".")
    who = risk.get("who_category")
    if who:
        lines.append(f"Measured T-score: {_WHO_TEXT.get(str(who), str(who))} by the WHO rule (not a model); "
                     "a measured T-score outweighs this estimate.")
    lines.extend(f"Note: {w}" for w in risk.get("warnings", []))
    return tuple(lines)


def finding_rows(study: StudyRecord) -> tuple[FindingRow, ...]:
    """Whole-image findings first, then each knee joint's findings together under its name."""
    predictions, named = study.predictions, patient_sides(study.knee_joints)
    whole = [p for p in predictions if p.region_side is None]
    sides = list(dict.fromkeys(p.region_side for p in predictions if p.region_side is not None))
    ordered = whole + [p for side in sides for p in predictions if p.region_side == side]
    return tuple(row for p in ordered for row in _prediction_rows(p, named.get(p.region_side or "")))


def _joints_row(study: StudyRecord) -> tuple[str, str] | None:
    if study.knee_joints is None:
        return None
    if not study.knee_joints:
        return ("Knee joints", "none found; the knee models were not run")
    joints = study.knee_joints
    count = len(joints)
    by = sides_named_by(joints)
    names = ", ".join(side_label(j.side, j.patient_side) for j in joints)
    if by is not None:
        source = {"header": "from the DICOM header",
                  "clinic": "by the clinic's standard display, not read from this film"}.get(by, "as stated by the doctor")
        text = f"{count} found, outlined on the images: {names}; sides {source}"
    elif count > 1:
        text = f"{count} found ({names}), outlined on the images; named by place on the image (sides not stated)"
    else:
        text = "1 found, outlined on the images"
    return ("Knee joints", text)


def explained_predictions(study: StudyRecord) -> tuple[StoredPrediction, ...]:
    """The heat maps the report shows: those of the first model that has one, on every knee
    joint it read (each map lies inside its own joint box, so they never overlap)."""
    first = next((p for p in study.predictions if p.heatmap is not None), None)
    if first is None:
        return ()
    return tuple(p for p in study.predictions if p.model_id == first.model_id and p.heatmap is not None)


def _explained_label(p: StoredPrediction) -> str:
    return f"\u201c{readable_label(p.heatmap_label or p.label, p.card)}\u201d"


def _compared(p: StoredPrediction) -> str:
    """The films a referenced heat map is read against (see conversion.heatmap_reference)."""
    return f", compared with {p.card.heatmap_compared_with}" if p.card is not None and p.card.heatmap_compared_with else ""


def _heatmap_caption(study: StudyRecord) -> str:
    explained, sides = explained_predictions(study), patient_sides(study.knee_joints)

    def where(p: StoredPrediction) -> str:
        return joint_heading(p.region_side, sides.get(p.region_side or "")).lower()

    if not explained:
        return "No heat map was computed for this study."
    first = explained[0]
    if len(explained) > 1:
        per_joint = ", ".join(f"{_explained_label(p)} ({where(p)})" for p in explained)
        return (f"Heat maps ({first.heatmap_method.upper()}, {first.model_name}): red marks the regions that drove "
                f"each knee's result most{_compared(first)}: {per_joint}.")
    place = f", {where(first)}" if first.region_side else ""
    return (f"Heat map ({first.heatmap_method.upper()}, {first.model_name}{place}): red marks the regions that "
            f"drove {_explained_label(first)} most{_compared(first)}.")


def _prediction_rows(p: StoredPrediction, patient_side: str | None) -> list[FindingRow]:
    target = p.positive_label or (p.labels[-1] if p.labels else "")
    # Words, not "\u2265": the bundled fonts are chosen for scripts, not maths symbols.
    threshold = (f"{readable_label(target, p.card)} if {percent(p.threshold, decimals=0)} or more"
                 if p.threshold is not None else "most probable class")
    where = {"model_id": p.model_id, "region_side": p.region_side, "patient_side": patient_side}
    rows = [FindingRow(model=p.model_name, result=readable_label(p.label, p.card), probability=percent(p.label_probability),
                       threshold=threshold, version=p.model_version, **where)]
    for d in p.derived:
        rows.append(FindingRow(model=d.name, result=d.label, probability=percent(d.probability),
                               threshold=f"{d.labels[1]} if {percent(d.threshold, decimals=0)} or more", version="",
                               derived=True, probability_of=d.labels[1], **where))
    return rows


def _age_on(born: str, when: date) -> str:
    try:
        dob = date.fromisoformat(born)
    except ValueError:
        return born
    years = when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))
    return f"{born} (age {years})"


def report_content(study: StudyRecord, *, clinic: ClinicSettings, generated_at: datetime) -> ReportContent:
    """Everything the report prints, in the order a reader meets it."""
    d = study.patient.details
    patient_rows = (
        ("Name", d.name or "\u2014"),
        ("Patient ID", d.patient_id or "\u2014"),
        ("Date of birth", _age_on(d.date_of_birth, study.created_at.date()) if d.date_of_birth else "\u2014"),
        ("Sex", d.sex.capitalize() if d.sex else "\u2014"),
    )
    acq = study.acquisition
    study_rows = [("Study type", study_type_name(study.body_part)), ("Image file", study.original_file_name)]
    study_rows += [(k, v) for k, v in (("Modality", acq.modality), ("Acquired", acq.study_date),
                                       ("Body part (DICOM)", acq.body_part), ("Equipment", acq.manufacturer)) if v]
    if acq.pixel_spacing_mm:
        study_rows.append(("Pixel spacing", f"{acq.pixel_spacing_mm[0]:.3f} \u00d7 {acq.pixel_spacing_mm[1]:.3f} mm"))
    if study.body_part_check is not None:
        study_rows.append(("Image check", study.body_part_check.verdict()))
    joints = _joints_row(study)
    if joints is not None:
        study_rows.append(joints)
    if study.measurements:
        study_rows.append(("Measurements", measurements_summary(study.measurements, acq.pixel_spacing_mm)))
    # One note per model, however many joints it read.
    distinct: dict[tuple[str, str], StoredPrediction] = {}
    for p in study.predictions:
        distinct.setdefault((p.model_name, p.model_version), p)
    notes = tuple(
        ModelNote(title=f"{p.model_name} (version {p.model_version})",
                  performance=performance_sentence(p.card, positive_label=p.positive_label), limits=limit_lines(p.card))
        for p in distinct.values()
    )
    return ReportContent(
        report_id=study.report_id,
        clinic_name=clinic.name.strip(),
        clinic_address=tuple(line for line in clinic.address.splitlines() if line.strip()),
        patient_rows=patient_rows,
        study_rows=tuple(study_rows),
        findings=finding_rows(study),
        warnings=study.all_warnings,
        heatmap_caption=_heatmap_caption(study),
        risk=risk_lines(study.risk),
        notes=study.notes.strip(),
        impression=study.impression.strip(),
        doctor_name=(study.doctor_name or clinic.doctor_name).strip(),
        model_notes=notes,
        disclaimer=DISCLAIMER,
        saved_at=f"{study.created_at:%Y-%m-%d %H:%M}",
        generated_at=f"{generated_at:%Y-%m-%d %H:%M}",
    )
