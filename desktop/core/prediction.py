"""What one model said about one image (or one patient), as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DerivedPrediction", "Prediction"]


@dataclass(frozen=True)
class DerivedPrediction:
    """A clinically named yes/no output computed from class probabilities (see the card)."""

    id: str
    name: str
    label: str
    probability: float  # of the positive label
    threshold: float
    labels: tuple[str, str]


@dataclass(frozen=True)
class Prediction:
    model_id: str
    model_version: str
    model_name: str
    body_part: str
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    label: str
    threshold: float | None
    positive_label: str | None
    calibrated: bool
    card_sha256: str
    derived: tuple[DerivedPrediction, ...] = ()
    # Heat map in [0, 1] covering exactly the image's extent (padding removed); the viewer
    # stretches it over the image, so it stays aligned at any zoom. None when not computed.
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    heatmap_method: str = "none"
    heatmap_label: str | None = None  # which class the map gives evidence for
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)

    def probability_of(self, label: str) -> float:
        return self.probabilities[self.labels.index(label)]
