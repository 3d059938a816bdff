"""Held-out figures for a model card, from the same metric code the app's evaluate uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from desktop.core import metrics

__all__ = ["auc_per_source", "best_balanced_threshold", "summarise"]


def best_balanced_threshold(p_positive: np.ndarray, labels: np.ndarray) -> float:
    """Threshold on P(positive) that maximises balanced accuracy on validation data."""
    candidates = np.unique(np.round(np.clip(p_positive, 0.02, 0.98), 3))
    best, best_score = 0.5, -1.0
    for threshold in candidates:
        score = metrics.balanced_accuracy(labels, (p_positive >= threshold).astype(int))
        # Prefer thresholds near 0.5 on ties so calibrated probabilities read naturally.
        if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and abs(threshold - 0.5) < abs(best - 0.5)):
            best, best_score = float(threshold), score
    return best


def auc_per_source(positive: np.ndarray, scores: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """ROC AUC of ``scores`` (larger = positive) within each source, rounded to 3 places.

    Pooled data sets join sources of different look and class balance: a measure can separate
    the classes within one source and not another, which one pooled figure hides."""
    return {str(s): round(metrics.roc_auc(positive[sources == s], scores[sources == s]), 3) for s in sorted(set(sources))}


def summarise(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str],
    task: str,
    threshold: float | None = None,
    derived: Sequence[dict] = (),
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, AUC or kappa, confusion matrix and ECE for one split."""
    n_classes = len(class_names)
    if task == "binary" and threshold is not None:
        predicted = (probabilities[:, 1] >= threshold).astype(int)
    else:
        predicted = probabilities.argmax(axis=1)
    matrix = metrics.confusion_matrix(labels, predicted, n_classes)
    summary: dict[str, Any] = {
        "n": int(labels.size),
        "class_counts": {name: int((labels == i).sum()) for i, name in enumerate(class_names)},
        "accuracy": round(metrics.accuracy(labels, predicted), 4),
        "balanced_accuracy": round(metrics.balanced_accuracy(labels, predicted), 4),
        "confusion_matrix": {"labels": list(class_names), "matrix": matrix.tolist()},
        "per_class_recall": {
            name: round(float(matrix[i, i] / matrix[i].sum()), 4) if matrix[i].sum() else None
            for i, name in enumerate(class_names)
        },
        "expected_calibration_error": round(metrics.expected_calibration_error(probabilities, labels), 4),
    }
    if task == "binary":
        summary["roc_auc"] = round(metrics.roc_auc(labels == 1, probabilities[:, 1]), 4)
        tp, fn, fp, tn = matrix[1, 1], matrix[1, 0], matrix[0, 1], matrix[0, 0]
        summary["sensitivity"] = round(float(tp / (tp + fn)), 4) if tp + fn else None
        summary["specificity"] = round(float(tn / (tn + fp)), 4) if tn + fp else None
    if task == "ordinal":
        summary["quadratic_weighted_kappa"] = round(metrics.quadratic_weighted_kappa(labels, predicted, n_classes), 4)
        summary["mean_absolute_error_grades"] = round(float(np.abs(labels - predicted).mean()), 4)
    for item in derived:
        positive = [class_names.index(c) for c in item["positive_classes"]]
        p = probabilities[:, positive].sum(axis=1)
        truth = np.isin(labels, positive).astype(int)
        guess = (p >= item.get("threshold", 0.5)).astype(int)
        summary[item["id"]] = {
            "name": item["name"],
            "accuracy": round(metrics.accuracy(truth, guess), 4),
            "balanced_accuracy": round(metrics.balanced_accuracy(truth, guess), 4),
            "roc_auc": round(metrics.roc_auc(truth, p), 4),
            "confusion_matrix": {"labels": list(item["labels"]), "matrix": metrics.confusion_matrix(truth, guess, 2).tolist()},
        }
    return summary
