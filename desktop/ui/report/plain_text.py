"""The report as plain text, for pasting into a clinic record system, a referral letter or a
message: the same content as the printed report, minus the pictures and the model notes.

Findings keep their joint headings, so a grade can never be pasted as the other knee's, and
the warnings and the disclaimer travel with them.
"""

from __future__ import annotations

from desktop.ui.report.content import ReportContent

__all__ = ["report_text"]


def _pairs(rows: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{label}: {value}" for label, value in rows]


def report_text(content: ReportContent) -> str:
    lines = [f"X-ray report {content.report_id} (study saved {content.saved_at})"]
    if content.clinic_name:
        lines.append(content.clinic_name)
    lines += ["", "Patient", *_pairs(content.patient_rows), "", "Study", *_pairs(content.study_rows), "", "Findings"]
    lines += [f"Warning: {warning}" for warning in content.warnings]
    joint = ""
    for row in content.findings:
        if row.joint and row.joint != joint:
            lines.append(f"{row.joint}:")
        joint = row.joint
        indent = "  " * (bool(row.joint) + row.derived)
        lines.append(f"{indent}{row.model}: {row.result} ({row.probability_text}; {row.threshold})")
    if not content.findings:
        lines.append("No model analysed this study.")
    if content.risk:
        lines += ["", "Osteoporosis risk from patient data", *content.risk]
    for title, text in (("Doctor's notes", content.notes), ("Impression", content.impression)):
        if text:
            lines += ["", title, text]
    if content.doctor_name:
        lines += ["", f"Doctor: {content.doctor_name}"]
    lines += ["", content.disclaimer]
    return "\n".join(lines) + "\n"
