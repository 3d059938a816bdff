"""``python -m desktop``: the GUI by default, or headless ``predict``, ``evaluate``, ``self-test``.

The first argument is a sub-command only when it is one of the names in :data:`COMMANDS`;
anything else (``python -m desktop scan.dcm``, as a file association launches it) is a list
of files for the GUI. This module never imports Qt: the GUI is imported only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop import __version__
from desktop.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, error
from desktop.commands.evaluate import evaluate
from desktop.commands.predict import PREDICT_EPILOG, predict, prediction_json
from desktop.commands.self_test import self_test
from desktop.core.knee_sides import STANDARD_DISPLAY
from desktop.core.model_card import BODY_PARTS
from desktop.inference.analysis import AnalysisService
from desktop.inference.registry import ModelRegistry

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main", "prediction_json"]

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

    predict_parser = commands.add_parser(
        "predict", help="classify image files and print the results", epilog=PREDICT_EPILOG
    )
    predict_parser.add_argument("files", nargs="+", metavar="FILE")
    predict_parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="ID",
        help="model id (repeatable); default: the study type the body-part guard sees, else all image models",
    )
    predict_parser.add_argument("--study", choices=BODY_PARTS, help="only models for this study type (overrides the guard)")
    predict_parser.add_argument("--json", action="store_true", help="one JSON object per file and line")
    predict_parser.add_argument("--no-heatmap", action="store_true", help="skip heat maps (faster)")
    predict_parser.add_argument(
        "--standard-knee-display",
        action="store_true",
        help="name the knees of two-knee films without side headers as the standard display shows them "
        "(patient's right on the image's left; sided_by: clinic), as the app's clinic setting does",
    )

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
        display = STANDARD_DISPLAY if args.standard_knee_display else None
        return predict(args, AnalysisService(registry, clinic_display=display))
    if args.command == "evaluate":
        return evaluate(args, registry)
    return self_test(registry)
