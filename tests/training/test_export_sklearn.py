"""The scikit-learn exporter: parity with NaN rows, the scaler + estimator route, and its refusal."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from desktop.core.files import file_sha256
from desktop.core.model_card import load_card
from desktop.inference.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "osteoporosis_risk"
FEATURES = ("age", "weight_kg", "smoker", "family_history")


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.uniform(25, 80, n), rng.uniform(40, 100, n), rng.integers(0, 2, n), rng.integers(0, 2, n)])
    logit = 0.08 * (x[:, 0] - 50) - 0.04 * (x[:, 1] - 70) + 0.6 * x[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


@pytest.fixture()
def sklearn_parts():
    pytest.importorskip("sklearn", reason="training extras not installed")
    pytest.importorskip("skl2onnx", reason="training extras not installed")
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return SimpleImputer, StandardScaler, LogisticRegression, Pipeline


def _export(*args: str) -> int:
    from conversion import export_sklearn

    return export_sklearn.main(list(args))


def _onnx_probabilities(folder: Path, rows: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    card = json.loads((folder / "model.json").read_text())
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run([card["outputs"]["probabilities"]], {card["input"]["name"]: rows.astype(np.float32)})[0]


def test_pipeline_exports_with_parity_on_nan_rows(tmp_path: Path, sklearn_parts) -> None:
    import joblib

    imputer, scaler, logistic, pipeline = sklearn_parts
    x, y = _data()
    pipe = pipeline([("impute", imputer()), ("scale", scaler()), ("model", logistic(class_weight="balanced"))]).fit(x, y)
    joblib.dump(pipe, tmp_path / "pipeline.joblib")
    out = tmp_path / "models"
    assert _export("--source", str(tmp_path / "pipeline.joblib"), "--model-id", "tiny_risk", "--out", str(out),
                   "--features", ",".join(FEATURES), "--labels", "low,high") == 0

    folder = out / "tiny_risk"
    card = load_card(folder / "model.json")
    assert (card.task, card.body_part, card.labels) == ("tabular", "patient", ("low", "high"))
    assert card.sha256 == file_sha256(folder / "model.onnx")
    assert [f["name"] for f in card.raw["features"]] == list(FEATURES)
    assert card.raw["conversion"]["parity"]["n_rows_with_nan"] > 0
    rows = np.array([[60, 70, 1, 0], [np.nan, 70, 1, 0], [30, np.nan, np.nan, 1], [np.nan] * 4], dtype=np.float32)
    np.testing.assert_allclose(_onnx_probabilities(folder, rows), pipe.predict_proba(rows.astype(np.float64)), atol=1e-5)
    # The card's weights reproduce sklearn's log-odds exactly, so per-feature shares are exact.
    e = card.raw["explanation"]
    filled = np.where(np.isnan(rows), e["imputer_statistics"], rows).astype(np.float64)
    logit = e["intercept"] + ((filled - e["scaler_mean"]) / e["scaler_scale"]) @ np.array(e["coefficients"])
    np.testing.assert_allclose(logit, pipe.decision_function(filled), atol=1e-6)
    assert ModelRegistry.discover(out).get("tiny_risk").card.id == "tiny_risk"


def test_separate_scaler_and_estimator_pickles_export(tmp_path: Path, sklearn_parts) -> None:
    _, scaler_cls, logistic, _ = sklearn_parts
    x, y = _data()
    scaler = scaler_cls().fit(x)
    model = logistic().fit(scaler.transform(x), y)
    (tmp_path / "scaler.pkl").write_bytes(pickle.dumps(scaler))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    out = tmp_path / "models"
    assert _export("--scaler", str(tmp_path / "scaler.pkl"), "--estimator", str(tmp_path / "model.pkl"),
                   "--model-id", "legacy_risk", "--out", str(out), "--features", ",".join(FEATURES)) == 0
    card = load_card(out / "legacy_risk" / "model.json")
    notes = " ".join(card.raw["conversion"]["notes"])
    assert "combined" in notes and "imputer" in notes
    rows = np.array([[55, 65, 0, 1]], dtype=np.float32)
    expected = model.predict_proba(scaler.transform(rows.astype(np.float64)))
    np.testing.assert_allclose(_onnx_probabilities(out / "legacy_risk", rows), expected, atol=1e-5)
    # An unknown answer sits at the scaler's mean: exactly the "average patient" for that factor.
    blank = rows.copy()
    blank[0, 1] = np.nan
    at_mean = rows.astype(np.float64).copy()
    at_mean[0, 1] = scaler.mean_[1]
    np.testing.assert_allclose(_onnx_probabilities(out / "legacy_risk", blank), model.predict_proba(scaler.transform(at_mean)), atol=1e-5)


def test_broken_parity_exits_1_and_writes_nothing(tmp_path: Path, sklearn_parts, monkeypatch, capsys) -> None:
    import joblib

    from conversion import export_sklearn

    imputer, scaler, logistic, pipeline = sklearn_parts
    x, y = _data()
    joblib.dump(pipeline([("impute", imputer()), ("scale", scaler()), ("model", logistic())]).fit(x, y), tmp_path / "p.joblib")
    real = export_sklearn.onnx_outputs

    def drifting(onnx_path, names, rows):
        outputs = real(onnx_path, names, rows)
        outputs["probabilities"][:, 1] += 1e-3  # what a converter bug would look like
        return outputs

    monkeypatch.setattr(export_sklearn, "onnx_outputs", drifting)
    out = tmp_path / "models"
    assert _export("--source", str(tmp_path / "p.joblib"), "--model-id", "broken", "--out", str(out)) == 1
    assert "disagree" in capsys.readouterr().err
    assert not (out / "broken").exists()


def test_shipped_card_has_no_t_score_or_z_score_feature() -> None:
    card = load_card(SHIPPED / "model.json")
    names = [f["name"].lower() for f in card.raw["features"]]
    labels = [f["label"].lower() for f in card.raw["features"]]
    assert not [n for n in names + labels if "score" in n or n in {"t", "z", "diagnosis"}]
    assert card.task == "tabular" and card.body_part == "patient"
    assert card.sha256 == file_sha256(SHIPPED / "model.onnx")
    assert len(card.raw["explanation"]["coefficients"]) == len(names) == card.input_shape[-1]
    # The evaluation the card reports: CV with CIs, the OST comparison on the same rows, test counts.
    assert card.raw["metrics"]["cross_validation"]["roc_auc_ci95"][0] < card.raw["metrics"]["cross_validation"]["roc_auc"]
    assert "difference_ci95" in card.raw["comparison_with_ost"]["cross_validation"]
    assert sum(card.raw["metrics"]["internal_test"]["class_counts"].values()) == card.raw["metrics"]["internal_test"]["n"]
    assert card.raw["what_the_model_cannot_know"]
