"""Export a scikit-learn tabular classifier to ONNX with its model card, and prove they agree.

    python -m conversion.export_sklearn --source runs/osteoporosis_risk/pipeline.joblib --model-id osteoporosis_risk
    python -m conversion.export_sklearn --scaler scaler.pkl --estimator model.pkl --model-id legacy_risk \\
        --features age,weight_kg --labels no,yes

Accepts a fitted ``Pipeline`` or, as older projects shipped them, a separate scaler and
estimator (pickle or joblib; only load files you trust: unpickling runs code). A pipeline
without an imputer gets one whose statistics are the scaler's means, so an unknown answer adds
nothing to the log-odds and NaN rows can be checked at all. For SimpleImputer -> StandardScaler
-> LogisticRegression the card carries the weights needed for exact per-feature contributions.
Nothing is written unless scikit-learn and ONNX Runtime agree within ``--tolerance`` on real
rows and on the same rows with answers blanked (NaN).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import onnxruntime as ort
import skl2onnx
from skl2onnx import convert_sklearn
from onnx import TensorProto, helper
from skl2onnx.common.data_types import FloatTensorType
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from conversion.common import install_model, run_export
from conversion.cards import file_sha256
from desktop.core.model_card import parse_card

log = logging.getLogger("conversion.sklearn")
OPSET = 17
REPO_ROOT = Path(__file__).resolve().parent.parent
PROBABILITY_TOLERANCE = 1e-5
EXPLANATION_TOLERANCE = 1e-8  # card weights vs sklearn's own decision_function, both float64


class ExportError(RuntimeError):
    """The export cannot be trusted (conversion failed or outputs disagree)."""


def assemble(*, source: Path | None, scaler: Path | None, estimator: Path | None) -> tuple[Pipeline, list[str]]:
    """The pipeline to export, plus notes on anything the exporter added."""
    notes: list[str] = []
    if source is not None:
        pipe = joblib.load(source)  # joblib also reads plain pickle files
        if not isinstance(pipe, Pipeline):
            pipe = Pipeline([("model", pipe)])
            notes.append(f"{source.name} holds a bare {type(pipe.steps[-1][1]).__name__}; wrapped as a pipeline")
    elif estimator is not None:
        steps = [("scale", joblib.load(scaler))] if scaler is not None else []
        pipe = Pipeline([*steps, ("model", joblib.load(estimator))])
        notes.append("scaler and estimator were separate files; combined into one pipeline")
    else:
        raise ExportError("give --source, or --estimator (with --scaler if the model expects scaled input)")
    if not hasattr(pipe.steps[-1][1], "predict_proba"):
        raise ExportError(f"{type(pipe.steps[-1][1]).__name__} has no predict_proba")
    if not isinstance(pipe.steps[0][1], SimpleImputer):
        first = pipe.steps[0][1]
        n = int(first.n_features_in_)
        centre = first.mean_ if isinstance(first, StandardScaler) and first.mean_ is not None else np.zeros(n)
        imputer = SimpleImputer(strategy="mean").fit(np.asarray(centre, dtype=np.float64)[None, :])
        pipe = Pipeline([("impute", imputer), *pipe.steps])
        notes.append("no imputer in the source: added one that fills unknown values with the scaler's mean (contribution 0)")
    return pipe, notes


def linear_explanation(pipe: Pipeline) -> dict[str, Any] | None:
    """Imputer statistics, scaler mean/scale and logistic weights, or None for other pipelines."""
    steps = [step for _, step in pipe.steps]
    model = steps[-1]
    middle = steps[1:-1]
    if not (isinstance(model, LogisticRegression) and len(model.classes_) == 2 and isinstance(steps[0], SimpleImputer)
            and all(isinstance(s, StandardScaler) for s in middle) and len(middle) <= 1):
        return None
    n = model.coef_.shape[1]
    scaler = middle[0] if middle else None
    mean = scaler.mean_ if scaler is not None and scaler.mean_ is not None else np.zeros(n)
    scale = scaler.scale_ if scaler is not None and scaler.scale_ is not None else np.ones(n)
    return {
        "method": "logistic_regression",
        "formula": "logit = intercept + sum(coef_i * (x_i - scaler_mean_i) / scaler_scale_i), "
                   "with unknown x_i replaced by imputer_statistics_i; P(positive) = 1 / (1 + exp(-logit))",
        "intercept": float(model.intercept_[0]),
        "coefficients": [float(v) for v in model.coef_[0]],
        "imputer_statistics": [float(v) for v in steps[0].statistics_],
        "scaler_mean": [float(v) for v in mean],
        "scaler_scale": [float(v) for v in scale],
    }


def explained_logit(explanation: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(rows), np.asarray(explanation["imputer_statistics"]), rows)
    z = (filled - np.asarray(explanation["scaler_mean"])) / np.asarray(explanation["scaler_scale"])
    return explanation["intercept"] + z @ np.asarray(explanation["coefficients"])


def add_logit_output(proto: onnx.ModelProto) -> str | None:
    """Add a ``logits`` output: the same LinearClassifier without its logistic transform.

    Float32 probabilities near 0 or 1 cannot give back the log-odds to 1e-5 (ONNX Runtime's
    sigmoid is accurate in absolute, not relative, terms), and the app checks its per-feature
    contributions against the model's own log-odds. Column i is the log-odds of class i.
    """
    nodes = [n for n in proto.graph.node if n.op_type == "LinearClassifier"]
    if len(nodes) != 1:
        return None
    raw = helper.make_node("LinearClassifier", list(nodes[0].input), ["logits_label", "logits"],
                           domain="ai.onnx.ml", name="logits_without_post_transform")
    raw.attribute.extend(a for a in nodes[0].attribute if a.name != "post_transform")  # default: NONE
    proto.graph.node.append(raw)
    proto.graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2]))
    return "logits"


def convert(pipe: Pipeline, n_features: int, onnx_path: Path) -> dict[str, str]:
    """Convert at a fixed opset, check the graph, return the output names by role."""
    proto = convert_sklearn(
        pipe,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(pipe.steps[-1][1]): {"zipmap": False}},  # a plain probability array, not a list of dicts
        target_opset=OPSET,
    )
    logits = add_logit_output(proto) if linear_explanation(pipe) is not None else None
    onnx.checker.check_model(proto)
    onnx.save(proto, onnx_path)
    names = [out.name for out in proto.graph.output]
    roles = {"probabilities": "probabilities", "label": "label"}
    missing = [n for n in roles.values() if n not in names]
    if missing:
        raise ExportError(f"converted graph has outputs {names}, expected {sorted(roles.values())}")
    return {**roles, "logits": logits} if logits else roles


def parity_rows(pipe: Pipeline, run_dir: Path | None, n_features: int, seed: int = 0) -> np.ndarray:
    """Real rows when the training run saved them, each also with answers blanked to NaN."""
    rng = np.random.default_rng(seed)
    stored = run_dir / "parity_rows.npz" if run_dir else None
    if stored is not None and stored.exists():
        with np.load(stored) as data:
            base = data["x"].astype(np.float32)
    else:
        statistics = pipe.steps[0][1].statistics_
        spread = np.maximum(np.abs(statistics), 1.0)
        base = (statistics + rng.normal(0, 0.5, (32, n_features)) * spread).astype(np.float32)
    blanked = base.copy()
    blanked[rng.random(blanked.shape) < 0.3] = np.nan
    one_missing = np.repeat(base[:1], n_features, axis=0)
    one_missing[np.arange(n_features), np.arange(n_features)] = np.nan
    all_missing = np.full((1, n_features), np.nan, dtype=np.float32)
    return np.concatenate([base, blanked, one_missing, all_missing])


def onnx_outputs(onnx_path: Path, names: dict[str, str], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every named output of the converted graph on ``rows``, keyed by role."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    values = session.run(list(names.values()), {"input": rows})
    return {role: np.asarray(v, dtype=np.float64) if role != "label" else np.asarray(v) for role, v in zip(names, values)}


def check_parity(pipe: Pipeline, onnx_path: Path, names: dict[str, str], rows: np.ndarray, tolerance: float,
                 explanation: dict[str, Any] | None) -> dict[str, Any]:
    expected = pipe.predict_proba(rows.astype(np.float64))
    outputs = onnx_outputs(onnx_path, names, rows)
    probs, labels = outputs["probabilities"], outputs["label"]
    diff = float(np.max(np.abs(expected - probs)))
    nan_rows = np.isnan(rows).any(axis=1)
    report: dict[str, Any] = {"n_rows": int(rows.shape[0]), "n_rows_with_nan": int(nan_rows.sum()),
                              "max_abs_diff_probabilities": diff,
                              "max_abs_diff_probabilities_nan_rows": float(np.max(np.abs(expected - probs)[nan_rows]))}
    if not diff <= tolerance:  # also catches NaN
        raise ExportError(f"scikit-learn and ONNX Runtime disagree: max |diff| {diff:.2e} > {tolerance:.0e}")
    clear = np.abs(expected[:, 1] - 0.5) > tolerance if expected.shape[1] == 2 else np.ones(len(rows), bool)
    if not np.array_equal(pipe.classes_[expected.argmax(1)][clear], labels[clear]):
        raise ExportError("scikit-learn and ONNX Runtime predict different labels")
    if "logits" in outputs:
        score = pipe.decision_function(rows.astype(np.float64))
        logit_gap = float(np.max(np.abs(outputs["logits"] - np.column_stack([-score, score]))))
        report["max_abs_diff_logits"] = logit_gap
        if not logit_gap <= tolerance:
            raise ExportError(f"scikit-learn and ONNX Runtime disagree on the log-odds: max |diff| {logit_gap:.2e}")
    if explanation is not None:
        gap = float(np.max(np.abs(explained_logit(explanation, rows.astype(np.float64)) - pipe.decision_function(rows.astype(np.float64)))))
        report["max_abs_diff_card_logit_vs_sklearn"] = gap
        if gap > EXPLANATION_TOLERANCE:
            raise ExportError(f"the card's contribution weights miss sklearn's logit by {gap:.2e}")
    return report


def build_card(*, args: argparse.Namespace, pipe: Pipeline, report: dict[str, Any], names: dict[str, str], parity: dict[str, Any],
               explanation: dict[str, Any] | None, notes: list[str], sha256: str, size_bytes: int) -> dict[str, Any]:
    prose = report.get("card", {})
    n = int(pipe.steps[0][1].n_features_in_)
    features = report.get("features") or [
        {"name": name, "label": name, "unit": "", "min": None, "max": None, "kind": "number", "required": False}
        for name in (args.features.split(",") if args.features else [f"x{i}" for i in range(n)])
    ]
    if len(features) != n:
        raise ExportError(f"{len(features)} feature names for a model with {n} inputs")
    labels = prose.get("labels") or (args.labels.split(",") if args.labels else [str(c) for c in pipe.classes_])
    cv, test = report.get("cross_validation", {}), dict(report.get("internal_test", {}))
    comparison = {"ost_definition": "OST = 0.2 x (weight kg - age years); lower means higher risk; scored as -OST",
                  "summary": prose.get("comparison_summary", "")}
    if cv:
        comparison["cross_validation"] = {k: cv[k] for k in cv if k.startswith(("model_", "ost_", "difference", "share", "mean_fold", "n_boot"))}
    if test:
        comparison["internal_test"] = {**test.pop("comparison_with_ost"), "ost_below_minus_1": test.pop("ost_below_minus_1")}
        test.pop("patients", None)
        test.pop("chosen_C", None)  # a tuning detail, not a metric; the report keeps it
    card: dict[str, Any] = {
        "id": args.model_id,
        "version": args.version,
        "name": prose.get("name", args.model_id),
        "task": "tabular",
        "body_part": "patient",
        "labels": labels,
        "decision": {"positive_label": prose.get("positive_label", labels[-1]), "threshold": report.get("threshold", 0.5),
                     "rationale": prose.get("threshold_rationale", "Default 0.5: no training report was given.")},
        "input": {"name": "input", "shape": [None, n], "dtype": "float32", "layout": "one row per patient, columns in features order"},
        "outputs": names,
        "features": features,
        "explanation": explanation,
        "metrics": {
            **({"internal_test": {**test, "roc_auc_ci95": comparison["internal_test"]["model_auc_ci95"], "threshold": report.get("threshold")}} if test else {}),
            **({"cross_validation": {"n": report["split"]["development"], "roc_auc": cv["model_auc"], "roc_auc_ci95": cv["model_auc_ci95"],
                                     "scheme": cv["scheme"], "ci_method": cv["ci_method"],
                                     "at_threshold": {"name": "At the decision threshold", **cv["at_threshold"]}}} if cv else {}),
        },
        "comparison_with_ost": comparison if cv or test else {},
        "training": {
            "data": prose.get("data", ""), "split_method": prose.get("split_method", ""), "label": report.get("label"),
            "split_counts": report.get("split"), "class_counts": report.get("data", {}).get("class_counts"),
            "excluded_rows": report.get("data", {}).get("excluded"), "cleaning": report.get("data", {}).get("cleaning"),
            "dropped_features": report.get("dropped_features"), "not_used": report.get("not_used"),
            "final_model": report.get("final_model"), "command": report.get("command"),
        },
        "conversion": {"tool": "skl2onnx.convert_sklearn", "skl2onnx": skl2onnx.__version__, "opset": OPSET, "parity": parity,
                       "exported_on": date.today().isoformat(), "notes": notes,
                       "pipeline": [f"{name}: {type(step).__name__}" for name, step in pipe.steps]},
        "intended_use": prose.get("intended_use", ""),
        "limitations": prose.get("limitations", []),
        "what_the_model_cannot_know": prose.get("what_the_model_cannot_know", []),
        "size_bytes": size_bytes,
        "sha256": sha256,
    }
    parse_card(card)  # the app must be able to load what we write
    return card


def stamp_metadata(onnx_path: Path, card: dict[str, Any]) -> None:
    """Copy the card's key facts into the ONNX file, so a stray model.onnx still says what it is."""
    proto = onnx.load(onnx_path)
    keys = {"id": card["id"], "version": card["version"], "task": card["task"], "body_part": card["body_part"],
            "labels": json.dumps(card["labels"]), "features": json.dumps([f["name"] for f in card["features"]]),
            "outputs": json.dumps(card["outputs"]), "threshold": str(card["decision"]["threshold"])}
    del proto.metadata_props[:]
    for key, value in keys.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"xraydesk.{key}", str(value)
    proto.producer_name = "xraydesk-conversion"
    onnx.save(proto, onnx_path)


def export(args: argparse.Namespace) -> Path:
    source = Path(args.source) if args.source else None
    pipe, notes = assemble(source=source, scaler=Path(args.scaler) if args.scaler else None,
                           estimator=Path(args.estimator) if args.estimator else None)
    run_dir = source.parent if source else None
    report_path = Path(args.report) if args.report else (run_dir / "report.json" if run_dir else None)
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path and report_path.exists() else {}
    n = int(pipe.steps[0][1].n_features_in_)
    explanation = linear_explanation(pipe)
    target = Path(args.out) / args.model_id
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        names = convert(pipe, n, onnx_path)
        rows = parity_rows(pipe, run_dir, n)
        parity = check_parity(pipe, onnx_path, names, rows, args.tolerance, explanation)
        log.info("parity on %d rows (%d with NaN): %s", rows.shape[0], parity["n_rows_with_nan"], parity)
        card = build_card(args=args, pipe=pipe, report=report, names=names, parity=parity, explanation=explanation,
                          notes=notes, sha256="0" * 64, size_bytes=0)
        stamp_metadata(onnx_path, card)
        card.update(sha256=file_sha256(onnx_path), size_bytes=onnx_path.stat().st_size)
        return install_model(onnx_path, card, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="fitted Pipeline (or bare estimator) saved with joblib or pickle")
    parser.add_argument("--scaler", help="a fitted scaler saved separately (with --estimator)")
    parser.add_argument("--estimator", help="a fitted classifier saved separately")
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--out", default=str(REPO_ROOT / "models"))
    parser.add_argument("--report", help="training report.json (default: beside --source)")
    parser.add_argument("--features", help="comma-separated feature names, for models not trained here")
    parser.add_argument("--labels", help="comma-separated class names, for models not trained here")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--tolerance", type=float, default=PROBABILITY_TOLERANCE)
    return run_export(export, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
