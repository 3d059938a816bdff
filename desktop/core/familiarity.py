"""How familiar an image looks to a model, judged from the model's own features.

A classifier answers every input with probabilities that look just as sure on an image unlike
anything it learnt from. The knee osteoporosis model, fitted on two small sets of downsized
knee films, called 25 of 30 grade-0 Osteoarthritis Initiative knee crops "osteoporosis", most
above 95%: the crops look different, not osteoporotic. So a card may carry a ``familiarity``
block: a summary of the model's feature vectors (its last feature map averaged over the image)
on in-domain images, and a threshold on the distance from them that about 1 in 100 held-out
in-domain images exceed. Above it the app keeps the answer but warns that it may be unreliable.

The distance is a Mahalanobis distance in the main directions of variation (principal
components of the standardised features) plus the leftover part measured against its usual
size, so an image can be unusual either along the directions the reference images vary in or
in a direction they never vary in. Fitting and scoring live together here, so the conversion
script and the app can never disagree about the formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["UNFAMILIAR_WARNING", "Familiarity", "fit_familiarity", "parse_familiarity", "unfamiliar_explanation"]

UNFAMILIAR_WARNING = (
    "this image is unlike the images this model was fitted on; its answer may be unreliable"
)
# Below this spread a standardised feature is treated as constant, not divided by ~0.
_MIN_SCALE = 1e-6


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class Familiarity:
    """The reference summary and the threshold from a model card's ``familiarity`` block."""

    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,) standard deviation of each feature
    components: np.ndarray  # (k, features) principal directions of the standardised features
    variances: np.ndarray  # (k,) variance along each direction
    residual_variance: float  # mean squared length of what the k directions leave
    threshold: float = float("inf")  # distances above this are unfamiliar
    reference: dict[str, Any] | None = None  # what it was fitted on and how often it flags

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Distance of each row of ``features`` (or one vector) from the reference images:
        about 1.4 for a typical one (each of the two parts averages 1 there)."""
        z = (np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean) / self.scale
        projected = z @ self.components.T
        leftover = z - projected @ self.components
        along = (projected**2 / self.variances).mean(axis=1)
        across = (leftover**2).sum(axis=1) / self.residual_variance
        return np.sqrt(along + across)

    def is_unfamiliar(self, features: np.ndarray) -> bool:
        """True when the vector lies further from the reference images than the threshold."""
        return bool(self.distance(features)[0] > self.threshold)

    def with_threshold(self, threshold: float, reference: dict[str, Any] | None = None) -> Familiarity:
        return Familiarity(self.mean, self.scale, self.components, self.variances, self.residual_variance,
                           float(threshold), reference if reference is not None else self.reference)

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """JSON-ready card block; ``digits`` significant digits keep the card small."""
        def rounded(values: np.ndarray) -> list:
            return np.vectorize(lambda v: float(f"{v:.{digits}g}"), otypes=[float])(values).tolist()

        return {
            "method": "pca_mahalanobis",
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "components": rounded(self.components),
            "variances": rounded(self.variances),
            "residual_variance": float(f"{self.residual_variance:.{digits}g}"),
            "threshold": float(f"{self.threshold:.{digits}g}"),
            "reference": self.reference or {},
        }


def unfamiliar_explanation(familiarity: Familiarity | None) -> str:
    """What the warning means, in plain words, with the card's measured flag rates."""
    text = ("The model's internal description of this image lies further from those of the images it "
            "was fitted and checked on than for about 99 in 100 of them. Its answer on such an image "
            "was never measured, so it may be wrong however sure it looks.")
    reference = (familiarity.reference or {}) if familiarity is not None else {}
    held_out = reference.get("held_out_flagged")
    if isinstance(held_out, (int, float)):
        text += f" Held-out images like its own were flagged {held_out * 100:.1f}% of the time."
    return text


def fit_familiarity(features: np.ndarray, *, components: int = 32) -> Familiarity:
    """Summarise reference feature vectors (rows); the threshold is set later, from held-out
    distances (:meth:`Familiarity.with_threshold`)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError("need at least 3 reference feature vectors")
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), _MIN_SCALE)
    z = (x - mean) / scale
    k = max(1, min(components, x.shape[0] - 1, x.shape[1] - 1))
    _, singular, directions = np.linalg.svd(z, full_matrices=False)
    kept = directions[:k]
    variances = np.maximum(singular[:k] ** 2 / (x.shape[0] - 1), _MIN_SCALE)
    leftover = z - (z @ kept.T) @ kept
    residual = max(float((leftover**2).sum(axis=1).mean()), _MIN_SCALE)
    return Familiarity(mean, scale, kept, variances, residual)


def parse_familiarity(data: dict[str, Any] | None, *, n_features: int | None) -> Familiarity | None:
    """The card block as a :class:`Familiarity`; ``ValueError`` names what is inconsistent.

    ``n_features`` is the model's feature-map depth when the card knows it (heat-map weights).
    """
    if not data:
        return None
    if data.get("method") != "pca_mahalanobis":
        raise ValueError(f"familiarity.method must be 'pca_mahalanobis', got {data.get('method')!r}")
    mean = np.asarray(data["mean"], dtype=np.float64)
    scale = np.asarray(data["scale"], dtype=np.float64)
    components = np.asarray(data["components"], dtype=np.float64)
    variances = np.asarray(data["variances"], dtype=np.float64)
    d = mean.size
    if mean.ndim != 1 or scale.shape != (d,) or components.ndim != 2 or components.shape[1] != d:
        raise ValueError("familiarity: mean, scale and components disagree in length")
    if variances.shape != (components.shape[0],):
        raise ValueError("familiarity: one variance per component is needed")
    if n_features is not None and d != n_features:
        raise ValueError(f"familiarity: {d} features, but the model's feature map has {n_features}")
    residual, threshold = float(data["residual_variance"]), float(data["threshold"])
    if min(scale.min(), variances.min(), residual, threshold) <= 0:
        raise ValueError("familiarity: scales, variances and the threshold must be positive")
    return Familiarity(mean, scale, components, variances, residual, threshold, dict(data.get("reference", {})))
