"""Golden outputs of the shipped models on their bundled sample images.

A failure means the model file, its preprocessing or the inference code changed what a
clinic would see. If a model was retrained on purpose, re-run tests/golden/update_golden.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from desktop.core.familiarity import UNFAMILIAR_WARNING
from desktop.core.imaging import load_image
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from desktop.paths import models_dir, samples_dir

# Under a result and in the printed report a clinician reads the limits: plain words, short,
# and no development history (commands, source files, one version against another).
_DEVELOPER_WORDS = re.compile(r"python -m|\.py\b|card's|training/|conversion/|version \d")
GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "shipped_models.json").read_text())


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.discover(models_dir())


def test_every_shipped_model_loads(registry: ModelRegistry) -> None:
    assert not registry.unavailable, [(m.model_id, m.reason) for m in registry.unavailable]
    assert set(GOLDEN) <= {m.card.id for m in registry.available}


def test_every_shipped_image_model_has_a_golden_record(registry: ModelRegistry) -> None:
    classifiers = {m.card.id for m in registry.available if m.is_image_model and m.card.role != "joint_locator"}
    assert classifiers == set(GOLDEN)


@pytest.mark.parametrize("model_id", sorted(GOLDEN))
def test_golden_output_on_the_bundled_sample(registry: ModelRegistry, model_id: str) -> None:
    expected = GOLDEN[model_id]
    model = registry.get(model_id)
    assert model.card.sha256 == expected["sha256"], "model file changed: regenerate the golden record"
    prediction = predict_image(model, load_image(samples_dir() / expected["sample_image"]).pixels, with_heatmap=True)
    assert prediction.label == expected["label"]
    np.testing.assert_allclose(prediction.probabilities, expected["probabilities"], atol=1e-4)
    for derived in prediction.derived:
        assert derived.probability == pytest.approx(expected["derived"][derived.id], abs=1e-4)
    assert list(prediction.heatmap.shape) == expected["heatmap_shape"]
    peak = divmod(int(prediction.heatmap.argmax()), prediction.heatmap.shape[1])
    assert np.allclose(peak, expected["heatmap_peak_row_col"], atol=2)
    assert (UNFAMILIAR_WARNING in prediction.warnings) == expected["unfamiliar"]


def test_knee_osteoporosis_flags_the_osteoarthritis_initiative_crop(registry: ModelRegistry) -> None:
    # The bundled KL sample is an Osteoarthritis Initiative crop: the KL model was trained on
    # such crops, the osteoporosis model was fitted on other clinics' films and calls most of
    # them osteoporosis, so only its answer carries the warning.
    pixels = load_image(samples_dir() / "knee_kl_sample.jpg").pixels
    assert UNFAMILIAR_WARNING in predict_image(registry.get("knee_osteoporosis"), pixels).warnings
    assert UNFAMILIAR_WARNING not in predict_image(registry.get("knee_kl"), pixels).warnings


def test_result_readers_get_a_few_short_plain_limits(registry: ModelRegistry) -> None:
    for model in registry.available:
        if model.card.role != "diagnosis":
            continue
        limits = model.card.limits_for_readers
        assert 0 < len(limits) <= 8, model.card.id
        for line in limits:
            assert len(line) <= 300 and not _DEVELOPER_WORDS.search(line), (model.card.id, line)
