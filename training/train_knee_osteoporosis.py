"""Train the knee osteoporosis image model: bone texture of each located joint + a linear head.

    python -m training.train_knee_osteoporosis --compare   # + the other label scheme and the KL-feature head

About 340 distinct films are too few to train a CNN from scratch. Every film is cut into its
joints by the app's own locator, each joint goes through the KL preprocessing (224 px crop,
CLAHE), and an L2-regularised logistic regression reads classical bone texture measures of
the crop (training/texture_maps.py: band-pass energy, local binary patterns, grey-level
co-occurrence). The result is written as one Keras model (texture layer + dense head), so the
exporter, the app's heat maps and the parity check treat it like any other model trained here.
The head also learns from every film softened (TRAINING_DETAIL), so a softer film still reads.

``--compare`` also cross-validates the three-class label scheme, and the same head on the
knee KL network's features (``--kl-model``: version 1.1.0 ships inside the fracture model),
which is what the model read before texture replaced it.

Figures come from grouped 5-fold cross-validation at film level (a film's probability is the
mean over its joints, as the app reports it), with 95% bootstrap intervals over film groups.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from desktop.core import metrics  # noqa: E402
from desktop.inference.knee_joints import crop_joint, locate_knee_joints  # noqa: E402
from desktop.inference.preprocess import model_image  # noqa: E402
from desktop.inference.registry import ModelRegistry  # noqa: E402
from training.calibration import fit_temperature, softmax  # noqa: E402
from training.cross_validate import bootstrap_ci, over_fold_assignments, stratified_fold_numbers  # noqa: E402
from training.datasets import decode_grayscale, display_path  # noqa: E402
from training.evaluation import best_balanced_threshold, summarise  # noqa: E402
from training.knee_osteoporosis_data import list_films, softened  # noqa: E402
from training.tasks import IMAGE_TASKS  # noqa: E402
from training.texture_maps import texture_features_model  # noqa: E402
from training.transfer_head import LinearHead, backbone_at, fit_head, with_logistic_head  # noqa: E402

log = logging.getLogger("training.knee_osteoporosis")
REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMES = {"binary": ("normal", "osteoporosis"), "three_class": ("normal", "osteopenia", "osteoporosis")}


# Each film is also read softened (resampled to 75% and back, before the contrast step): a
# head fitted on full detail alone called 7% of the same films osteoporosis instead of 44%
# once they were that soft, so a slightly blurred clinic film would read as normal. The
# figures are still measured on the films as they are (see the card for both).
TRAINING_DETAIL = (1.0, 0.75)


def joint_crops(films, locator, spec) -> tuple[list[list[np.ndarray]], dict]:
    """Per detail level of TRAINING_DETAIL, per film: its joints as (joints, 224, 224, 1) model
    inputs, cut where the locator finds them on the film as it is."""
    by_level, no_joint = [[] for _ in TRAINING_DETAIL], []
    for index, film in enumerate(films):
        pixels = decode_grayscale(film.path)
        joints = locate_knee_joints(locator, pixels)
        if not joints:
            no_joint.append(film.relative)
        for level, factor in zip(by_level, TRAINING_DETAIL):
            film_at_level = softened(pixels, factor)
            crops = [model_image(crop_joint(film_at_level, j), spec)[0] for j in joints]
            level.append(np.stack(crops)[..., None] if crops else np.zeros((0, *spec.size, 1), np.float32))
        if index % 50 == 0:
            log.info("joints %d/%d", index, len(films))
    parity = np.concatenate(by_level[0])[:24]
    return by_level, {"no_joint_found": no_joint, "parity_views": parity}


def joint_features(crops_by_level, features_of) -> list[list[np.ndarray]]:
    """Views of every film's joints: each detail level as it is and mirrored (left and right
    knees are mirror images). Views[0] is the film as it is, the one that is scored."""
    views = []
    for per_film_crops in crops_by_level:
        views.append([features_of(crops) if len(crops) else np.zeros((0, 1)) for crops in per_film_crops])
        views.append([features_of(crops[:, :, ::-1, :]) if len(crops) else np.zeros((0, 1)) for crops in per_film_crops])
    return views


def _rows(indices, views, labels):
    """Training rows: every view of every joint of the given films, grouped by film."""
    x, y, g = [], [], []
    for i in indices:
        for view in views:
            x.append(view[i])
            y.extend([labels[i]] * len(view[i]))
            g.extend([i] * len(view[i]))
    return np.concatenate(x), np.array(y), np.array(g)


def _film_logits(head: LinearHead, features: np.ndarray) -> np.ndarray:
    """Film logits: the mean over joints of the per-joint probabilities, back in log space."""
    probs = head.probabilities(features).mean(0)
    return np.log(np.clip(probs, 1e-7, 1))


def cross_validate(views, labels, *, n_classes: int, seed: int, folds: int = 5) -> dict:
    per_film = views[0]
    usable = np.array([i for i in range(len(per_film)) if len(per_film[i]) and labels[i] >= 0])
    film_labels = np.array([labels[i] for i in usable])
    fold_of = stratified_fold_numbers(film_labels, folds=folds, seed=seed)
    logits = np.zeros((usable.size, n_classes))
    chosen_c = []
    for k in range(folds):
        train = usable[fold_of != k]
        head = fit_head(*_rows(train, views, labels), seed=seed)
        chosen_c.append(head.c)
        for position in np.flatnonzero(fold_of == k):
            logits[position] = _film_logits(head, per_film[usable[position]])
    return {"films": usable, "labels": film_labels, "logits": logits, "chosen_c": chosen_c}


def repeated_auc(views, labels, scheme: tuple[str, ...], *, seed: int, repeats: int) -> dict:
    """Normal vs osteoporosis ROC AUC over ``repeats`` fold assignments (about 270 films)."""
    def figures_of(fold_seed: int) -> dict[str, float]:
        _, truth, score = _osteoporosis_scores(cross_validate(views, labels, n_classes=len(scheme), seed=fold_seed), scheme)
        return {"roc_auc": metrics.roc_auc(truth == 1, score)}

    return over_fold_assignments(figures_of, seed=seed, repeats=repeats)


def _osteoporosis_scores(cv: dict, scheme: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normal and osteoporosis films' rows, truth (1: osteoporosis) and P(osteoporosis)
    among the two, as ``evaluate`` scores them."""
    probs = softmax(cv["logits"])
    normal, osteo = scheme.index("normal"), scheme.index("osteoporosis")
    rows = np.isin(cv["labels"], (normal, osteo))
    pair = probs[rows][:, [normal, osteo]]
    return rows, (cv["labels"][rows] == osteo).astype(int), pair[:, 1] / pair.sum(1)


def normal_vs_osteoporosis(cv: dict, scheme: tuple[str, ...], threshold: float | None) -> dict:
    """AUC and accuracies on normal and osteoporosis films, with bootstrap intervals."""
    rows, truth, score = _osteoporosis_scores(cv, scheme)
    predicted = (score >= (threshold if threshold is not None else 0.5)).astype(int)
    return bootstrap_ci(truth, score, predicted, cv["films"][rows])


def _rows_by_source(films, film_indices: np.ndarray) -> dict[str, np.ndarray]:
    """Positions in the cross-validation output per source folder (images_gobara, ...)."""
    sources = np.array([films[i].source for i in film_indices])
    return {source: np.flatnonzero(sources == source) for source in sorted(set(sources))}


def _subset(cv: dict, rows: np.ndarray) -> dict:
    return {"films": cv["films"][rows], "labels": cv["labels"][rows], "logits": cv["logits"][rows]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--kl-model", type=Path, default=REPO_ROOT / "models" / "bone_fracture" / "model.onnx",
                        help="KL network for the --compare head: a Keras training output or a shipped ONNX model built on it")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "knee_osteoporosis")
    parser.add_argument("--compare", action="store_true", help="also cross-validate the other label scheme and the KL-feature head")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--repeats", type=int, default=1, help="also report the ROC AUC over this many fold assignments")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    started = time.time()
    task = IMAGE_TASKS["knee_osteoporosis"]
    films, data_summary = list_films(args.data_root / "osteoporosis")
    locator = ModelRegistry.discover(REPO_ROOT / "models").helper("joint_locator")
    if locator is None:
        raise SystemExit("error: models/knee_joint_locator is needed to cut films into joints")
    crops, extra = joint_crops(films, locator, task.preprocessing)
    log.info("no joint found on %d films", len(extra["no_joint_found"]))
    texture = texture_features_model(task.preprocessing.size)
    views = joint_features(crops, lambda batch: texture.predict(batch, batch_size=16, verbose=0))

    schemes = SCHEMES if args.compare else {task.id: task.labels}
    comparison = {}
    for name, scheme in schemes.items():
        labels = [scheme.index(f.label) if f.label in scheme else -1 for f in films]
        cv = cross_validate(views, labels, n_classes=len(scheme), seed=args.seed)
        comparison[name] = {"labels": list(scheme), "normal_vs_osteoporosis": normal_vs_osteoporosis(cv, scheme, None)}
        log.info("scheme %s: %s", name, json.dumps(comparison[name]))
        if tuple(scheme) == task.labels:
            chosen_cv, chosen_labels = cv, labels
    feature_comparison = {}
    if args.compare:
        # The head on the KL network's every-stage features, on the same films and folds.
        kl_backbone = backbone_at(args.kl_model, task.preprocessing.size, scales="every_stage")
        kl_views = joint_features(crops, lambda batch: kl_backbone.predict(batch, batch_size=32, verbose=0))
        kl_cv = cross_validate(kl_views, chosen_labels, n_classes=len(task.labels), seed=args.seed)
        feature_comparison = {
            "texture": comparison["binary"]["normal_vs_osteoporosis"]["roc_auc"],
            f"kl_network_every_stage ({display_path(args.kl_model)})": normal_vs_osteoporosis(kl_cv, task.labels, None)["roc_auc"],
        }
        log.info("features: %s", json.dumps(feature_comparison))

    # Calibration and the threshold come from out-of-fold predictions: never from the films
    # the figures are reported on as if they were unseen.
    temperature = fit_temperature(chosen_cv["logits"], chosen_cv["labels"])
    raw, calibrated = softmax(chosen_cv["logits"]), softmax(chosen_cv["logits"], temperature)
    threshold = best_balanced_threshold(calibrated[:, 1], chosen_cv["labels"]) if task.task == "binary" else None
    head = fit_head(*_rows(chosen_cv["films"], views, chosen_labels), seed=args.seed)
    classifier = with_logistic_head(texture, head, n_classes=len(task.labels), name=task.id)

    repeated = repeated_auc(views, chosen_labels, task.labels, seed=args.seed, repeats=args.repeats) if args.repeats > 1 else None

    args.out.mkdir(parents=True, exist_ok=True)
    classifier.save(args.out / "model.keras")
    summary = summarise(calibrated, chosen_cv["labels"], class_names=task.labels, task=task.task, threshold=threshold)
    report = {
        "task": task.id,
        "labels": list(task.labels),
        "seed": args.seed,
        # The KL network the comparison read is named: it is trained in steps, and any of them can be read.
        "command": "python -m training.train_knee_osteoporosis"
        + (f" --compare --kl-model {display_path(args.kl_model)}" if args.compare else "")
        + (f" --repeats {args.repeats}" if args.repeats > 1 else ""),
        "duration_s": round(time.time() - started, 1),
        "data": data_summary,
        "no_joint_found": extra["no_joint_found"],
        "split_file": "grouped 5-fold cross-validation over films (groups: content hash + near-duplicate hash)",
        "metrics_split": "grouped 5-fold cross-validation, film level (mean over the film's joints), out-of-fold predictions",
        "regularisation_c": head.c,
        "fold_regularisation_c": chosen_cv["chosen_c"],
        "temperature": round(temperature, 4),
        "test_time_views": list(task.test_time_views),
        "training_detail_levels": list(TRAINING_DETAIL),
        "calibration_data": "the pooled out-of-fold cross-validation predictions",
        "threshold": threshold,
        "ece": {
            "cv_before": round(metrics.expected_calibration_error(raw, chosen_cv["labels"]), 4),
            "cv_after": round(metrics.expected_calibration_error(calibrated, chosen_cv["labels"]), 4),
        },
        "label_schemes": comparison,
        "feature_comparison_roc_auc": feature_comparison,
        "test": summary,
        "cross_validation": {
            "normal_vs_osteoporosis": normal_vs_osteoporosis(chosen_cv, task.labels, threshold),
            # The sources differ in look and labelling; one pooled figure can hide a weak one.
            "per_source": {
                source: normal_vs_osteoporosis(_subset(chosen_cv, rows), task.labels, threshold)
                for source, rows in _rows_by_source(films, chosen_cv["films"]).items()
            },
            "repeated_fold_assignments": repeated,
        },
    }
    (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    np.savez_compressed(args.out / "parity_images.npz", images=extra["parity_views"].astype(np.float32))
    log.info("cross-validated: %s", json.dumps(report["cross_validation"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
