"""``python -m desktop self-test``: every model loads and answers sensibly on its sample."""

from __future__ import annotations

import numpy as np

from desktop import paths
from desktop.commands.common import EXIT_FAILURE, EXIT_OK, error
from desktop.core.imaging import ImageLoadError, load_image
from desktop.core.prediction import Prediction
from desktop.inference.predictor import PredictionError, predict_image
from desktop.inference.registry import ModelRegistry

__all__ = ["self_test"]

SUM_TOLERANCE = 1e-3


def _synthetic_image(size: tuple[int, int]) -> np.ndarray:
    """A smooth diagonal gradient: deterministic, decodes nowhere, exercises every pixel."""
    rows, cols = max(size[0], 64), max(size[1], 64)
    return (np.add.outer(np.linspace(0, 0.5, rows), np.linspace(0, 0.5, cols))).astype(np.float32)


def self_test(registry: ModelRegistry) -> int:
    if not registry.available and not registry.unavailable:
        error(f"no models found in {registry.models_dir}")
        return EXIT_FAILURE
    ok = True
    for broken in registry.unavailable:
        print(f"FAIL {broken.model_id}  unavailable: {broken.reason}")
        ok = False
    for model in registry.available:
        card = model.card
        if not card.is_image_model:
            print(f"ok  {card.id} {card.version}  loaded ({card.task} model, not run on an image)")
            continue
        sample = card.raw.get("sample_image")
        try:
            if sample:
                pixels = load_image(paths.samples_dir() / str(sample)).pixels
            else:
                pixels = _synthetic_image(card.preprocessing.size)
            prediction = predict_image(model, pixels, with_heatmap=True)
        except (ImageLoadError, PredictionError) as exc:
            print(f"FAIL {card.id} {card.version}  {exc}")
            ok = False
            continue
        problem = _check_prediction(prediction, expects_heatmap=card.heatmap.method != "none")
        if problem:
            print(f"FAIL {card.id} {card.version}  {problem}")
            ok = False
            continue
        p = prediction.probability_of(prediction.label)
        print(f"ok  {card.id} {card.version}  {prediction.label} ({p:.3f})  {prediction.timings_ms['total']:.0f} ms")
    return EXIT_OK if ok else EXIT_FAILURE


def _check_prediction(prediction: Prediction, *, expects_heatmap: bool) -> str | None:
    probs = np.asarray(prediction.probabilities, dtype=np.float64)
    if not np.all(np.isfinite(probs)):
        return "probabilities are not finite"
    if abs(probs.sum() - 1.0) > SUM_TOLERANCE:
        return f"probabilities sum to {probs.sum():.6f}, not 1"
    if expects_heatmap:
        if prediction.heatmap is None:
            return "no heat map was produced"
        if not np.all(np.isfinite(prediction.heatmap)):
            return "heat map is not finite"
    return None
