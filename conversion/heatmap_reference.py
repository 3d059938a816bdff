"""Fit a CAM model's heat-map reference on films without the finding and write it into its card.

    python -m conversion.heatmap_reference --model-id bone_fracture
    python -m conversion.heatmap_reference --model-id knee_osteoporosis

Run it after every export of the model (an export writes a new card without the block).

Why: these networks respond to the edge of what they read, finding or not (zero padding
inside their convolutions meets the film's or the crop's border): the hottest cell of every
knee osteoporosis joint map lay on the crop's edge, and the fracture network read at 448 px
alone (version 1.2.1) lit a frame one cell inside the film's edge on many films (read at two
sizes, version 1.3.0, it does so far less; the check below measures it). That response is the
same from film to film, so it is measured once: the mean contribution of each feature-map cell to each class's logit over
reference films (the negative-class films the head was fitted on, read as the app reads them:
every quarter turn for a model that answers every turn, every located joint for a knee model;
cells outside a film's content are left out of its average). The app subtracts it before
showing a map (see ``desktop.inference.heatmap.class_activation_map``), so the map shows where
this film's evidence exceeds that of a film without the finding at the same place.

The check it prints and stores is cross-fitted: grouped 5-fold, each fold's positive films
(as given) are mapped with a reference built from the other folds' negative films only, and the
share of maps whose hottest cell lies on the two outermost cells of the film is compared with
and without the reference.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from conversion.card_blocks import (
    block_command_parser,
    how_images_are_read,
    installed_model,
    update_card,
    views_as_read,
)
from conversion.familiarity import FOLDS, fold_of
from desktop.core.imaging import ImageLoadError, load_image
from desktop.inference.heatmap import cam_contributions
from desktop.inference.predictor import feature_map
from desktop.inference.registry import LoadedModel
from desktop.inference.regional import usable_locator

log = logging.getLogger("conversion.heatmap_reference")
EDGE_CELLS = 2

Films = list[tuple[Path, str, bool]]  # (image file, group, carries the finding)


def _fracture_radiographs(data_root: Path) -> Films:
    from training.sample_sources import fracture_samples

    return [(s.path, s.group, bool(s.label)) for s in fracture_samples(data_root)]


def _knee_films(data_root: Path) -> Films:
    """Normal and osteoporosis films (osteopenia, between the two, is neither reference nor check)."""
    from training.knee_osteoporosis_data import list_films

    films, _ = list_films(data_root / "osteoporosis")
    return [(f.path, f.group, f.label == "osteoporosis") for f in films if f.label in ("normal", "osteoporosis")]


SOURCES: dict[str, Callable[[Path], Films]] = {
    "bone_fracture": _fracture_radiographs,
    "knee_osteoporosis": _knee_films,
}


def content_cells(
    grid: tuple[int, int], input_size: tuple[int, int], content_box: tuple[int, int, int, int]
) -> np.ndarray:
    """Feature-map cells whose centre falls on the image rather than on the padding around it."""
    top, left, height, width = content_box
    rows = (np.arange(grid[0]) + 0.5) * input_size[0] / grid[0]
    cols = (np.arange(grid[1]) + 0.5) * input_size[1] / grid[1]
    return ((rows >= top) & (rows < top + height))[:, None] & ((cols >= left) & (cols < left + width))[None, :]


def edge_cells(content: np.ndarray, depth: int = EDGE_CELLS) -> np.ndarray:
    """The ``depth`` outermost rows and columns of the content cells."""
    rows, cols = np.nonzero(content)
    inner = np.zeros_like(content)
    inner[rows.min() + depth : rows.max() + 1 - depth, cols.min() + depth : cols.max() + 1 - depth] = True
    return content & ~inner


def class_contributions(model: LoadedModel, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, h, w) cell contributions as the app's heat map computes them, and the content mask."""
    card = model.card
    features, prepared = feature_map(model, pixels)
    assert card.preprocessing is not None  # feature_map has refused a model without it
    weights = np.asarray(card.heatmap.class_weights)
    n_classes = len(card.labels)
    maps = np.stack([
        cam_contributions(features, weights, class_index=k, binary_positive_vs=(1 - k) if n_classes == 2 else None)
        for k in range(n_classes)
    ])
    return maps, content_cells(maps.shape[1:], card.preprocessing.size, prepared.content_box)


def read_films(model: LoadedModel, locator: LoadedModel | None, films: Films) -> list[dict]:
    """Every film's contributions, view by view as the app reads them (``views_as_read``)."""
    read = []
    for count, (path, group, finding) in enumerate(films, start=1):
        try:
            views, as_given = views_as_read(model, locator, load_image(path).pixels)
        except ImageLoadError as exc:
            log.warning("skipped %s: %s", path, exc)
            continue
        if views:
            maps = [class_contributions(model, view) for view in views]
            read.append({"group": group, "finding": finding, "views": maps, "as_given": maps[:as_given]})
        if count % 100 == 0:
            log.info("films %d/%d", count, len(films))
    return read


def reference_maps(films: list[dict]) -> np.ndarray:
    """Per class and cell, the mean contribution over the films' views that cover the cell."""
    if not films:
        raise ValueError("no reference films")
    total = sum(np.where(content, maps, 0.0) for film in films for maps, content in film["views"])
    covered = sum(content.astype(float) for film in films for _, content in film["views"])
    return np.divide(total, covered, out=np.zeros_like(total), where=covered > 0)


def edge_check(films: list[dict], explained: int) -> dict:
    """Cross-fitted: how often a positive film's hottest cell sits on its edge, without and with
    a reference built from the other folds' negative films."""
    folds = fold_of(np.array([film["group"] for film in films]))
    on_edge: dict[str, list[bool]] = {"without": [], "with": []}
    edge_share = []
    for k in range(FOLDS):
        reference = reference_maps([f for f, fold in zip(films, folds) if fold != k and not f["finding"]])
        for film, fold in zip(films, folds):
            if fold != k or not film["finding"]:
                continue
            for maps, content in film["as_given"]:
                if not content.any():  # a sliver of a film that covers no cell centre
                    continue
                edge = edge_cells(content)
                edge_share.append(edge.sum() / content.sum())
                for name, subtract in (("without", 0.0), ("with", reference[explained])):
                    values = np.where(content, maps[explained] - subtract, -np.inf)
                    on_edge[name].append(bool(edge.flat[int(np.argmax(values))]))
    def share(values: list) -> float | None:  # None (JSON null), not NaN, when no map was checked
        return round(float(np.mean(values)), 4) if values else None

    return {
        "maps": len(on_edge["with"]),
        "hottest_cell_on_film_edge_without_reference": share(on_edge["without"]),
        "hottest_cell_on_film_edge_with_reference": share(on_edge["with"]),
        "edge": f"the {EDGE_CELLS} outermost feature-map cells of the film on each side",
        "edge_share_of_cells": share(edge_share),
    }


def main(argv: list[str] | None = None) -> int:
    args = block_command_parser(__doc__.splitlines()[0], list(SOURCES)).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    found = installed_model(args)
    if found is None:
        return 1
    registry, model = found
    if model.card.heatmap.method != "cam" or model.card.positive_label is None:
        print(f"error: {args.model_id} is not a binary model with CAM heat maps", file=sys.stderr)
        return 1
    films = read_films(model, usable_locator(registry), SOURCES[args.model_id](args.data_root))
    negatives = [film for film in films if not film["finding"]]
    if len(negatives) < 2 * FOLDS:
        print(f"error: only {len(negatives)} reference films for {args.model_id}", file=sys.stderr)
        return 1
    negative_label = next(label for label in model.card.labels if label != model.card.positive_label)
    summary = {
        "images": f"{len(negatives)} {negative_label} films the head was fitted on "
        f"({how_images_are_read(model)})",
        "edge_check": edge_check(films, model.card.labels.index(model.card.positive_label)),
        "command": " ".join(["python -m conversion.heatmap_reference", *(sys.argv[1:] if argv is None else argv)]),
    }
    maps = np.round(reference_maps(negatives), 4).tolist()
    update_card(model, lambda card: card["heatmap"].update(reference={**summary, "maps": maps}))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
