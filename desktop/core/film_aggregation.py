"""One answer per film from a regional model's answers per knee joint (for ``evaluate``).

A whole-film data set is labelled per film ("Osteoarthritis", "Normal"), while a knee model
answers per joint. The card's ``film_aggregation`` says how the joints' answers combine:

* ``"worst_joint"``: the joint with the most disease speaks for the film, so a bilateral film
  counts as osteoarthritis when either knee is. "Most disease" is the positive probability
  (a derived output's or a binary model's), the expected grade for an ordinal model, and the
  probability of anything but the first label (the normal class) for other multiclass models.
* ``"mean"``: the probabilities averaged over joints, then decided by the card's own rule;
  for conditions of the whole skeleton (osteoporosis), where two joints are two looks at one
  answer rather than two answers.

Rows are probability lists over the evaluated labels: the card's labels, or (negative,
positive) for a derived output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from desktop.core.model_card import DerivedOutput, ModelCard

__all__ = ["decide_row", "film_answer", "severity"]


def _positive_index(card: ModelCard) -> int | None:
    if card.task != "binary" or len(card.labels) != 2:
        return None
    return card.labels.index(card.positive_label) if card.positive_label else 1


def severity(row: Sequence[float], *, card: ModelCard, derived: DerivedOutput | None) -> float:
    """How much disease one joint's row shows; higher is worse (see the module docstring)."""
    values = np.asarray(row, dtype=np.float64)
    if derived is not None:
        return float(values[1])
    positive = _positive_index(card)
    if positive is not None:
        return float(values[positive])
    if card.task == "ordinal":
        return float(np.dot(np.arange(values.size), values))
    return float(1.0 - values[0])


def decide_row(row: Sequence[float], *, card: ModelCard, derived: DerivedOutput | None) -> int:
    """The label index the app would report for ``row``: the same rules as a single image."""
    values = np.asarray(row, dtype=np.float64)
    if derived is not None:
        return 1 if values[1] >= derived.threshold else 0
    positive = _positive_index(card)
    if positive is not None and card.threshold is not None:
        return positive if values[positive] >= card.threshold else 1 - positive
    return int(np.argmax(values))


def film_answer(
    joint_rows: Sequence[tuple[int, Sequence[float]]], *, card: ModelCard, derived: DerivedOutput | None
) -> tuple[int, list[float]]:
    """(label index, probability row) for a film from its joints' (label index, row) pairs."""
    if not joint_rows:
        raise ValueError("a film needs at least one joint's answer")
    method = card.film_aggregation or "worst_joint"
    if method == "mean":
        mean = np.mean([np.asarray(row, dtype=np.float64) for _, row in joint_rows], axis=0)
        return decide_row(mean, card=card, derived=derived), [float(v) for v in mean]
    if method != "worst_joint":
        raise ValueError(f"unknown film aggregation {method!r}")
    worst = max(joint_rows, key=lambda pair: severity(pair[1], card=card, derived=derived))
    return worst[0], [float(v) for v in worst[1]]
