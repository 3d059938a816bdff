"""Fit a shipped model's familiarity check on in-domain images and write it into its card.

    python -m conversion.familiarity --model-id knee_osteoporosis
    python -m conversion.familiarity --model-id knee_kl --foreign ../shared/data/osteoporosis

Run it after every export of the model (an export writes a new card without the block).

The check (see ``desktop.core.familiarity``) compares an input's feature vector with those of
reference images, read through the installed ONNX model exactly as the app reads them (knee
models: each located joint). The reference images are, per model:

- the heads on the knee KL network's features (``knee_osteoporosis``, ``bone_fracture``): every
  image the head was fitted on; the network itself never saw them, so their features are as
  new to it as a clinic's;
- the networks trained end to end here (``knee_kl``, ``pneumonia``): the validation split; the
  training images sit closer to the network than any new image will, and the internal test
  split stays an independent check: the share of it flagged is reported. For ``knee_kl`` that
  is the validation (and test) patients' knees in every film shape the app reads: single
  crops, bilateral films, 640 x 161 strips and ~2000 px films (``training.knee_film_sets``,
  written once into ``cache/``). Fitted on single crops alone it flagged 23-49% of the joints
  cut from those films, on which its accuracy is as good as on crops: false alarms.

The threshold is a high percentile (default 99th) of held-out distances from grouped 5-fold
cross-validation over the reference images, so about 1 in 100 in-domain images is flagged;
the summary itself is then fitted on all of them. ``--foreign`` folders report how often
images of another kind are flagged.
"""

from __future__ import annotations

import json
import logging
import sys
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from conversion.card_blocks import (
    block_command_parser,
    how_images_are_read,
    installed_model,
    update_card,
    views_as_read,
)
from desktop.core.familiarity import Familiarity, fit_familiarity
from desktop.core.imaging import ImageLoadError, load_image
from desktop.inference.predictor import PredictionError, feature_vector
from desktop.inference.registry import LoadedModel
from desktop.inference.regional import usable_locator

log = logging.getLogger("conversion.familiarity")
REPO_ROOT = Path(__file__).resolve().parent.parent
FOLDS = 5

Reference = list[tuple[Path, str]]  # (image file, group that must stay on one side of a fold)


def _split_files(model_id: str, data_root: Path, split: str) -> Reference:
    from training.datasets import read_split_list
    from training.tasks import IMAGE_TASKS

    root = data_root / IMAGE_TASKS[model_id].dataset
    return [(root / relative, group) for relative, group in read_split_list(model_id, split)]


def _knee_film_shapes(data_root: Path, split: str) -> Reference:
    from training.knee_film_sets import write_film_sets
    from training.tasks import knee_patient

    out = REPO_ROOT / "cache" / f"knee_film_sets_{split}"
    done = out / "complete"
    if not done.exists():
        write_film_sets(data_root / "kl_grade", out, split=split)
        done.write_text("written by conversion.familiarity\n", encoding="utf-8")
    return [(path, knee_patient(path.stem)) for path in sorted(out.rglob("*.png"))]


def _knee_films(data_root: Path) -> Reference:
    from training.knee_osteoporosis_data import list_films

    films, _ = list_films(data_root / "osteoporosis")
    return [(film.path, film.group) for film in films]


def _fracture_radiographs(data_root: Path) -> Reference:
    from training.sample_sources import fracture_samples

    return [(sample.path, sample.group) for sample in fracture_samples(data_root)]


# model id -> (reference images, independent check images or None)
SOURCES: dict[str, Callable[[Path], tuple[Reference, Reference | None]]] = {
    "knee_osteoporosis": lambda root: (_knee_films(root), None),
    "bone_fracture": lambda root: (_fracture_radiographs(root), None),
    "knee_kl": lambda root: (_knee_film_shapes(root, "val"), _knee_film_shapes(root, "test")),
    "pneumonia": lambda root: (_split_files("pneumonia", root, "val"), _split_files("pneumonia", root, "test")),
}


def image_features(model: LoadedModel, locator: LoadedModel | None, files: Iterable[tuple[Path, str]]):
    """Feature vectors as the app computes them, with the group of each (one per knee joint,
    one per quarter turn for a model that answers every turn)."""
    rows, groups = [], []
    for count, (path, group) in enumerate(files, start=1):
        try:
            views, _ = views_as_read(model, locator, load_image(path).pixels)
            for view in views:
                rows.append(feature_vector(model, view))
                groups.append(group)
        except (ImageLoadError, PredictionError) as exc:
            log.warning("skipped %s: %s", path, exc)
        if count % 200 == 0:
            log.info("features %d", count)
    return np.array(rows), np.array(groups)


def fold_of(groups: np.ndarray) -> np.ndarray:
    """A fixed fold per group (CRC of its name), so no group sits on both sides."""
    return np.array([zlib.crc32(str(g).encode()) % FOLDS for g in groups])


def held_out_distances(features: np.ndarray, groups: np.ndarray, *, components: int) -> np.ndarray:
    folds = fold_of(groups)
    distances = np.zeros(len(features))
    for k in range(FOLDS):
        held = folds == k
        if held.any() and (~held).sum() >= 3:
            distances[held] = fit_familiarity(features[~held], components=components).distance(features[held])
    return distances


def fit_for_model(model: LoadedModel, locator: LoadedModel | None, reference: Reference, *,
                  components: int, percentile: float) -> tuple[Familiarity, np.ndarray]:
    features, groups = image_features(model, locator, reference)
    if len(features) < 2 * FOLDS:
        raise ValueError(f"only {len(features)} reference feature vectors for {model.id}")
    held_out = held_out_distances(features, groups, components=components)
    threshold = float(np.percentile(held_out, percentile))
    return fit_familiarity(features, components=components).with_threshold(threshold), held_out


def _folder_images(folder: Path) -> Reference:
    from training.datasets import IMAGE_SUFFIXES

    return [(p, p.name) for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]


def flagged_share(familiarity: Familiarity, model: LoadedModel, locator: LoadedModel | None,
                  files: Reference) -> tuple[float, int]:
    """Share of the feature vectors (joints, or whole images) of ``files`` above the threshold."""
    features, _ = image_features(model, locator, files)
    if not len(features):
        return float("nan"), 0
    return float(np.mean(familiarity.distance(features) > familiarity.threshold)), len(features)


def main(argv: list[str] | None = None) -> int:
    parser = block_command_parser(__doc__.splitlines()[0], list(SOURCES))
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--percentile", type=float, default=99.0)
    parser.add_argument("--foreign", type=Path, action="append", default=[], help="folder of other images to report on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    found = installed_model(args)
    if found is None:
        return 1
    registry, model = found
    if not model.card.feature_map_output:
        print(f"error: {args.model_id} exports no feature map", file=sys.stderr)
        return 1
    locator = usable_locator(registry)
    reference, check = SOURCES[args.model_id](args.data_root)
    familiarity, held_out = fit_for_model(model, locator, reference, components=args.components, percentile=args.percentile)
    summary = {
        "images": f"{len(reference)} in-domain images ({how_images_are_read(model)})",
        "feature_vectors": int(len(held_out)),
        "components": int(familiarity.components.shape[0]),
        "threshold_rule": f"{args.percentile:g}th percentile of held-out distances (grouped {FOLDS}-fold)",
        "held_out_flagged": round(float(np.mean(held_out > familiarity.threshold)), 4),
        "command": " ".join(["python -m conversion.familiarity", *(sys.argv[1:] if argv is None else argv)]),
    }
    if check is not None:
        share, n = flagged_share(familiarity, model, locator, check)
        summary["internal_test_flagged"] = {"share": round(share, 4), "n": n}
    for folder in args.foreign:
        share, n = flagged_share(familiarity, model, locator, _folder_images(folder))
        summary.setdefault("other_images_flagged", {})[f"{folder.parent.name}/{folder.name}"] = {"share": round(share, 4), "n": n}
    familiarity = familiarity.with_threshold(familiarity.threshold, summary)

    update_card(model, lambda card: card.update(familiarity=familiarity.to_dict()))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
