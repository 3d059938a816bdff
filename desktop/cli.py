"""``python -m desktop``: the GUI by default, or headless ``predict``, ``evaluate``, ``self-test``.

The first argument is a sub-command only when it is one of the names in :data:`COMMANDS`;
anything else (``python -m desktop scan.dcm``, as a file association launches it) is a list
of files for the GUI. This module never imports Qt: the GUI is imported only when it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from desktop import __version__, paths
from desktop.core import metrics
from desktop.core.imaging import ImageLoadError, load_image
from desktop.core.model_card import BODY_PARTS, CardError, DerivedOutput, ModelCard
from desktop.core.prediction import Prediction
from desktop.inference.analysis import AnalysisService
from desktop.inference.predictor import PredictionError, predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]

log = logging.getLogger(__name__)

COMMANDS = ("predict", "evaluate", "self-test")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
PROGRESS_EVERY = 200
SUM_TOLERANCE = 1e-3


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m desktop",
        description="XRayDesk. Without a command (or with image files) the window opens.",
    )
    parser.add_argument("--version", action="version", version=f"XRayDesk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details on stderr")
    commands = parser.add_subparsers(dest="command", metavar="{predict,evaluate,self-test}")

    predict = commands.add_parser("predict", help="classify image files and print the results")
    predict.add_argument("files", nargs="+", metavar="FILE")
    predict.add_argument(
        "--model", action="append", dest="models", metavar="ID", help="model id (repeatable); default: all image models"
    )
    predict.add_argument("--study", choices=BODY_PARTS, help="only models for this study type")
    predict.add_argument("--json", action="store_true", help="one JSON object per file and line")
    predict.add_argument("--no-heatmap", action="store_true", help="skip heat maps (faster)")

    evaluate = commands.add_parser("evaluate", help="score a model on a folder per class label")
    evaluate.add_argument("--model", required=True, metavar="ID")
    evaluate.add_argument("--data", required=True, type=Path, metavar="DIR")
    evaluate.add_argument("--output", metavar="DERIVED_ID", help="evaluate a derived output of the card")
    evaluate.add_argument(
        "--batch-report", action="store_true", help="also list each file's result (true, predicted, probabilities)"
    )

    commands.add_parser("self-test", help="load every model and run it on its sample image")
    return parser


def _build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m desktop", add_help=False)
    parser.add_argument("files", nargs="*")
    parser.add_argument("-v", "--verbose", action="store_true")
    # Used by packaging smoke tests: the window opens, paints once and the app exits.
    parser.add_argument("--exit-after-show", action="store_true", help=argparse.SUPPRESS)
    return parser


def _configure_logging(*, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m desktop``; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if a not in ("-v", "--verbose")), None)
    if first not in COMMANDS and first not in ("-h", "--help", "--version"):
        gui_args, unknown = _build_gui_parser().parse_known_args(args_list)
        options = [a for a in unknown if a.startswith("-")]
        if options:
            _error(f"unknown option {options[0]}; try python -m desktop --help")
            return EXIT_USAGE
        _configure_logging(verbose=gui_args.verbose)
        from desktop.app import run_gui  # Qt is imported only when the window is wanted

        # argparse leaves files after an option in ``unknown``; they are files all the same.
        return run_gui([*gui_args.files, *unknown], exit_after_show=gui_args.exit_after_show)

    try:
        args = _build_parser().parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 after --help
        return int(exc.code or 0)
    if args.command is None:  # only options such as -v were given to the command parser
        _build_parser().print_usage(sys.stderr)
        return EXIT_USAGE
    _configure_logging(verbose=args.verbose)
    registry = ModelRegistry.discover()
    if args.command == "predict":
        return _predict(args, AnalysisService(registry))
    if args.command == "evaluate":
        return _evaluate(args, registry)
    return _self_test(registry)


# -- predict ----------------------------------------------------------------------------------
def prediction_json(prediction: Prediction) -> dict:
    """The JSON form of one prediction, as ``predict --json`` prints it."""
    return {
        "model_id": prediction.model_id,
        "model_version": prediction.model_version,
        "label": prediction.label,
        "probabilities": dict(zip(prediction.labels, prediction.probabilities)),
        "threshold": prediction.threshold,
        "derived": {
            d.id: {"label": d.label, "probability": d.probability, "threshold": d.threshold} for d in prediction.derived
        },
        "calibrated": prediction.calibrated,
        "warnings": list(prediction.warnings),
        "timing_ms": {k: round(v, 3) for k, v in prediction.timings_ms.items()},
    }


def _print_table(file: str, image, predictions: Sequence[Prediction]) -> None:
    print(f"{file}  ({image.width} x {image.height} {image.format})")
    if not predictions:
        print("  no models selected")
    for p in predictions:
        probs = "  ".join(f"{label} {prob:.3f}" for label, prob in zip(p.labels, p.probabilities))
        threshold = f"  (threshold {p.threshold:.2f})" if p.threshold is not None else ""
        calibrated = "" if p.calibrated else "  [uncalibrated]"
        print(f"  {p.model_id:<24} {p.model_version:<8} {p.label:<16} {probs}{threshold}{calibrated}")
        for d in p.derived:
            print(f"      {d.name}: {d.label} ({d.probability:.3f}, threshold {d.threshold:.2f})")
        for warning in p.warnings:
            print(f"      warning: {warning}")


def _predict(args: argparse.Namespace, service: AnalysisService) -> int:
    try:
        models = service.select(body_part=args.study, model_ids=args.models)
    except KeyError as exc:
        _error(exc.args[0])
        return EXIT_USAGE
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if not models:
        where = f" for {args.study} studies" if args.study else ""
        _error(f"no image models available{where} in {service.registry.models_dir}")
        return EXIT_FAILURE
    ids = [m.id for m in models]
    status = EXIT_OK
    for file in args.files:
        start = time.perf_counter()
        try:
            image = service.load(file)
            decoded = time.perf_counter()
            predictions = service.analyse(image, model_ids=ids, with_heatmap=not args.no_heatmap)
        except (ImageLoadError, PredictionError) as exc:
            _error(f"{file}: {exc}")
            status = EXIT_FAILURE
            continue
        finished = time.perf_counter()
        if args.json:
            record = {
                "file": file,
                "sha256": image.sha256,
                "image": {"width": image.width, "height": image.height, "format": image.format},
                "predictions": [prediction_json(p) for p in predictions],
                "timing_ms": {
                    "decode": round((decoded - start) * 1000, 3),
                    "total": round((finished - start) * 1000, 3),
                },
            }
            print(json.dumps(record), flush=True)
        else:
            _print_table(file, image, predictions)
    return status


# -- evaluate ---------------------------------------------------------------------------------
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


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _evaluate(args: argparse.Namespace, registry: ModelRegistry) -> int:
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
        _error(exc.args[0])
        return EXIT_USAGE
    except (ValueError, CardError) as exc:
        _error(str(exc))
        return EXIT_USAGE

    y_true: list[int] = []
    y_pred: list[int] = []
    rows: list[list[float]] = []
    per_file: list[dict] = []
    skipped = 0
    for count, (file, truth) in enumerate(samples, start=1):
        try:
            prediction = predict_image(model, load_image(file).pixels, with_heatmap=False)
        except (ImageLoadError, PredictionError) as exc:
            skipped += 1
            print(f"warning: skipped {file}: {exc}", file=sys.stderr)
        else:
            predicted, row = _score_row(prediction, labels, derived)
            y_true.append(truth)
            y_pred.append(predicted)
            rows.append(row)
            if args.batch_report:
                per_file.append({"file": str(file), "true": labels[truth], "predicted": labels[predicted],
                                 "probabilities": dict(zip(labels, row))})
        if count % PROGRESS_EVERY == 0:
            print(f"progress: {count}/{len(samples)} files", file=sys.stderr, flush=True)
    if not y_true:
        _error(f"no readable images under {args.data} ({skipped} skipped)")
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
    }
    if args.batch_report:
        report["files"] = per_file
    print(json.dumps(report, indent=2))
    return EXIT_OK


# -- self-test --------------------------------------------------------------------------------
def _synthetic_image(size: tuple[int, int]) -> np.ndarray:
    """A smooth diagonal gradient: deterministic, decodes nowhere, exercises every pixel."""
    rows, cols = max(size[0], 64), max(size[1], 64)
    return (np.add.outer(np.linspace(0, 0.5, rows), np.linspace(0, 0.5, cols))).astype(np.float32)


def _self_test(registry: ModelRegistry) -> int:
    if not registry.available and not registry.unavailable:
        _error(f"no models found in {registry.models_dir}")
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
