"""Train the bone fracture model: KL-network features of the whole radiograph + a linear head.

    python -m training.train_bone_fracture   # reads KL network 1.1.0 from models/bone_fracture/model.onnx

Every radiograph is padded (never squashed) to 896 x 896 and contrast-equalised; the KL
backbone, rebuilt at that size, reads it at full and at half size, and turns it and three
re-oriented views (mirror, upside down, quarter turn: films arrive in any orientation) into
pooled features. A logistic head reads them (see training/transfer_head.py).

The KL network is version 1.1.0 (the second step of its training): its weights ship inside
the fracture model itself, so a retrain reads them back from there
(training/onnx_weights.py) instead of from a run folder that a fresh checkout lacks.

The figures are grouped 5-fold cross-validation: each radiograph is scored once, by a head
that never saw it, on the mean of its four views' features (the exported graph averages the
same four views, so this is the answer the app shows). Each fold also picks its
threshold from inner out-of-fold predictions of its own training folds, so the balanced
accuracy reported is not tuned on the radiographs it is measured on. 95% intervals come
from a bootstrap over radiographs, overall and per source. A comparison trained on the
``vuppala`` source alone tells whether the ``multiregion`` images help on held-out films.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.core import metrics
from desktop.inference.preprocess import model_image
from training.architectures import FEATURE_SCALES
from training.calibration import fit_temperature, softmax
from training.cross_validate import grouped_folds, over_fold_assignments, pooled_metrics, stratified_fold_numbers
from training.datasets import decode_grayscale, display_path, write_split_lists
from training.evaluation import auc_per_source, best_balanced_threshold, summarise
from training.sample_sources import FRACTURE_SOURCES, fracture_samples, source_of
from training.tasks import IMAGE_TASKS
from training.transfer_head import backbone_at, features_of, fit_head, view_set, with_logistic_head
from training.views import VIEWS

log = logging.getLogger("training.bone_fracture")
REPO_ROOT = Path(__file__).resolve().parent.parent


def all_features(samples, backbone, spec, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4 views, features) and the original model images for parity, cached on disk.

    The cache key covers the backbone's layers and weights: features of another KL run, or
    pooled another way, are never reused."""
    key_source = hashlib.sha256(json.dumps([[s.relative for s in samples], repr(spec), backbone.to_json()]).encode())
    for weights in backbone.get_weights():
        key_source.update(np.ascontiguousarray(weights).tobytes())
    key = key_source.hexdigest()[:16]
    cache = cache_dir / f"bone_fracture_features-{key}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return stored["features"], stored["parity"]
    extract = features_of(backbone)
    features, parity = [], []
    for index, sample in enumerate(samples):
        image = model_image(decode_grayscale(sample.path), spec)[0][..., None]
        features.append(extract(view_set(image, rotations=True)))
        if index % 8 == 0 and len(parity) < 24:
            parity.append(image)
        if index % 50 == 0:
            log.info("features %d/%d", index, len(samples))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, features=np.stack(features), parity=np.stack(parity))
    return np.stack(features), np.stack(parity)


def scored_features(features: np.ndarray) -> np.ndarray:
    """What the exported model's head reads: the mean over the image and its test-time views
    (view_set's order puts them first; the head is linear, so this averages the views' logits)."""
    views = IMAGE_TASKS["bone_fracture"].test_time_views
    assert tuple(views) == VIEWS[: len(views)], "test-time views must follow view_set's order"
    return features[:, : 1 + len(views)].mean(axis=1)


def _training_rows(features: np.ndarray, labels: np.ndarray, rows: np.ndarray):
    views = features.shape[1]
    return (
        features[rows].reshape(-1, features.shape[-1]),
        np.repeat(labels[rows], views),
        np.repeat(rows, views),  # every view of a radiograph shares its group
    )


def _inner_threshold(features, labels, rows, c_head, seed: int) -> float:
    """Balanced-accuracy threshold from out-of-fold scores inside the training folds."""
    inner = stratified_fold_numbers(labels[rows], folds=4, seed=seed)
    scores = np.zeros(rows.size)
    for k in range(4):
        fit_rows = rows[inner != k]
        head = fit_head(*_training_rows(features, labels, fit_rows), seed=seed, fixed_c=c_head)
        scores[inner == k] = head.probabilities(scored_features(features[rows[inner == k]]))[:, 1]
    return best_balanced_threshold(scores, labels[rows])


def cross_validated(samples, features, labels, *, train_sources, seed: int, folds: int = 5) -> dict:
    """Out-of-fold P(fractured) and decisions for every radiograph."""
    p_fractured = np.zeros(labels.size)
    predicted = np.zeros(labels.size, dtype=int)
    logits = np.zeros((labels.size, 2))
    index_of = {s.relative: i for i, s in enumerate(samples)}
    chosen = []
    for k, held_out in enumerate(grouped_folds(samples, folds=folds, seed=seed)):
        test = np.array([index_of[s.relative] for s in held_out])
        held = set(test.tolist())
        train = np.array([i for i in range(labels.size) if i not in held and source_of(samples[i]) in train_sources])
        head = fit_head(*_training_rows(features, labels, train), seed=seed)
        threshold = _inner_threshold(features, labels, train, head.c, seed + k)
        probs = head.probabilities(scored_features(features[test]))
        p_fractured[test], predicted[test] = probs[:, 1], (probs[:, 1] >= threshold).astype(int)
        logits[test] = np.log(np.clip(probs, 1e-7, 1))
        chosen.append({"c": head.c, "threshold": threshold})
    return {"p": p_fractured, "predicted": predicted, "logits": logits, "folds": chosen}


def repeated_figures(samples, features, labels: np.ndarray, *, seed: int, repeats: int) -> dict:
    """ROC AUC and balanced accuracy (each fold's own inner threshold) over ``repeats`` fold
    assignments: balanced accuracy rests on about 100 intact radiographs, so a couple of them
    either side of a threshold move it by about a hundredth."""
    def figures_of(fold_seed: int) -> dict[str, float]:
        cv = cross_validated(samples, features, labels, train_sources=FRACTURE_SOURCES, seed=fold_seed)
        return {"roc_auc": metrics.roc_auc(labels == 1, cv["p"]), "balanced_accuracy": metrics.balanced_accuracy(labels, cv["predicted"])}

    return over_fold_assignments(figures_of, seed=seed, repeats=repeats)


def fold_decision_summary(names, labels: np.ndarray, cv: dict) -> dict:
    """Card metrics from the out-of-fold scores and each fold's own threshold decisions."""
    predicted = cv["predicted"]
    matrix = metrics.confusion_matrix(labels, predicted, 2)
    return {
        "n": int(labels.size),
        "class_counts": {name: int((labels == i).sum()) for i, name in enumerate(names)},
        "accuracy": round(metrics.accuracy(labels, predicted), 4),
        "balanced_accuracy": round(metrics.balanced_accuracy(labels, predicted), 4),
        "roc_auc": round(metrics.roc_auc(labels == 1, cv["p"]), 4),
        "sensitivity": round(float(matrix[1, 1] / matrix[1].sum()), 4),
        "specificity": round(float(matrix[0, 0] / matrix[0].sum()), 4),
        "confusion_matrix": {"labels": list(names), "matrix": matrix.tolist()},
        "expected_calibration_error": round(metrics.expected_calibration_error(softmax(cv["logits"]), labels), 4),
    }


def size_alone_auc(samples, labels: np.ndarray) -> dict:
    """ROC AUC of "the smaller the radiograph, the likelier fractured", overall and per source.

    In ``multiregion`` the fractured films are mostly small web figures and the intact ones
    full-size films, so a model can learn size instead of fracture; this says how far size
    alone gets, next to the model's own per-source figures."""
    def longer_side_of(sample) -> int:
        with Image.open(sample.path) as image:  # reads the header only
            return max(image.size)

    smaller = -np.array([longer_side_of(s) for s in samples])
    sources = np.array([source_of(s) for s in samples])
    return {"overall": round(metrics.roc_auc(labels == 1, smaller), 3), **auc_per_source(labels == 1, smaller, sources)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--kl-model", type=Path, default=REPO_ROOT / "models" / "bone_fracture" / "model.onnx",
                        help="KL network: a Keras training output or a shipped ONNX model built on it")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "bone_fracture")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "cache")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--scales", choices=FEATURE_SCALES, help="KL network activations the head reads (default: the task's)")
    parser.add_argument("--repeats", type=int, default=1, help="also report AUC and balanced accuracy over this many fold assignments")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    started = time.time()
    task = IMAGE_TASKS["bone_fracture"]
    samples = fracture_samples(args.data_root)
    labels = np.array([s.label for s in samples])
    scales = args.scales or task.feature_scales
    backbone = backbone_at(args.kl_model, task.preprocessing.size, pooling=task.feature_pooling, scales=scales, half_size_too=task.feature_half_size)
    features, parity = all_features(samples, backbone, task.preprocessing, args.cache)
    files = [s.relative for s in samples]

    runs = {}
    for name, sources in {"both_sources": FRACTURE_SOURCES, "vuppala_only": ("vuppala",)}.items():
        cv = cross_validated(samples, features, labels, train_sources=sources, seed=args.seed)
        runs[name] = {"cv": cv, "report": pooled_metrics(task.labels, files, labels, cv["p"], cv["predicted"])}
        log.info("%s: %s", name, json.dumps(runs[name]["report"]["overall"]))
    chosen = runs["both_sources"]["cv"]
    if args.repeats > 1:
        runs["both_sources"]["report"]["repeated_fold_assignments"] = repeated_figures(samples, features, labels, seed=args.seed, repeats=args.repeats)

    temperature = fit_temperature(chosen["logits"], labels)
    calibrated = softmax(chosen["logits"], temperature)
    threshold = best_balanced_threshold(calibrated[:, 1], labels)
    head = fit_head(*_training_rows(features, labels, np.arange(labels.size)), seed=args.seed)
    classifier = with_logistic_head(backbone, head, n_classes=len(task.labels), name=task.id)
    args.out.mkdir(parents=True, exist_ok=True)
    classifier.save(args.out / "model.keras")
    split_file = REPO_ROOT / "training" / "splits" / "bone_fracture.json"
    folds = grouped_folds(samples, folds=5, seed=args.seed)
    write_split_lists({f"fold_{k}": fold for k, fold in enumerate(folds)}, split_file, seed=args.seed, labels=task.labels)
    report = {
        "task": task.id,
        "labels": list(task.labels),
        "seed": args.seed,
        # The backbone is named: the KL network is trained in steps, and any of them can be read.
        "command": f"python -m training.train_bone_fracture --kl-model {display_path(args.kl_model)}"
        + (f" --scales {args.scales}" if args.scales else "")
        + (f" --repeats {args.repeats}" if args.repeats > 1 else ""),
        "feature_scales": scales,
        "duration_s": round(time.time() - started, 1),
        "split_file": str(split_file.relative_to(REPO_ROOT)),
        "split_counts": {"all": {name: int((labels == i).sum()) for i, name in enumerate(task.labels)}},
        "metrics_split": "grouped 5-fold cross-validation, out-of-fold: every radiograph scored once by a model that never saw it (threshold per fold from inner folds)",
        "regularisation_c": head.c,
        "temperature": round(temperature, 4),
        "test_time_views": list(task.test_time_views),
        "calibration_data": "the pooled out-of-fold cross-validation predictions",
        "threshold": threshold,
        "ece": {
            "cv_before": round(summarise(softmax(chosen["logits"]), labels, class_names=task.labels, task="binary")["expected_calibration_error"], 4),
            "cv_after": round(summarise(calibrated, labels, class_names=task.labels, task="binary")["expected_calibration_error"], 4),
        },
        "test": fold_decision_summary(task.labels, labels, chosen),
        "cross_validation": {name: {**run["report"], "folds": run["cv"]["folds"]} for name, run in runs.items()},
        "image_size_alone_roc_auc": size_alone_auc(samples, labels),
    }
    (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    np.savez_compressed(args.out / "parity_images.npz", images=parity.astype(np.float32))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
