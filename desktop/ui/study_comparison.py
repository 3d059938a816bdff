"""What changed between two saved studies: each finding of the earlier study beside the later.

Findings are matched by the knee joint they are about and the model (or derived output) that
made them, by model id. Knees pair by the patient's side when both studies name every knee
(a right knee with the right knee, however each film was displayed); otherwise by place, so
"image left" of the earlier film pairs with "image left" of the later one. A
finding only one study has is kept, with a dash on the other side: a joint not found or a
model not run then is itself worth seeing. Qt-free, so the pairing is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.core.records import StudyRecord
from desktop.ui.report.content import FindingRow, finding_rows

__all__ = ["ABSENT", "ComparedFinding", "compare_findings", "days_apart", "different_patients", "findings_headers",
           "in_time_order", "result_text"]

ABSENT = "\u2014"


@dataclass(frozen=True)
class ComparedFinding:
    joint: str  # "Knee on image left"; "" for the whole image
    model: str  # the model's name, or a derived output's ("Radiographic osteoarthritis (KL >= 2)")
    derived: bool
    earlier: FindingRow | None  # None: the earlier study has no such finding
    later: FindingRow | None

    @property
    def where(self) -> str:
        return self.joint or "whole image"

    @property
    def changed(self) -> bool:
        """Both studies have the finding and its result differs (a probability moving alone is no change)."""
        return self.earlier is not None and self.later is not None and self.earlier.result != self.later.result


def in_time_order(first: StudyRecord, second: StudyRecord) -> tuple[StudyRecord, StudyRecord]:
    """(earlier, later) by when each study was saved (the order of saving breaks a tie)."""
    earlier, later = sorted((first, second), key=lambda study: (study.created_at, study.key))
    return earlier, later


def days_apart(earlier: StudyRecord, later: StudyRecord) -> int:
    return (later.created_at.date() - earlier.created_at.date()).days


def different_patients(earlier: StudyRecord, later: StudyRecord) -> str | None:
    """The warning the dialog and the printed comparison show when the studies are of two patients."""
    if earlier.patient.key == later.patient.key:
        return None
    return f"These studies belong to different patients ({earlier.patient.display_name} and {later.patient.display_name})."


def findings_headers(earlier: StudyRecord, later: StudyRecord) -> tuple[str, ...]:
    """Column headings of the findings table, each study's column dated."""
    return ("Where", "Finding", f"Earlier ({earlier.created_at:%Y-%m-%d})", f"Later ({later.created_at:%Y-%m-%d})", "")


def result_text(row: FindingRow | None) -> str:
    """"Grade 2 (37.0%)", "Normal (Osteoarthritis 45.0%)" for a derived output (whose
    probability is its positive label's), or a dash when the study has no such finding."""
    return f"{row.result} ({row.probability_text})" if row is not None else ABSENT


def compare_findings(earlier: StudyRecord, later: StudyRecord) -> tuple[ComparedFinding, ...]:
    """Every finding of either study, paired; in the earlier study's order, then the later's new ones."""
    by_patient_side = all(study.knee_joints and all(j.patient_side for j in study.knee_joints)
                          for study in (earlier, later))

    def keyed(study: StudyRecord) -> dict[tuple[str, str, str], FindingRow]:
        # By model id, not name: a model renamed in a later version still pairs with itself.
        return {((row.patient_side if by_patient_side else row.region_side) or "", row.model_id,
                 row.model if row.derived else ""): row for row in finding_rows(study)}

    before, after = keyed(earlier), keyed(later)
    paired = []
    for key in dict.fromkeys([*before, *after]):
        newest = after.get(key) or before[key]
        paired.append(ComparedFinding(joint=newest.joint, model=newest.model, derived=newest.derived,
                                      earlier=before.get(key), later=after.get(key)))
    return tuple(paired)
