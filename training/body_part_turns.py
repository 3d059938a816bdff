"""Measure the body-part guard on turned films: the model alone, and as the app reads it.

    python -m training.body_part_turns                 # internal test split, models/body_part
    python -m training.body_part_turns --split val --confidence 0.6 0.7 0.8 0.9 0.95
                                                       # how the app's turn confidence was chosen

Every image of the split is read as it is, turned a quarter either way and a half turn. For
each turn: accuracy, radiographs called "not an X-ray", and the confusion matrix, for the
guard model on the image as given (``predict_image``) and for the guard as the app, the
command line and ``evaluate`` ask it (``read_guard``: the most radiograph-like turn), with how
often that turn was the upright one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from desktop.core.imaging import load_image
from desktop.inference.guard_views import RADIOGRAPH_TURN_CONFIDENCE, GuardReading, read_guard
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from training.datasets import read_split_list
from training.sample_sources import BODY_PART_LABELS, body_part_samples

REPO_ROOT = Path(__file__).resolve().parent.parent


def _readers(confidences: list[float]) -> dict:
    """Name -> read(model, pixels) -> GuardReading."""
    readers = {"model_alone": lambda model, pixels: GuardReading(predict_image(model, pixels, with_heatmap=False), 0)}
    for confidence in confidences:
        name = "as_the_app_reads_it" + ("" if confidence == RADIOGRAPH_TURN_CONFIDENCE else f"_at_{confidence}")
        readers[name] = lambda model, pixels, c=confidence: read_guard(model, pixels, confidence=c)
    return readers


def turn_report(model, images: list[tuple[int, np.ndarray]], confidences: list[float]) -> dict:
    """Per reader and turn: accuracy, radiographs called not an X-ray, the confusion matrix,
    and per true class how often the answer came from the image stood upright (the turn the
    app then reads whole-image models in)."""
    labels = list(BODY_PART_LABELS)
    report: dict = {}
    for name, read in _readers(confidences).items():
        for turn in range(4):
            matrix = np.zeros((len(labels), len(labels)), dtype=int)
            upright = np.zeros(len(labels), dtype=int)
            for truth, pixels in images:
                reading = read(model, np.ascontiguousarray(np.rot90(pixels, turn)))
                matrix[truth, int(np.argmax(reading.prediction.probabilities))] += 1
                upright[truth] += (turn + reading.turn) % 4 == 0
            report.setdefault(name, {})[f"turn_{turn}"] = {
                "accuracy": round(float(np.trace(matrix) / matrix.sum()), 4),
                "radiographs_called_not_xray": int(matrix[: labels.index("not_xray"), labels.index("not_xray")].sum()),
                "confusion_matrix": matrix.tolist(),
                "answered_from_upright": dict(zip(labels, upright.tolist())),
            }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument("--confidence", type=float, nargs="+", default=[RADIOGRAPH_TURN_CONFIDENCE],
                        help="turn confidences to try (default: the app's)")
    args = parser.parse_args(argv)
    model = ModelRegistry.discover(args.models, threads=1).get("body_part")
    members = {relative for relative, _group in read_split_list("body_part", args.split)}
    images = [(s.label, load_image(s.path).pixels) for s in body_part_samples(args.data_root) if s.relative in members]
    report = {"split": args.split, "n": len(images), "labels": list(BODY_PART_LABELS), **turn_report(model, images, args.confidence)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
