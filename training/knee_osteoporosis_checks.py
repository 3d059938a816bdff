"""Two checks of the shipped knee osteoporosis model that its card reports.

    python -m training.knee_osteoporosis_checks   # prints JSON

- **Fine detail.** Bone texture is fine detail, so a film that is softer than the training
  films (downsized and enlarged again, heavily compressed, scanned out of focus) may read
  differently. The films are softened by resampling to a fraction of their size and back,
  then read exactly as the app reads them (joints located, each joint scored, film = mean):
  how far the answers move, and how many joints the familiarity check flags.
- **Framing shortcuts.** Whether simple properties of the file (its width at the sources'
  fixed 512 px height, bytes per pixel, whole-film fine-detail energy) separate the labels by
  themselves, per source: a model could learn those instead of bone.

The films are the ones the model was fitted on, so the ROC AUC at full detail is optimistic;
what matters is how it changes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from desktop.core.familiarity import UNFAMILIAR_WARNING
from desktop.core.film_aggregation import film_answer
from desktop.core.imaging import load_image
from desktop.core.metrics import roc_auc
from desktop.inference.registry import ModelRegistry
from desktop.inference.regional import run_image_models
from training.evaluation import auc_per_source
from training.knee_osteoporosis_data import list_films, softened

REPO_ROOT = Path(__file__).resolve().parent.parent
DETAIL_FACTORS = (1.0, 0.75, 0.5)


def fine_detail_energy(pixels: np.ndarray) -> float:
    """Mean absolute Laplacian of the lightly smoothed film, relative to its grey-level spread."""
    return float(np.abs(ndimage.laplace(ndimage.gaussian_filter(pixels, 0.5))).mean() / (pixels.std() + 1e-6))


def shortcut_aucs(measures: dict[str, np.ndarray], positive: np.ndarray, sources: np.ndarray) -> dict:
    """ROC AUC of each measure alone (larger = positive), per source and over all films."""
    return {
        name: {**auc_per_source(positive, values, sources), "all": round(roc_auc(positive, values), 3)}
        for name, values in measures.items()
    }


def detail_response(films, film_pixels, model, locator, factors=DETAIL_FACTORS) -> dict:
    """Each film softened, then read as the app and ``evaluate`` read it: the joints the
    locator finds, the model on each, one film answer by the card's film aggregation."""
    card = model.card
    positive_index = card.labels.index("osteoporosis")
    result = {}
    for factor in factors:
        scores, truth, called, flagged, joints_read = [], [], [], 0, 0
        for film, original in zip(films, film_pixels):
            answers = run_image_models([model], softened(original, factor), locator=locator, with_heatmap=False).predictions
            if not answers or answers[0].region is None:  # no joint found: the model did not run
                continue
            label, row = film_answer([(card.labels.index(a.label), a.probabilities) for a in answers], card=card, derived=None)
            scores.append(row[positive_index])
            called.append(label == positive_index)
            truth.append(film.label == "osteoporosis")
            flagged += sum(UNFAMILIAR_WARNING in a.warnings for a in answers)
            joints_read += len(answers)
        scores, truth = np.array(scores), np.array(truth)
        result[f"detail_x{factor}"] = {
            "films": int(scores.size),
            "roc_auc": round(roc_auc(truth, scores), 3),
            "called_osteoporosis": round(float(np.mean(called)), 3),
            "joints_flagged_unfamiliar": f"{flagged}/{joints_read}",
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    args = parser.parse_args(argv)
    registry = ModelRegistry.discover(args.models)
    model, locator = registry.get("knee_osteoporosis"), registry.helper("joint_locator")
    films, _ = list_films(args.data_root / "osteoporosis")
    films = [f for f in films if f.label in ("normal", "osteoporosis")]

    film_pixels = [load_image(film.path).pixels for film in films]  # a few hundred films of at most 512 px
    widths = np.array([pixels.shape[1] for pixels in film_pixels], float)
    bytes_per_pixel = np.array([os.path.getsize(film.path) / pixels.size for film, pixels in zip(films, film_pixels)])
    detail = np.array([fine_detail_energy(pixels) for pixels in film_pixels])
    sources = np.array([f.source for f in films])
    positive = np.array([f.label == "osteoporosis" for f in films])
    report = {
        "model": f"{model.card.id} {model.card.version}",
        "detail": detail_response(films, film_pixels, model, locator),
        "shortcut_roc_auc": shortcut_aucs(
            {"width": widths, "bytes_per_pixel": bytes_per_pixel, "fine_detail_energy": detail},
            positive, sources,
        ),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
