"""Clinical rules that need no model: the WHO T-score category and the Osteoporosis
Self-assessment Tool (OST).

They live apart from the model code because they are published rules, shown beside the
model's estimate so a clinician can compare the two.
"""

from __future__ import annotations

import math

__all__ = ["WHO_CATEGORIES", "ost_category", "ost_index", "who_category"]

WHO_CATEGORIES = ("normal", "osteopenia", "osteoporosis")


def who_category(t_score: float) -> str:
    """WHO densitometric category: normal T >= -1, osteoporosis T <= -2.5, osteopenia between."""
    if t_score is None or math.isnan(t_score):
        raise ValueError("a T-score is needed for the WHO category")
    if t_score >= -1.0:
        return "normal"
    if t_score <= -2.5:
        return "osteoporosis"
    return "osteopenia"


def ost_index(*, weight_kg: float, age: float) -> float:
    """Osteoporosis Self-assessment Tool: 0.2 x (weight in kg - age in years); lower = higher risk.

    Kept continuous (not truncated to an integer) so it can be compared with the model by AUC.
    """
    return 0.2 * (float(weight_kg) - float(age))


def ost_category(value: float) -> str:
    """OSTA risk band (Koh et al. 2001, derived for Asian post-menopausal women):
    high below -4, moderate from -4 to -1, low above -1."""
    if value < -4.0:
        return "high"
    if value <= -1.0:
        return "moderate"
    return "low"
