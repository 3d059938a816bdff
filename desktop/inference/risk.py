"""The osteoporosis risk model: one patient record in, one explained risk estimate out.

The ONNX pipeline (imputer -> scaler -> logistic regression) gives the probability. The card
carries the same pipeline's weights, so each factor's share of the log-odds is computed exactly
in NumPy: ``coef_i * (x_i - mean_i) / scale_i`` after imputation. Every assessment checks that
those shares plus the intercept reproduce the ONNX logit; a card that disagrees with its model
raises instead of showing a made-up explanation.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.core.model_card import ModelCard
from desktop.core.patient import FeatureSpec, PatientRecord, feature_vector, ost_category, parse_feature_specs
from desktop.inference.registry import LoadedModel, ModelRegistry
from desktop.inference.session import InferenceError

__all__ = ["Contribution", "OstComparison", "RiskAssessment", "RiskModel", "RiskModelError"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "osteoporosis_risk"
LOGIT_TOLERANCE = 1e-5
_FLOAT32_STEP = 2.0**-23  # spacing of float32 just below 1: how finely ONNX Runtime reports a probability
_OST_NOTE = ("OST = 0.2 \u00d7 (weight kg \u2212 age); a two-number rule, lower is higher risk. Its bands "
             "(high < \u22124, moderate \u22124 to \u22121, low > \u22121) were derived for Asian post-menopausal women.")


class RiskModelError(RuntimeError):
    """The risk model cannot be used or its card disagrees with it."""


@dataclass(frozen=True)
class Contribution:
    """One factor's exact share of the log-odds (positive raises the risk)."""

    name: str
    label: str
    unit: str
    kind: str
    value: float | None  # as recorded; None = unknown
    used_value: float  # what the model used (the training mean when unknown)
    log_odds: float

    @property
    def imputed(self) -> bool:
        return self.value is None

    @property
    def direction(self) -> str:
        if self.imputed or abs(self.log_odds) < 1e-9:
            return "no effect"
        return "raises risk" if self.log_odds > 0 else "lowers risk"

    def value_text(self) -> str:
        if self.value is None:
            return "unknown"
        if self.kind == "binary":
            return "yes" if self.value >= 0.5 else "no"
        digits = 2 if self.unit == "m" else 1
        number = f"{round(self.value, digits):g}"
        return f"{number} {self.unit}".strip() if self.unit not in {"", "count"} else number

    def describe(self) -> str:
        """'Age 72 years: raises risk'; yes/no factors read 'Smoker (no): lowers risk'."""
        if self.kind == "binary" or self.value is None:
            return f"{self.label} ({self.value_text()}): {self.direction}"
        return f"{self.label} {self.value_text()}: {self.direction}"


@dataclass(frozen=True)
class OstComparison:
    value: float
    category: str  # "high" | "moderate" | "low"
    note: str = _OST_NOTE


@dataclass(frozen=True)
class RiskAssessment:
    model_id: str
    model_version: str
    card_sha256: str
    probability: float  # of the positive label, from the ONNX model
    label: str
    positive_label: str
    threshold: float
    logit: float
    intercept: float
    contributions: tuple[Contribution, ...]  # largest |log_odds| first
    ost: OstComparison
    who_category: str | None  # from a measured T-score, by the WHO rule (not the model)
    what_the_model_cannot_know: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def is_positive(self) -> bool:
        return self.label == self.positive_label


@dataclass(frozen=True)
class _Linear:
    intercept: float
    coefficients: np.ndarray
    statistics: np.ndarray
    mean: np.ndarray
    scale: np.ndarray


def _linear_from_card(card: ModelCard, n: int) -> _Linear | None:
    raw = card.raw.get("explanation")
    if not raw:
        return None
    try:
        parts = [np.asarray(raw[key], dtype=np.float64) for key in ("coefficients", "imputer_statistics", "scaler_mean", "scaler_scale")]
        intercept = float(raw["intercept"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RiskModelError(f"model {card.id!r}: its explanation block is malformed ({exc})") from exc
    if any(p.shape != (n,) for p in parts) or np.any(parts[3] == 0):
        raise RiskModelError(f"model {card.id!r}: explanation weights do not match its {n} features")
    return _Linear(intercept, *parts)


class RiskModel:
    """A verified tabular model plus what the card says about its features and limits."""

    def __init__(self, loaded: LoadedModel) -> None:
        card = loaded.card
        if card.task != "tabular":
            raise RiskModelError(f"model {card.id!r} is a {card.task} model, not a patient-data model")
        try:
            self.features: tuple[FeatureSpec, ...] = parse_feature_specs(card.raw.get("features", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise RiskModelError(f"model {card.id!r}: {exc}") from exc
        n = len(self.features)
        if card.input_shape and card.input_shape[-1] not in (None, n):
            raise RiskModelError(f"model {card.id!r} takes {card.input_shape[-1]} inputs but lists {n} features")
        if card.positive_label is None or card.threshold is None:
            raise RiskModelError(f"model {card.id!r}: its card needs a positive label and a threshold")
        self.loaded = loaded
        self.card = card
        self._positive = card.labels.index(card.positive_label)
        self._linear = _linear_from_card(card, n)
        self._logit_output: str | None = card.raw.get("outputs", {}).get("logits")
        self._ranges = {f["name"]: f.get("training_range") for f in card.raw.get("features", [])}
        cannot = card.raw.get("what_the_model_cannot_know") or list(card.limitations)
        self.what_the_model_cannot_know: tuple[str, ...] = tuple(str(v) for v in cannot)
        self._self_check()

    @classmethod
    def from_registry(cls, registry: ModelRegistry, *, model_id: str = DEFAULT_MODEL_ID) -> RiskModel:
        try:
            return cls(registry.get(model_id))
        except KeyError as exc:
            raise RiskModelError(str(exc.args[0])) from exc

    @classmethod
    def from_models_dir(cls, models_dir: Path | None = None, *, model_id: str = DEFAULT_MODEL_ID) -> RiskModel:
        """Discover through the registry, so the hash and IO checks are the app's usual ones."""
        return cls.from_registry(ModelRegistry.discover(models_dir), model_id=model_id)

    def _run(self, row: np.ndarray) -> tuple[float, float, float]:
        """(P(positive), ONNX log-odds, how closely that log-odds is known) for one feature row."""
        outputs = [self.card.probabilities_output, *([self._logit_output] if self._logit_output else [])]
        try:
            values = self.loaded.session.run(row[None, :].astype(np.float32), outputs=outputs)
        except InferenceError as exc:
            raise RiskModelError(str(exc)) from exc
        probs = values[outputs[0]]
        p_pos = float(probs[0, self._positive])
        if self._logit_output:
            # Exported without the logistic step: exact to float32 rounding at any probability.
            return p_pos, float(values[self._logit_output][0, self._positive]), LOGIT_TOLERANCE
        p_neg = float(probs[0, 1 - self._positive]) if probs.shape[1] == 2 else 1.0 - p_pos
        # Without a logits output, rebuild it from the probabilities; near 0 or 1 a float32
        # probability pins the log-odds down only to about one float32 step / min(p, 1 - p).
        logit = math.log(max(p_pos, 1e-300)) - math.log(max(p_neg, 1e-300))
        return p_pos, logit, LOGIT_TOLERANCE + _FLOAT32_STEP / max(min(p_pos, p_neg), 1e-12)

    def _self_check(self) -> None:
        """All answers unknown -> every factor sits at its mean -> logit must be the intercept."""
        if self._linear is None:
            return
        _, logit, tolerance = self._run(np.full(len(self.features), np.nan))
        if abs(logit - self._linear.intercept) > tolerance:
            raise RiskModelError(f"model {self.card.id!r}: card intercept {self._linear.intercept:.6f} "
                                 f"disagrees with the model ({logit:.6f})")

    def assess(self, record: PatientRecord) -> RiskAssessment:
        """Risk estimate, exact per-factor contributions, the OST rule and the WHO rule for one patient."""
        row = feature_vector(record, self.features)
        probability, onnx_logit, tolerance = self._run(row)
        warnings = self._range_warnings(row)
        contributions: tuple[Contribution, ...] = ()
        logit, intercept = onnx_logit, float("nan")
        if self._linear is not None:
            lin = self._linear
            used = np.where(np.isnan(row), lin.statistics, row)
            shares = lin.coefficients * (used - lin.mean) / lin.scale
            logit, intercept = lin.intercept + float(shares.sum()), lin.intercept
            if abs(logit - onnx_logit) > tolerance:
                raise RiskModelError(f"the card's weights give log-odds {logit:.6f}, the model {onnx_logit:.6f}")
            contributions = tuple(sorted(
                (Contribution(name=s.name, label=s.label, unit=s.unit, kind=s.kind,
                              value=None if math.isnan(row[i]) else float(row[i]), used_value=float(used[i]),
                              log_odds=float(shares[i]))
                 for i, s in enumerate(self.features)),
                key=lambda c: -abs(c.log_odds)))
        else:
            warnings.append("This model's card does not explain its factors; only the overall risk is shown.")
        unknown = [s.label for s, v in zip(self.features, row) if math.isnan(v)]
        if unknown:
            warnings.append(f"Not answered, so counted as average: {', '.join(unknown)}.")
        if not record.is_female:
            warnings.append("OST bands were derived for women; for men compare the model and OST with care.")
        ost = record.ost
        label = self.card.labels[self._positive] if probability >= self.card.threshold else self.card.labels[1 - self._positive]
        log.info("risk %s: p=%.3f label=%s", self.card.id, probability, label)
        return RiskAssessment(
            model_id=self.card.id, model_version=self.card.version, card_sha256=self.card.sha256,
            probability=probability, label=label, positive_label=self.card.labels[self._positive],
            threshold=float(self.card.threshold), logit=logit, intercept=intercept, contributions=contributions,
            ost=OstComparison(value=ost, category=ost_category(ost)), who_category=record.who_category,
            what_the_model_cannot_know=self.what_the_model_cannot_know, warnings=tuple(warnings),
        )

    def _range_warnings(self, row: np.ndarray) -> list[str]:
        """Values outside what the model saw in training: it extrapolates there."""
        notes = []
        for spec, value in zip(self.features, row):
            span = self._ranges.get(spec.name)
            if span and spec.kind == "number" and not math.isnan(value) and not span[0] <= value <= span[1]:
                unit = f" {spec.unit}" if spec.unit not in {"", "count"} else ""
                notes.append(f"{spec.label} {value:g}{unit} is outside the range the model learned from ({span[0]:g}-{span[1]:g}{unit}).")
        return notes
