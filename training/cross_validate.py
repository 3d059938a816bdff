"""Grouped k-fold cross-validation of an image task, with bootstrap confidence intervals.

    python -m training.cross_validate --task bone_fracture --folds 5

Small datasets give noisy single-split figures, so every radiograph is predicted once by a
model that never saw its group. Each fold trains exactly as the shipped model does (early
stopping, temperature and threshold on a validation part carved from the training folds).
Writes ``runs/<task>_cv/cv_report.json``: pooled out-of-fold metrics with 95% CIs from a
bootstrap over groups, overall and per data source, and the pooled confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from desktop.core import metrics
from training.datasets import (
    Sample,
    group_split,
    groups_by_top_label,
    merge_duplicate_groups,
)
from training.tasks import IMAGE_TASKS, ImageTask
from training.train_image_model import DEFAULT_DATA_ROOT, REPO_ROOT, fit_and_report

__all__ = ["bootstrap_ci", "grouped_folds", "over_fold_assignments", "pooled_metrics", "stratified_fold_numbers"]

log = logging.getLogger("training.cv")


def grouped_folds(samples: list[Sample], *, folds: int, seed: int) -> list[list[Sample]]:
    """Assign whole groups to folds, stratified by each group's highest label."""
    groups, by_stratum = groups_by_top_label(samples)
    rng = random.Random(seed)
    assigned: list[list[Sample]] = [[] for _ in range(folds)]
    for stratum in sorted(by_stratum):
        ids = by_stratum[stratum]
        rng.shuffle(ids)
        for group in ids:
            # The currently smallest fold takes the next group: folds stay within one group's size.
            smallest = min(range(folds), key=lambda k: (sum(m.label == stratum for m in assigned[k]), len(assigned[k])))
            assigned[smallest].extend(groups[group])
    return assigned


def over_fold_assignments(figures_of: Callable[[int], dict[str, float]], *, seed: int, repeats: int) -> dict:
    """``figures_of(fold_seed)`` for ``repeats`` fold assignments, with each figure's spread.

    On a few hundred images, which ones share a fold moves a cross-validated figure by about
    a hundredth: one assignment's figure is one draw, the spread says how far to trust it."""
    seeds = [seed + offset for offset in range(repeats)]
    runs = [figures_of(fold_seed) for fold_seed in seeds]
    summary: dict = {"fold_seeds": seeds}
    for name in runs[0]:
        values = [round(float(run[name]), 4) for run in runs]
        summary[name] = {"values": values, "mean": round(float(np.mean(values)), 4), "min": min(values), "max": max(values)}
    return summary


def stratified_fold_numbers(labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """A fold number per item (one item per group), dealt round-robin within each label."""
    order = np.random.default_rng(seed).permutation(labels.size)
    order = order[np.argsort(labels[order], kind="stable")]
    fold = np.empty(labels.size, dtype=int)
    fold[order] = np.arange(labels.size) % folds
    return fold


def _binary_metrics(truth: np.ndarray, p_positive: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    out = {"accuracy": metrics.accuracy(truth, predicted), "balanced_accuracy": metrics.balanced_accuracy(truth, predicted)}
    if 0 < truth.sum() < truth.size:
        out["roc_auc"] = metrics.roc_auc(truth == 1, p_positive)
    return out


def bootstrap_ci(truth: np.ndarray, p_positive: np.ndarray, predicted: np.ndarray, groups: np.ndarray, *, rounds: int = 2000, seed: int = 3) -> dict:
    """Point estimates and 95% percentile intervals, resampling whole groups."""
    unique, index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(unique.size)]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        rows = np.concatenate([members[g] for g in rng.integers(0, unique.size, unique.size)])
        for name, value in _binary_metrics(truth[rows], p_positive[rows], predicted[rows]).items():
            draws[name].append(value)
    point = _binary_metrics(truth, p_positive, predicted)
    return {
        name: {"value": round(value, 4), "ci95": [round(float(np.percentile(draws[name], q)), 4) for q in (2.5, 97.5)]}
        for name, value in point.items()
    } | {"n": int(truth.size), "positives": int(truth.sum())}


def pooled_metrics(labels, files: list[str], truth: np.ndarray, p_positive: np.ndarray, predicted: np.ndarray) -> dict:
    """Out-of-fold figures overall and per data source (the first folder of each file)."""
    groups = np.array(files)  # one radiograph per group in the fracture data
    sources = np.array([f.split("/", 1)[0] for f in files])
    report = {
        "overall": bootstrap_ci(truth, p_positive, predicted, groups),
        "confusion_matrix": {"labels": list(labels), "matrix": metrics.confusion_matrix(truth, predicted, 2).tolist()},
        "per_source": {},
    }
    for source in sorted(set(sources)):
        rows = sources == source
        report["per_source"][source] = bootstrap_ci(truth[rows], p_positive[rows], predicted[rows], groups[rows]) | {
            "confusion_matrix": metrics.confusion_matrix(truth[rows], predicted[rows], 2).tolist()
        }
    return report


def pooled_report(task: ImageTask, fold_dirs: list[Path]) -> dict:
    files, truth, p_pos, predicted = [], [], [], []
    for folder in fold_dirs:
        with np.load(folder / "test_predictions.npz") as stored:
            probs, threshold = stored["probabilities"], float(stored["threshold"])
            files += [str(f) for f in stored["files"]]
            truth.append(stored["labels"])
            p_pos.append(probs[:, 1])
            predicted.append((probs[:, 1] >= threshold).astype(int))
    return pooled_metrics(task.labels, files, np.concatenate(truth), np.concatenate(p_pos), np.concatenate(predicted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(t for t, v in IMAGE_TASKS.items() if v.task == "binary"), required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    task = IMAGE_TASKS[args.task]
    out_dir = args.out or REPO_ROOT / "runs" / f"{task.id}_cv"
    started = time.time()
    samples = merge_duplicate_groups(task.sample_source(args.data_root))
    folds = grouped_folds(samples, folds=args.folds, seed=args.seed)
    fold_dirs = []
    for k, held_out in enumerate(folds):
        rest = [s for j, fold in enumerate(folds) if j != k for s in fold]
        inner = group_split(rest, fractions={"train": 0.85, "val": 0.15}, seed=args.seed + k)
        fold_dir = out_dir / f"fold_{k}"
        fit_and_report(
            task, {"train": inner["train"], "val": inner["val"], "test": held_out}, out_dir=fold_dir,
            cache_dir=args.cache, epochs=args.epochs or task.epochs, seed=args.seed + k, started=time.time(),
            split_file=f"fold {k} of {args.folds}",
        )
        fold_dirs.append(fold_dir)
    report = {
        "task": task.id,
        "folds": args.folds,
        "seed": args.seed,
        "command": f"python -m training.cross_validate --task {task.id} --folds {args.folds}",
        "duration_s": round(time.time() - started, 1),
        **pooled_report(task, fold_dirs),
    }
    (out_dir / "cv_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.info("cross-validated: %s", json.dumps(report["overall"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
