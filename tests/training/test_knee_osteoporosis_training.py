"""The knee osteoporosis head: trained on every view of a film's joints, scored on the film as it is."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

from training.train_knee_osteoporosis import TRAINING_DETAIL, _rows, cross_validate, joint_features, repeated_auc  # noqa: E402


def _crops_by_level(films: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(8)
    return [[rng.uniform(size=(1 + i % 2, 4, 4, 1)).astype(np.float32) for i in range(films)] for _ in TRAINING_DETAIL]


def test_every_detail_level_is_read_as_it_is_and_mirrored() -> None:
    crops = _crops_by_level(3)
    views = joint_features(crops, lambda batch: batch[:, 0, :, 0])  # a joint's "features": its top row
    assert len(views) == 2 * len(TRAINING_DETAIL)
    np.testing.assert_array_equal(views[0][1], crops[0][1][:, 0, :, 0])
    np.testing.assert_array_equal(views[1][1], crops[0][1][:, 0, ::-1, 0])
    x, y, groups = _rows([0, 2], views, labels=[0, 1, 1])
    joints = len(crops[0][0]) + len(crops[0][2])
    assert x.shape == (joints * len(views), 4)
    assert sorted(set(groups)) == [0, 2] and y[groups == 2].tolist() == [1] * int((groups == 2).sum())


def test_films_are_scored_on_the_first_view_only() -> None:
    """Extra views teach the head; a film's figure comes from its joints as they are."""
    rng = np.random.default_rng(9)
    labels = [i % 2 for i in range(40)]
    as_is = [np.array([[3.0 * label + rng.normal()]]) for label in labels]
    noise = [rng.normal(size=(1, 1)) for _ in labels]
    separable = cross_validate([as_is, noise], labels, n_classes=2, seed=1)
    swapped = cross_validate([noise, as_is], labels, n_classes=2, seed=1)
    p_separable, p_swapped = (np.exp(cv["logits"][:, 1]) for cv in (separable, swapped))
    truth = separable["labels"] == 1
    assert p_separable[truth].mean() - p_separable[~truth].mean() > 0.5
    assert abs(p_swapped[truth].mean() - p_swapped[~truth].mean()) < 0.3


def test_repeated_fold_assignments_each_give_their_own_auc() -> None:
    rng = np.random.default_rng(10)
    labels = [i % 2 for i in range(60)]
    weak = [np.array([[0.8 * label + rng.normal()]]) for label in labels]
    repeated = repeated_auc([weak], labels, ("normal", "osteoporosis"), seed=5, repeats=4)
    auc = repeated["roc_auc"]
    assert repeated["fold_seeds"] == [5, 6, 7, 8] and len(auc["values"]) == 4
    assert len(set(auc["values"])) > 1, "every assignment gave the same AUC: the folds did not change"
    assert auc["min"] <= auc["mean"] <= auc["max"] and 0.5 < auc["mean"] < 1.0
