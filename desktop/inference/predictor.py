"""Run one image model on one decoded image and describe the result as a :class:`Prediction`.

Every decision rule (threshold, positive label, derived outputs, heat-map method) comes from
the model card, so the UI and the command line show the same answer for the same file.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from desktop.core.familiarity import UNFAMILIAR_WARNING
from desktop.core.prediction import DerivedPrediction, Prediction
from desktop.inference.heatmap import class_activation_map, map_to_image, occlusion_map
from desktop.inference.preprocess import PreparedInput, prepare
from desktop.inference.registry import LoadedModel
from desktop.inference.session import InferenceError

__all__ = ["PredictionError", "feature_map", "feature_vector", "predict_image"]

log = logging.getLogger(__name__)

# Probabilities from a softmax in float32 sum to 1 within ~1e-6; anything further off means
# the graph does not end in a softmax and the numbers must not be shown as probabilities.
_SUM_TOLERANCE = 1e-3
# Aspect ratios further apart than this get visibly distorted by a "squash" resize.
_STRETCH_WARNING_RATIO = 2.0
# Beyond twice its own size an image holds under half the detail per input pixel that the
# model reads, which matters most for thin lines such as a fracture.
_ENLARGEMENT_WARNING = 2.0


class PredictionError(RuntimeError):
    """A model ran but its output cannot be trusted, or it cannot run on this input."""


def _probabilities(raw: np.ndarray, model: LoadedModel) -> np.ndarray:
    card = model.card
    values = np.asarray(raw, dtype=np.float64).reshape(-1)
    if values.size != len(card.labels):
        raise PredictionError(
            f"model {card.id!r} returned {values.size} probabilities for {len(card.labels)} labels"
        )
    if not np.all(np.isfinite(values)):
        raise PredictionError(f"model {card.id!r} returned non-finite probabilities (NaN or infinity)")
    if values.min() < -_SUM_TOLERANCE or abs(values.sum() - 1.0) > _SUM_TOLERANCE:
        raise PredictionError(f"model {card.id!r} returned values that are not probabilities (sum {values.sum():.4f})")
    values = np.clip(values, 0.0, None)
    return values / values.sum()


def _binary_positive(model: LoadedModel) -> int | None:
    """Index of the positive label of a two-label binary model, else None."""
    card = model.card
    if card.task != "binary" or len(card.labels) != 2:
        return None
    return card.labels.index(card.positive_label) if card.positive_label else 1


def _decide(probs: np.ndarray, model: LoadedModel) -> str:
    card = model.card
    positive = _binary_positive(model)
    if positive is None or card.threshold is None:
        return card.labels[int(np.argmax(probs))]
    return card.labels[positive] if probs[positive] >= card.threshold else card.labels[1 - positive]


def _derived(probs: np.ndarray, model: LoadedModel) -> tuple[DerivedPrediction, ...]:
    card = model.card
    results = []
    for item in card.derived_outputs:
        p = float(sum(probs[card.labels.index(name)] for name in item.positive_classes))
        results.append(
            DerivedPrediction(
                id=item.id,
                name=item.name,
                label=item.labels[1] if p >= item.threshold else item.labels[0],
                probability=p,
                threshold=item.threshold,
                labels=item.labels,
            )
        )
    return tuple(results)


def _heatmap(
    model: LoadedModel, prepared: PreparedInput, outputs: dict[str, np.ndarray], probs: np.ndarray, label: str
) -> tuple[np.ndarray, str]:
    """The map and the label it explains: binary models explain the positive label (what a
    reader wants to locate), others the predicted class."""
    card = model.card
    positive = _binary_positive(model)
    if positive is not None:
        explained, other = positive, 1 - positive
    else:
        explained, other = card.labels.index(label), None
    spec = card.preprocessing
    assert spec is not None  # only image models reach here
    if card.heatmap.method == "cam":
        features = outputs[card.feature_map_output]  # (1, h, w, C), NHWC as exported from Keras
        references = card.heatmap.reference_maps
        cam = class_activation_map(
            features[0],
            np.asarray(card.heatmap.class_weights),
            class_index=explained,
            binary_positive_vs=other,
            reference=np.asarray(references[explained]) if references else None,
        )
    else:
        cam = occlusion_map(
            model.session,
            prepared,
            probabilities_output=card.probabilities_output,
            class_index=explained,
            baseline=float(probs[explained]),
            patch_fraction=card.heatmap.occlusion_patch,
            stride_fraction=card.heatmap.occlusion_stride,
        )
    image_map = map_to_image(cam, input_size=spec.size, content_box=prepared.content_box)
    return image_map, card.labels[explained]


def _input_warnings(image: np.ndarray, model: LoadedModel, content_box: tuple[int, int, int, int]) -> list[str]:
    spec = model.card.preprocessing
    assert spec is not None
    warnings = []
    rows, cols = image.shape
    # What preprocessing did, not a second derivation of it: the image fills ``content_box``
    # (one factor for both sides when padded, each side its own when squashed).
    _top, _left, box_rows, box_cols = content_box
    enlargement = max(box_rows / rows, box_cols / cols)
    if enlargement > _ENLARGEMENT_WARNING:
        warnings.append(
            f"image is much smaller than the model input ({cols} x {rows} px, enlarged {enlargement:.1f}x);"
            " fine detail may be missing"
        )
    if spec.resize == "squash":
        ratio = max(rows / cols, cols / rows) / max(spec.size[0] / spec.size[1], spec.size[1] / spec.size[0])
        if ratio > _STRETCH_WARNING_RATIO:
            warnings.append(
                f"image aspect ratio is stretched {ratio:.1f}x to fit the model input; results may be less reliable"
            )
    return warnings


def _pooled(features: np.ndarray) -> np.ndarray:
    """The model's feature vector: its last feature map (h, w, channels) averaged over the image."""
    return np.asarray(features, dtype=np.float64).mean(axis=(0, 1))


def _run(model: LoadedModel, prepared: PreparedInput) -> dict[str, np.ndarray]:
    """The model's outputs; a runtime failure becomes the one error callers handle."""
    try:
        return model.session.run(prepared.tensor)
    except InferenceError as exc:
        raise PredictionError(str(exc)) from exc


def feature_map(model: LoadedModel, image: np.ndarray) -> tuple[np.ndarray, PreparedInput]:
    """The last feature map (h, w, channels) of one image, prepared exactly as
    :func:`predict_image` prepares it, and that preparation (where the image lies in the input)."""
    if model.card.preprocessing is None or not model.card.feature_map_output:
        raise PredictionError(f"model {model.card.id!r} exports no feature map")
    prepared = prepare(np.asarray(image), model.card.preprocessing)
    return _run(model, prepared)[model.card.feature_map_output][0], prepared


def feature_vector(model: LoadedModel, image: np.ndarray) -> np.ndarray:
    """What the card's ``familiarity`` block is fitted on: the feature vector of one image."""
    return _pooled(feature_map(model, image)[0])


def predict_image(model: LoadedModel, image: np.ndarray, *, with_heatmap: bool = True) -> Prediction:
    """Classify one grayscale image in [0, 1] (``XRayImage.pixels``) with one image model."""
    card = model.card
    spec = card.preprocessing
    if spec is None:
        raise PredictionError(f"model {card.id!r} is a {card.task} model and cannot read images")
    image = np.asarray(image)
    if image.ndim != 2 or min(image.shape) < 1:
        raise PredictionError(f"expected a 2-D grayscale image, got shape {image.shape}")

    start = time.perf_counter()
    prepared = prepare(image, spec)
    after_preprocess = time.perf_counter()
    outputs = _run(model, prepared)
    after_inference = time.perf_counter()

    probs = _probabilities(outputs[card.probabilities_output], model)
    label = _decide(probs, model)
    positive = _binary_positive(model)
    warnings = _input_warnings(image, model, prepared.content_box)
    if card.familiarity is not None and card.familiarity.is_unfamiliar(_pooled(outputs[card.feature_map_output][0])):
        warnings.append(UNFAMILIAR_WARNING)

    heatmap: np.ndarray | None = None
    heatmap_label: str | None = None
    if with_heatmap and card.heatmap.method != "none":
        try:
            heatmap, heatmap_label = _heatmap(model, prepared, outputs, probs, label)
        except (ValueError, InferenceError) as exc:
            # The classification stands on its own; a failed explanation must not hide it.
            log.warning("heat map for %s failed: %s", card.id, exc)
            warnings.append("heat map could not be computed")
    after_heatmap = time.perf_counter()

    return Prediction(
        model_id=card.id,
        model_version=card.version,
        model_name=card.name,
        body_part=card.body_part,
        labels=card.labels,
        probabilities=tuple(float(p) for p in probs),
        label=label,
        threshold=card.threshold,
        positive_label=card.labels[positive] if positive is not None else card.positive_label,
        calibrated=bool(card.calibration),
        card_sha256=card.sha256,
        derived=_derived(probs, model),
        heatmap=heatmap,
        heatmap_method=card.heatmap.method if heatmap is not None else "none",
        heatmap_label=heatmap_label,
        warnings=tuple(warnings),
        timings_ms={
            "preprocess": (after_preprocess - start) * 1000.0,
            "inference": (after_inference - after_preprocess) * 1000.0,
            "heatmap": (after_heatmap - after_inference) * 1000.0,
            "total": (after_heatmap - start) * 1000.0,
        },
    )
