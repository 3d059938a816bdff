"""Shared metrics against brute-force or hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop.core.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    expected_calibration_error,
    quadratic_weighted_kappa,
    roc_auc,
)


def _pairwise_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    positives = score[y_true == 1]
    negatives = score[y_true == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 60)
    score = np.round(rng.random(60) + 0.3 * y_true, 1)  # rounding creates many ties
    assert roc_auc(y_true, score) == pytest.approx(_pairwise_auc(y_true, score), abs=1e-12)


def test_roc_auc_edge_cases() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_quadratic_weighted_kappa() -> None:
    grades = np.array([0, 1, 2, 3, 4, 2])
    assert quadratic_weighted_kappa(grades, grades, 5) == pytest.approx(1.0)
    # By hand: O has (0,0), (1,2), (2,2); rows sum to 1, columns to (1, 0, 2); weights (i-j)^2/4.
    # sum(w*O) = 1/4, sum(w*E) = 2/3 + 1/4 + 1/3 = 5/4, kappa = 1 - (1/4)/(5/4) = 0.8.
    assert quadratic_weighted_kappa(np.array([0, 1, 2]), np.array([0, 2, 2]), 3) == pytest.approx(0.8)
    # Predicting the reverse grade is worse than chance.
    assert quadratic_weighted_kappa(np.array([0, 1, 2, 3, 4]), np.array([4, 3, 2, 1, 0]), 5) == pytest.approx(-1.0)


def test_accuracy_balanced_accuracy_and_confusion_matrix() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2])
    assert accuracy(y_true, y_pred) == pytest.approx(5 / 7)
    assert balanced_accuracy(y_true, y_pred) == pytest.approx((3 / 4 + 1 + 1 / 2) / 3)
    expected = np.array([[3, 1, 0], [0, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), expected)
    # Classes absent from y_true do not dilute balanced accuracy.
    assert balanced_accuracy(np.array([0, 0, 0, 0, 1]), np.array([0, 0, 0, 0, 0])) == pytest.approx(0.5)
    assert confusion_matrix(np.array([1]), np.array([1]), 4).sum() == 1


def test_expected_calibration_error() -> None:
    # 400 predictions at confidence 0.75 with 300 right, 200 at 0.95 with 190 right: calibrated.
    confidence = np.concatenate([np.full(400, 0.75), np.full(200, 0.95)])
    probabilities = np.stack([confidence, 1 - confidence], axis=1)
    y_true = np.ones(600, dtype=int)
    y_true[:300] = 0
    y_true[400:590] = 0
    assert expected_calibration_error(probabilities, y_true) == pytest.approx(0.0, abs=1e-12)
    # Always right at confidence 0.9: under-confident by exactly 0.1.
    sure = np.tile([0.9, 0.1], (50, 1))
    assert expected_calibration_error(sure, np.zeros(50, dtype=int)) == pytest.approx(0.1)
