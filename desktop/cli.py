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

from desktop import __version__
from desktop.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, error
from desktop.commands.evaluate import evaluate
from desktop.commands.self_test import self_test
from desktop.core.imaging import ImageLoadError
from desktop.core.model_card import BODY_PARTS
from desktop.core.prediction import Prediction
from desktop.inference.analysis import AnalysisService
from desktop.inference.predictor import PredictionError
from desktop.inference.registry import ModelRegistry

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]

log = logging.getLogger(__name__)

COMMANDS = ("predict", "evaluate", "self-test")
_error = error


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
        return evaluate(args, registry)
    return self_test(registry)


# -- predict -----------------------------------------------------------------------------------
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


