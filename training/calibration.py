"""Temperature scaling (Guo et al. 2017): one scalar that makes softmax confidences honest.

For more than two classes a per-class offset on the logits can be fitted with it (the bias
terms of Guo et al.'s vector scaling): a network trained with class weights keeps a skewed
view of how common each grade is, and the offsets, fitted on validation log-likelihood, undo
that skew. With two classes the decision threshold does that job instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_temperature", "fit_temperature_and_bias", "softmax"]


def softmax(logits: np.ndarray, temperature: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    """softmax(logits / temperature + bias): the exported graph's calibrated probabilities."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if bias is not None:
        scaled = scaled + np.asarray(bias, dtype=np.float64)
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(labels.size), labels], 1e-12, None))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, low: float = 0.05, high: float = 20.0) -> float:
    """Temperature minimising validation negative log-likelihood (golden-section on log T).

    The NLL is unimodal in log T for a fixed set of logits, so a bracketing search is enough
    and needs no optimiser dependency.
    """
    labels = np.asarray(labels, dtype=np.int64)
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c = b - ratio * (b - a)
    d = a + ratio * (b - a)
    for _ in range(80):
        if _nll(logits, labels, np.exp(c)) < _nll(logits, labels, np.exp(d)):
            b = d
        else:
            a = c
        c = b - ratio * (b - a)
        d = a + ratio * (b - a)
    return float(np.exp((a + b) / 2.0))


def fit_temperature_and_bias(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Temperature and per-class logit offsets minimising validation negative log-likelihood.

    Starts from the temperature-only fit; the offsets are centred (a common shift changes
    nothing), so they read as how much each class is pushed up or down.
    """
    from scipy.optimize import minimize  # training-only dependency (comes with scikit-learn)

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(labels.size)

    def nll(params: np.ndarray) -> float:
        probabilities = softmax(logits, float(np.exp(params[0])), params[1:])
        return float(-np.mean(np.log(np.clip(probabilities[rows, labels], 1e-12, None))))

    start = np.concatenate([[np.log(fit_temperature(logits, labels))], np.zeros(logits.shape[1])])
    result = minimize(nll, start, method="L-BFGS-B")
    params = result.x if result.fun <= nll(start) else start
    bias = params[1:] - params[1:].mean()
    return float(np.exp(params[0])), bias
