"""Human-readable text for the panels: percentages, held-out metrics, image facts.

Qt-free so the wording is unit-tested on its own and reused by the About box.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from desktop.core.imaging import XRayImage
    from desktop.ui.pixel_probe import PixelProbe

__all__ = [
    "STUDY_TYPES",
    "DISCLAIMER",
    "counted",
    "image_info_rows",
    "metric_lines",
    "percent",
    "probe_text",
    "study_type_name",
]

# (body_part value in the model cards, what the user reads), in menu order.
STUDY_TYPES: tuple[tuple[str, str], ...] = (("knee", "Knee"), ("chest", "Chest"), ("other_bone", "Other bone"))
DISCLAIMER = "Decision support only \u2014 not a diagnosis. Findings must be confirmed by a qualified clinician."

# Metric keys that are proportions (shown as %), and those shown as plain scores, in the
# order a clinician reads them. Anything else numeric is still shown, after these.
_PROPORTIONS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "precision": "precision",
    "recall": "recall",
    "ppv": "PPV",
    "npv": "NPV",
}
_SCORES = {
    "roc_auc": ("ROC AUC", 3),
    "auc": ("ROC AUC", 3),
    "quadratic_weighted_kappa": ("quadratic weighted \u03ba", 3),
    "f1": ("F1", 2),
    "mean_absolute_error_grades": ("mean absolute error", 2),
    "expected_calibration_error": ("ECE", 3),
}
_SPLIT_TITLES = {
    "test": "Internal test",
    "internal_test": "Internal test",
    "external": "External test",
    "external_test": "External test",
    "val": "Validation",
    "validation": "Validation",
}
_SKIP = {"n", "class_counts", "confusion_matrix", "per_class_recall", "name", "labels"}


def study_type_name(body_part: str) -> str:
    """'other_bone' -> 'Other bone'."""
    return dict(STUDY_TYPES).get(body_part, body_part.replace("_", " ").capitalize())


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """"1 file", "3 files", "2 studies" (``plural`` for nouns that do not just take an s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def percent(probability: float, *, decimals: int = 1) -> str:
    """0.7312 -> '73.1%'."""
    if probability is None or math.isnan(probability):
        return "n/a"
    return f"{probability * 100:.{decimals}f}%"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _format_metric(key: str, value: float) -> str:
    if math.isnan(value):
        return f"{_PROPORTIONS.get(key) or _SCORES.get(key, (key,))[0]} n/a"
    if key in _PROPORTIONS:
        return f"{_PROPORTIONS[key]} {value * 100:.1f}%"
    if key in _SCORES:
        name, digits = _SCORES[key]
        return f"{name} {value:.{digits}f}"
    return f"{key.replace('_', ' ')} {value:.3g}"


def _metric_parts(figures: Mapping[str, Any]) -> list[str]:
    order = list(_PROPORTIONS) + list(_SCORES)
    keys = [k for k in order if k in figures] + sorted(k for k in figures if k not in order)
    return [_format_metric(k, float(figures[k])) for k in keys if k not in _SKIP and _is_number(figures[k])]


def _split_line(title: str, figures: Mapping[str, Any]) -> list[str]:
    lines = []
    parts = _metric_parts(figures)
    n = figures.get("n")
    head = f"{title} (n={n})" if _is_number(n) else title
    if parts:
        lines.append(f"{head}: {', '.join(parts)}")
    # Nested figures for derived outputs, e.g. {"oa": {"name": "Radiographic OA", "roc_auc": ...}}.
    for key, value in figures.items():
        if isinstance(value, Mapping) and key not in _SKIP:
            sub = _metric_parts(value)
            if sub:
                lines.append(f"\u2003{value.get('name', key)}: {', '.join(sub)}")
    return lines


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """One line per held-out split found in a card's ``metrics``, numbers only.

    Accepts either a flat summary ({"n": 624, "accuracy": 0.91, ...}) or summaries keyed by
    split ({"test": {...}, "val": {...}}); test splits come first because they were not used
    to tune anything.
    """
    if not metrics:
        return []
    if any(_is_number(v) for k, v in metrics.items() if k != "n"):
        # Small datasets are scored by cross-validation instead of one held-out split.
        cross_validated = "cross-validation" in str(metrics.get("split", ""))
        return _split_line("Cross-validated" if cross_validated else "Held-out test", metrics)
    splits = [(k, v) for k, v in metrics.items() if isinstance(v, Mapping)]
    splits.sort(key=lambda kv: (0 if "test" in kv[0] or kv[0] == "external" else 1))
    lines: list[str] = []
    for key, figures in splits:
        lines.extend(_split_line(_SPLIT_TITLES.get(key, key.replace("_", " ").capitalize()), figures))
    return lines


def image_info_rows(image: XRayImage) -> list[tuple[str, str]]:
    """(label, value) rows for the image info panel."""
    rows = [
        ("File", Path(image.source_path).name),
        ("Format", image.format),
        ("Size", f"{image.width} \u00d7 {image.height} px"),
        ("Bit depth", f"{image.bits_stored} bits stored"),
    ]
    if image.pixel_spacing_mm:
        row_mm, col_mm = image.pixel_spacing_mm
        rows.append(("Pixel spacing", f"{row_mm:.3f} \u00d7 {col_mm:.3f} mm"))
        rows.append(("Field of view", f"{image.width * col_mm:.0f} \u00d7 {image.height * row_mm:.0f} mm"))
    else:
        rows.append(("Pixel spacing", "not recorded"))
    shown = {label for label, _ in rows}
    rows.extend((str(k), str(v)) for k, v in image.info.items() if str(k) not in shown)
    rows.append(("SHA-256", image.sha256[:16] + "\u2026"))
    return rows


def probe_text(probe: PixelProbe | None) -> str:
    """Status-bar text for the pixel under the cursor."""
    if probe is None:
        return ""
    text = f"x {probe.col}, y {probe.row}  value {probe.value:.3f}"
    if probe.x_mm is not None and probe.y_mm is not None:
        text += f"  ({probe.x_mm:.1f}, {probe.y_mm:.1f} mm)"
    return text
