"""The ordinal loss: cross-entropy plus a charge that grows with how far off the grade is."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from training import train_image_model  # noqa: E402
from training.ordinal_loss import GradeDistanceLoss  # noqa: E402


def _loss(weight: float, true_grade: int, probabilities: list[float]) -> float:
    return float(GradeDistanceLoss(5, weight)(np.array([true_grade]), np.array([probabilities], dtype=np.float32)))


def test_a_far_wrong_grade_costs_more_than_a_near_one_with_the_same_cross_entropy() -> None:
    near = [0.1, 0.2, 0.7, 0.0, 0.0]  # true grade 0, mass on grade 2
    far = [0.1, 0.2, 0.0, 0.0, 0.7]  # true grade 0, mass on grade 4
    assert _loss(0.0, 0, near) == _loss(0.0, 0, far)
    assert _loss(0.2, 0, far) > _loss(0.2, 0, near) > _loss(0.0, 0, near)


def test_the_added_charge_is_the_expected_squared_grade_distance() -> None:
    probabilities = [0.1, 0.6, 0.2, 0.1, 0.0]
    expected = 0.1 * 1 + 0.6 * 0 + 0.2 * 1 + 0.1 * 4  # true grade 1
    cross_entropy = -np.log(0.6)
    assert np.isclose(_loss(0.5, 1, probabilities), cross_entropy + 0.5 * expected, atol=1e-5)


def test_a_network_compiled_with_it_saves_and_loads() -> None:
    inputs = keras.Input((3,))
    network = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(inputs))
    network.compile(optimizer="adam", loss=GradeDistanceLoss(5, 0.15))
    network.fit(np.zeros((4, 3)), np.array([0, 1, 2, 4]), epochs=1, verbose=0)
    config = keras.losses.deserialize(keras.losses.serialize(network.loss))
    assert (config.n_classes, config.weight) == (5, 0.15)


def test_the_command_line_refuses_it_for_a_task_without_grades_or_below_zero(capsys) -> None:
    for argv in (["--task", "pneumonia", "--ordinal-weight", "0.2"], ["--task", "knee_kl", "--ordinal-weight", "-1"]):
        with pytest.raises(SystemExit) as stop:
            train_image_model.main([*argv, "--epochs", "0", "--data-root", "/nonexistent"])
        assert stop.value.code == 2, argv
        message = capsys.readouterr().err.strip().splitlines()[-1]
        assert "--ordinal-weight needs an ordinal task" in message
