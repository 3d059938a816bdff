"""predict_image: decision rules from the card, derived outputs, heat-map choice, timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop.inference.predictor import PredictionError, predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.tiny_models import blob_image, make_tiny_model_dir

KNEE_LABELS = ("KL0", "KL1", "KL2", "KL3", "KL4")
OA = {"id": "oa", "name": "Radiographic osteoarthritis", "labels": ["Normal", "Osteoarthritis"],
      "positive_classes": ["KL2", "KL3", "KL4"], "threshold": 0.5}
DARK = np.zeros((64, 64), dtype=np.float32)


def _model(root: Path, model_id: str, *, decision: dict[str, Any] | None = None, **kwargs: Any) -> LoadedModel:
    folder = make_tiny_model_dir(root, model_id=model_id, **kwargs)
    if decision is not None:
        card = json.loads((folder / "model.json").read_text())
        card["decision"] = decision
        (folder / "model.json").write_text(json.dumps(card))
    return ModelRegistry.discover(root).get(model_id)


def test_binary_uses_card_threshold_not_argmax(tmp_path: Path) -> None:
    default = _model(tmp_path, "default")
    blob = predict_image(default, blob_image())
    dark = predict_image(default, DARK)
    assert blob.label == "PNEUMONIA" and 0.5 < blob.probability_of("PNEUMONIA") < 0.9
    assert dark.label == "NORMAL" and 0.1 < dark.probability_of("PNEUMONIA") < 0.5
    assert blob.threshold == 0.5 and blob.positive_label == "PNEUMONIA"

    strict = _model(tmp_path, "strict", decision={"threshold": 0.9, "positive_label": "PNEUMONIA"})
    assert predict_image(strict, blob_image()).label == "NORMAL"  # argmax would say PNEUMONIA
    lenient = _model(tmp_path, "lenient", decision={"threshold": 0.1, "positive_label": "PNEUMONIA"})
    assert predict_image(lenient, DARK).label == "PNEUMONIA"  # argmax would say NORMAL


def test_binary_positive_label_may_be_the_first_label(tmp_path: Path) -> None:
    model = _model(tmp_path, "flipped", decision={"threshold": 0.9, "positive_label": "NORMAL"})
    prediction = predict_image(model, DARK)
    assert prediction.probability_of("NORMAL") < 0.9
    assert prediction.label == "PNEUMONIA"
    assert prediction.positive_label == "NORMAL"
    assert prediction.heatmap_label == "NORMAL"  # binary maps always explain the positive label


def test_binary_heatmap_explains_positive_even_when_negative(tmp_path: Path) -> None:
    prediction = predict_image(_model(tmp_path, "chest"), DARK)
    assert prediction.label == "NORMAL"
    assert prediction.heatmap_label == "PNEUMONIA" and prediction.heatmap_method == "cam"


def test_ordinal_argmax_and_derived_output(tmp_path: Path) -> None:
    model = _model(tmp_path, "knee", body_part="knee", labels=KNEE_LABELS, task="ordinal", derived_outputs=[OA])
    for image, expected_label, expected_oa in ((blob_image(), "KL4", "Osteoarthritis"), (DARK, "KL0", "Normal")):
        prediction = predict_image(model, image)
        probs = np.asarray(prediction.probabilities)
        assert probs.sum() == pytest.approx(1.0, abs=1e-9)
        assert prediction.label == expected_label == KNEE_LABELS[int(probs.argmax())]
        assert prediction.heatmap_label == prediction.label
        (oa,) = prediction.derived
        assert oa.id == "oa" and oa.labels == ("Normal", "Osteoarthritis")
        assert oa.probability == pytest.approx(probs[2] + probs[3] + probs[4])
        assert oa.label == expected_oa
        assert prediction.threshold is None


def test_timings_calibration_and_no_heatmap(tmp_path: Path) -> None:
    model = _model(tmp_path, "calibrated", calibration={"method": "temperature", "temperature": 1.4})
    prediction = predict_image(model, blob_image())
    assert set(prediction.timings_ms) == {"preprocess", "inference", "heatmap", "total"}
    assert all(v >= 0 for v in prediction.timings_ms.values())
    parts = sum(v for k, v in prediction.timings_ms.items() if k != "total")
    assert prediction.timings_ms["total"] == pytest.approx(parts, abs=0.5)
    assert prediction.calibrated is True
    assert prediction.model_id == "calibrated" and prediction.model_version == "1.0.0"
    assert prediction.card_sha256 == model.card.sha256

    plain = predict_image(_model(tmp_path, "plain"), blob_image(), with_heatmap=False)
    assert plain.calibrated is False
    assert plain.heatmap is None and plain.heatmap_method == "none" and plain.heatmap_label is None


def test_small_image_warning(tmp_path: Path) -> None:
    model = _model(tmp_path, "chest")
    assert predict_image(model, blob_image(64)).warnings == ()
    (warning,) = predict_image(model, np.zeros((12, 14), np.float32)).warnings
    assert warning == "image is much smaller than the model input (14 x 12 px, enlarged 2.7x); fine detail may be missing"
    stretched = predict_image(model, np.zeros((40, 200), np.float32)).warnings
    assert any("stretched" in w for w in stretched)


def test_padded_model_judges_a_strip_by_the_enlargement_it_gets(tmp_path: Path) -> None:
    """A 40 x 10 strip squashed into 32 x 32 is stretched 3.2x across its short side; padded,
    its long side sets one factor for both (0.8x), so nothing is enlarged."""
    strip = np.zeros((10, 40), np.float32)
    (squashed,) = [w for w in predict_image(_model(tmp_path, "squashed"), strip).warnings if "smaller" in w]
    assert "enlarged 3.2x" in squashed
    folder = make_tiny_model_dir(tmp_path, model_id="padded")
    card = json.loads((folder / "model.json").read_text())
    card["preprocessing"]["resize"] = "pad"
    (folder / "model.json").write_text(json.dumps(card))
    padded = ModelRegistry.discover(tmp_path).get("padded")
    assert predict_image(padded, strip).warnings == ()
    (small,) = predict_image(padded, np.zeros((10, 12), np.float32)).warnings
    assert "enlarged 2.7x" in small


def test_refuses_non_finite_output_and_non_image_models(tmp_path: Path) -> None:
    model = _model(tmp_path, "chest")
    poisoned = blob_image()
    poisoned[10, 10] = np.nan  # propagates through the convolution into the softmax
    with pytest.raises(PredictionError, match="non-finite"):
        predict_image(model, poisoned)
    tabular = _model(tmp_path, "tab", task="tabular", heatmap="none")
    with pytest.raises(PredictionError, match="tabular"):
        predict_image(tabular, blob_image())
    with pytest.raises(PredictionError, match="2-D"):
        predict_image(model, np.zeros((8, 8, 3), np.float32))
