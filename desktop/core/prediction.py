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
    # Heat map in [0, 1] covering exactly the image's extent (padding removed), or the region
    # box for a regional prediction; the viewer stretches it over that rectangle, so it stays
    # aligned at any zoom. None when not computed.
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    heatmap_method: str = "none"
    heatmap_label: str | None = None  # which class the map gives evidence for
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    # What the model read when it did not read the whole image: a box (top, left, height,
    # width) in original image pixels, which may reach past the image edge, and the joint's
    # side (see desktop.core.joint_regions). None: the whole image.
    region: tuple[int, int, int, int] | None = None
    region_side: str | None = None

    @property
    def result_key(self) -> str:
        """Tells apart one model's answers for different joints: "knee_kl@image_left"."""
        return self.model_id if self.region_side is None else f"{self.model_id}@{self.region_side}"

    def probability_of(self, label: str) -> float:
        return self.probabilities[self.labels.index(label)]
