"""Temperature scaling (Guo et al. 2017): one scalar that makes softmax confidences honest."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_temperature", "softmax"]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
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
