"""``python -m desktop evaluate``: score a model on a folder with one sub-folder per label.

Files go through the same steps as in the app. A knee-joint model (card ``region``) reads each
knee joint the locator finds, and the joints' answers become one answer per film by the card's
``film_aggregation`` (see :mod:`desktop.core.film_aggregation`): a bilateral film counts as
osteoarthritis when either knee is. A film on which no joint is found is not scored; it is
counted in ``n_no_joint`` and named on stderr. With a familiarity check in the card,
``n_unfamiliar`` counts the scored files the app would flag as unlike the model's images.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from desktop.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, error
from desktop.core import metrics
from desktop.core.familiarity import UNFAMILIAR_WARNING
from desktop.core.film_aggregation import film_answer
from desktop.core.imaging import ImageLoadError, load_image
from desktop.core.joint_regions import NO_JOINT_NOTICE, NO_LOCATOR_WARNING
from desktop.core.model_card import CardError, DerivedOutput, ModelCard
from desktop.core.prediction import Prediction
from desktop.inference.guard_views import GUARD_ROLE, read_guard
from desktop.inference.predictor import PredictionError
from desktop.inference.regional import ModelRun, run_image_models, usable_locator
from desktop.inference.registry import LoadedModel, ModelRegistry

__all__ = ["evaluate"]

PROGRESS_EVERY = 200


def _collect_samples(data: Path, labels: Sequence[str], what: str) -> list[tuple[Path, int]]:
    """(file, true label index) for every file under ``data/<label>/``, any depth.

    Raises ValueError with a one-line message for folder names that are not labels.
    """
    if not data.is_dir():
        raise ValueError(f"{data} is not a folder")
    lookup = {label.casefold(): index for index, label in enumerate(labels)}
    folders = sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ValueError(f"{data} holds no class folders (expected some of: {', '.join(labels)})")
    samples: list[tuple[Path, int]] = []
    for folder in folders:
        index = lookup.get(folder.name.casefold())
        if index is None:
            raise ValueError(f"folder {folder.name!r} in {data} is not a label of {what} ({', '.join(labels)})")
        # Dot-files (.DS_Store, Thumbs caches renamed by sync tools) are never images.
        samples.extend((f, index) for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.startswith("."))
    return samples


def _score_row(prediction: Prediction, labels: Sequence[str], derived: DerivedOutput | None) -> tuple[int, list[float]]:
    if derived is None:
        return labels.index(prediction.label), list(prediction.probabilities)
    result = next(d for d in prediction.derived if d.id == derived.id)
    return labels.index(result.label), [1.0 - result.probability, result.probability]


def _auc(card: ModelCard, derived: DerivedOutput | None, y_true: np.ndarray, probs: np.ndarray) -> float:
    if derived is not None:
        return metrics.roc_auc(y_true == 1, probs[:, 1])
    if card.task == "binary" and len(card.labels) == 2:
        positive = card.labels.index(card.positive_label) if card.positive_label else 1
        return metrics.roc_auc(y_true == positive, probs[:, positive])
    present = np.unique(y_true)
    if present.size == 2:
        # Two classes of a multiclass model: compare them with each other only, the later one
        # in card order (the higher grade for ordinal models) being "positive".
        first, second = int(present[0]), int(present[1])
        pair = probs[:, first] + probs[:, second]
        score = np.divide(probs[:, second], pair, out=np.full(pair.shape, 0.5), where=pair > 0)
        return metrics.roc_auc(y_true == second, score)
    return float("nan")


def _film_row(
    run: ModelRun, card: ModelCard, labels: Sequence[str], derived: DerivedOutput | None
) -> tuple[int, list[float]]:
    """One (label index, row) per file; several joints are combined by the card's rule."""
    joint_rows = [_score_row(p, labels, derived) for p in run.predictions]
    return joint_rows[0] if len(joint_rows) == 1 else film_answer(joint_rows, card=card, derived=derived)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def evaluate(args: argparse.Namespace, registry: ModelRegistry) -> int:
    try:
        model: LoadedModel = registry.get(args.model)
        card = model.card
        if not card.is_image_model:
            raise ValueError(f"model {card.id!r} is a {card.task} model; evaluate needs an image model")
        derived = card.derived(args.output) if args.output else None
        labels = derived.labels if derived else card.labels
        what = f"output {derived.id!r} of {card.id!r}" if derived else f"model {card.id!r}"
        samples = _collect_samples(args.data, labels, what)
    except KeyError as exc:
        error(exc.args[0])
        return EXIT_USAGE
    except (ValueError, CardError) as exc:
        error(str(exc))
        return EXIT_USAGE

    regional = card.region is not None
    locator = usable_locator(registry) if regional else None
    if regional and locator is None:
        print(f"warning: {NO_LOCATOR_WARNING}", file=sys.stderr)
    y_true: list[int] = []
    y_pred: list[int] = []
    rows: list[list[float]] = []
    per_file: list[dict] = []
    skipped = no_joint = unfamiliar = 0
    for count, (file, truth) in enumerate(samples, start=1):
        try:
            pixels = load_image(file).pixels
            if card.role == GUARD_ROLE:  # read in every orientation, as the app asks it
                run = ModelRun(predictions=(read_guard(model, pixels).prediction,))
            else:
                run = run_image_models([model], pixels, locator=locator, with_heatmap=False)
        except (ImageLoadError, PredictionError) as exc:
            skipped += 1
            print(f"warning: skipped {file}: {exc}", file=sys.stderr)
            run = None
        if run is not None and run.joints == ():
            no_joint += 1
            print(f"warning: no knee joint found in {file}", file=sys.stderr)
        elif run is not None:
            for warning in run.warnings:
                if warning not in (NO_LOCATOR_WARNING, NO_JOINT_NOTICE):  # said once above / counted
                    print(f"warning: {file}: {warning}", file=sys.stderr)
            flagged = any(UNFAMILIAR_WARNING in p.warnings for p in run.predictions)
            unfamiliar += flagged
            predicted, row = _film_row(run, card, labels, derived)
            y_true.append(truth)
            y_pred.append(predicted)
            rows.append(row)
            if args.batch_report:
                entry = {"file": str(file), "true": labels[truth], "predicted": labels[predicted],
                         "probabilities": dict(zip(labels, row)),
                         "unfamiliar": flagged if card.familiarity is not None else None}
                if regional:
                    entry["joints"] = [p.region_side for p in run.predictions if p.region_side is not None]
                per_file.append(entry)
        if count % PROGRESS_EVERY == 0:
            print(f"progress: {count}/{len(samples)} files", file=sys.stderr, flush=True)
    if not y_true:
        unscored = f", {no_joint} without a knee joint" if regional else ""
        error(f"no readable images under {args.data} ({skipped} skipped{unscored})")
        return EXIT_FAILURE

    truth_arr, pred_arr, probs = np.asarray(y_true), np.asarray(y_pred), np.asarray(rows)
    matrix = metrics.confusion_matrix(truth_arr, pred_arr, len(labels))
    recall = {
        label: (float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None) for i, label in enumerate(labels)
    }
    # Kappa weighs how far off a grade is, which means something only for ordered grades.
    kappa = (
        _number(metrics.quadratic_weighted_kappa(truth_arr, pred_arr, len(labels)))
        if card.task == "ordinal" and derived is None
        else None
    )
    report = {
        "model": card.id,
        "version": card.version,
        "output": derived.id if derived else None,
        "n": len(y_true),
        "n_skipped": skipped,
        "labels": list(labels),
        "accuracy": _number(metrics.accuracy(truth_arr, pred_arr)),
        "balanced_accuracy": _number(metrics.balanced_accuracy(truth_arr, pred_arr)),
        "roc_auc": _number(_auc(card, derived, truth_arr, probs)),
        "quadratic_weighted_kappa": kappa,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix.tolist()},
        "per_class_recall": recall,
        "n_unfamiliar": unfamiliar if card.familiarity is not None else None,
    }
    if regional:
        report["n_no_joint"] = no_joint
        report["film_aggregation"] = card.film_aggregation
        report["joint_locator"] = locator.id if locator is not None else None
    if args.batch_report:
        report["files"] = per_file
    print(json.dumps(report, indent=2))
    return EXIT_OK


