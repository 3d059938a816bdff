"""Measure a whole-image model on turned films: read as they are, and as the app reads them.

    python -m training.turned_films --model pneumonia      # its internal test split (1 in 5)

Every image of the model's internal test split is read as it is, turned a quarter either way
and a half turn. For each turn the model's accuracy is reported twice: on the image as given
(``predict_image``), and through the app's analysis (the body-part guard reads every turn,
and the model reads the film in the turn the guard found upright, when the guard is sure of
the model's body part).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from desktop.core.imaging import load_image
from desktop.inference.analysis import AnalysisService
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from training.datasets import read_split_list

REPO_ROOT = Path(__file__).resolve().parent.parent


def _test_images(model_id: str, data_root: Path, every: int) -> list[tuple[Path, str]]:
    dataset = data_root / model_id
    # Split lists name files relative to the dataset folder; the class is the parent folder.
    return [(dataset / relative, Path(relative).parent.name) for relative, _group in read_split_list(model_id, "test")[::every]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pneumonia")
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--every", type=int, default=5, help="read one test image in EVERY")
    args = parser.parse_args(argv)
    registry = ModelRegistry.discover(args.models, threads=1)
    model = registry.get(args.model)
    service = AnalysisService(registry)
    files = _test_images(args.model, args.data_root, args.every)
    report: dict = {"model": args.model, "n": len(files)}
    for turn in range(4):
        right_as_given = right_in_app = 0
        for path, truth in files:
            image = load_image(path)
            turned = replace(image, pixels=np.ascontiguousarray(np.rot90(image.pixels, turn)))
            right_as_given += predict_image(model, turned.pixels, with_heatmap=False).label == truth
            result = service.analyse_guarded(turned, model_ids=[args.model], with_heatmap=False)
            right_in_app += result.predictions[0].label == truth
        report[f"turn_{turn}"] = {"accuracy_as_given": round(right_as_given / len(files), 4),
                                  "accuracy_in_the_app": round(right_in_app / len(files), 4)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
