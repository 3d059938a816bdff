"""The shipped osteoporosis risk model: loading through the registry, exact contributions, refusals."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from desktop.core.files import file_sha256
from desktop.core.patient import feature_vector, validate_patient
from desktop.inference.registry import ModelRegistry
from desktop.inference.risk import Contribution, RiskModel, RiskModelError

MODELS = Path(__file__).resolve().parents[2] / "models"
MODEL_ID = "osteoporosis_risk"
PATIENTS = [
    {"gender": "female", "age": "72", "height_m": "1.55", "weight_kg": "52", "menopause_age": "48", "pregnancies": "4",
     "smoker": "no", "family_history": "yes", "t_score": "-2.7"},
    {"gender": "male", "age": "35", "height_m": "1.80", "weight_kg": "95", "smoker": "yes", "walking_distance_km": "6"},
    {"gender": "female", "age": "30", "height_m": "1.62", "weight_kg": "60", "postmenopausal": "no", "pregnancies": "0",
     "hypothyroidism": "yes", "estrogen_use": "no", "history_of_fracture": "no", "diabetic": "no", "seizure_disorder": "no"},
    {"gender": "male", "age": "90", "height_m": "1.60", "weight_kg": "45"},  # outside the training ages, mostly unknown
]


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return RiskModel.from_models_dir(MODELS, model_id=MODEL_ID)


def _record(values: dict):
    record, errors = validate_patient(values)
    assert errors == {}
    return record


def _onnx_outputs(folder: Path, row: np.ndarray) -> tuple[float, float]:
    """(P(positive), log-odds) straight from ONNX Runtime, independent of the app's session wrapper."""
    card = json.loads((folder / "model.json").read_text())
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [card["outputs"]["probabilities"], card["outputs"]["logits"]]
    probs, logits = session.run(names, {card["input"]["name"]: row[None, :].astype(np.float32)})
    positive = card["labels"].index(card["decision"]["positive_label"])
    return float(probs[0, positive]), float(logits[0, positive])


def test_shipped_model_loads_through_the_registry_with_its_hash() -> None:
    registry = ModelRegistry.discover(MODELS)
    loaded = registry.get(MODEL_ID)
    assert loaded.card.sha256 == file_sha256(loaded.folder / "model.onnx")
    assert loaded.card.task == "tabular" and loaded.card.body_part == "patient"
    assert MODEL_ID not in [m.id for part in ("knee", "chest", "other_bone") for m in registry.for_body_part(part)]
    assert RiskModel.from_registry(registry).card.id == MODEL_ID


@pytest.mark.parametrize("values", PATIENTS)
def test_contributions_sum_with_the_intercept_to_the_onnx_logit(model: RiskModel, values: dict) -> None:
    record = _record(values)
    result = model.assess(record)
    total = result.intercept + sum(c.log_odds for c in result.contributions)
    assert total == pytest.approx(result.logit, abs=1e-9)
    onnx_probability, onnx_logit = _onnx_outputs(MODELS / MODEL_ID, feature_vector(record, model.features))
    assert abs(total - onnx_logit) <= 1e-5
    assert result.probability == onnx_probability
    assert onnx_probability == pytest.approx(1 / (1 + math.exp(-total)), abs=1e-6)
    assert [abs(c.log_odds) for c in result.contributions] == sorted((abs(c.log_odds) for c in result.contributions), reverse=True)
    assert (result.label == "osteoporosis") == (result.probability >= result.threshold)


def test_unknown_answers_contribute_nothing_and_are_named(model: RiskModel) -> None:
    result = model.assess(_record(PATIENTS[3]))
    unknown = [c for c in result.contributions if c.imputed]
    assert unknown and all(c.log_odds == pytest.approx(0.0, abs=1e-12) and c.direction == "no effect" for c in unknown)
    assert any("counted as average" in w for w in result.warnings)
    assert any("outside the range" in w for w in result.warnings)  # age 90 is beyond the training ages
    assert any("OST bands were derived for women" in w for w in result.warnings)


def test_assessment_carries_the_rules_and_the_limits(model: RiskModel) -> None:
    result = model.assess(_record(PATIENTS[0]))
    assert result.ost.value == pytest.approx(-4.0) and result.ost.category == "moderate"
    assert result.who_category == "osteoporosis"
    assert result.what_the_model_cannot_know and any("Bone density" in line for line in result.what_the_model_cannot_know)
    assert all("score" not in f.name for f in model.features)


def test_contribution_wording() -> None:
    age = Contribution(name="age", label="Age", unit="years", kind="number", value=72.0, used_value=72.0, log_odds=1.2)
    smoker = Contribution(name="smoker", label="Smoker", unit="", kind="binary", value=0.0, used_value=0.0, log_odds=-0.1)
    unknown = Contribution(name="diabetic", label="Diabetic", unit="", kind="binary", value=None, used_value=0.06, log_odds=0.0)
    assert age.describe() == "Age 72 years: raises risk"
    assert smoker.describe() == "Smoker (no): lowers risk"
    assert unknown.describe() == "Diabetic (unknown): no effect"


def test_card_that_disagrees_with_its_model_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / MODEL_ID
    shutil.copytree(MODELS / MODEL_ID, folder)
    card = json.loads((folder / "model.json").read_text())
    card["explanation"]["intercept"] += 0.5  # the ONNX file (and its hash) stay valid
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(RiskModelError, match="intercept"):
        RiskModel.from_models_dir(tmp_path)


def test_tampered_model_file_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / MODEL_ID
    shutil.copytree(MODELS / MODEL_ID, folder)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(RiskModelError, match="sha256"):
        RiskModel.from_models_dir(tmp_path)
