"""Temperature and class-offset calibration fitted on validation logits."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy", reason="training extras not installed")

from training.calibration import fit_temperature, fit_temperature_and_bias, softmax  # noqa: E402


def _sampled(logits: np.ndarray, temperature: float, bias: np.ndarray, seed: int) -> np.ndarray:
    """Labels drawn from softmax(logits / temperature + bias): the truth the fit should find."""
    rng = np.random.default_rng(seed)
    probabilities = softmax(logits, temperature, bias)
    return np.array([rng.choice(probabilities.shape[1], p=row) for row in probabilities])


def test_offsets_and_temperature_are_recovered_from_skewed_labels() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, size=(6000, 4))
    true_bias = np.array([-0.6, 0.1, 0.2, 0.3])  # centred, as the fit reports it
    labels = _sampled(logits, 1.5, true_bias, seed=1)
    temperature, bias = fit_temperature_and_bias(logits, labels)
    assert temperature == pytest.approx(1.5, rel=0.1)
    np.testing.assert_allclose(bias, true_bias, atol=0.12)
    assert bias.sum() == pytest.approx(0.0, abs=1e-9)


def test_without_skew_the_offsets_stay_near_zero_and_the_temperature_matches_the_scalar_fit() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0.0, 2.0, size=(6000, 3))
    labels = _sampled(logits, 0.8, np.zeros(3), seed=3)
    temperature, bias = fit_temperature_and_bias(logits, labels)
    assert np.abs(bias).max() < 0.1
    assert temperature == pytest.approx(fit_temperature(logits, labels), rel=0.05)


def test_softmax_applies_offsets_after_the_temperature() -> None:
    logits = np.array([[2.0, 0.0]])
    np.testing.assert_allclose(softmax(logits, 2.0, np.array([0.0, 1.0])), softmax(np.array([[1.0, 1.0]])))
