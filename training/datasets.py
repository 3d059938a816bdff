"""Folder-per-class image datasets, patient-grouped splits and the decoded-array cache."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.core.model_card import Preprocessing
from desktop.inference.preprocess import model_image

__all__ = ["Sample", "decode_grayscale", "display_path", "group_split", "groups_by_top_label", "list_samples", "load_cached_arrays", "merge_duplicate_groups"]

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


REPO_ROOT = Path(__file__).resolve().parent.parent
SPLITS_DIR = REPO_ROOT / "training" / "splits"


def display_path(path: Path) -> str:
    """``path`` as a command line or card in this repository writes it: relative to the repository."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


@dataclass(frozen=True)
class Sample:
    path: Path
    relative: str  # path relative to the dataset root, as written to the split lists
    label: int
    group: str  # patient (or radiograph) id: never split across train/val/test


def list_samples(
    root: Path,
    *,
    subsets: Sequence[str],
    folder_labels: dict[str, int],
    group_of: Callable[[str], str],
) -> list[Sample]:
    """Every image under ``root/<subset>/<class folder>/``; the folder name is the label."""
    samples = []
    for subset in subsets:
        for folder, label in folder_labels.items():
            directory = root / subset / folder
            for path in sorted(directory.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    samples.append(Sample(path, str(path.relative_to(root)), label, group_of(path.stem)))
    if not samples:
        raise FileNotFoundError(f"no images found under {root}")
    return samples


def merge_duplicate_groups(samples: list[Sample]) -> list[Sample]:
    """Put byte-identical files in one group, so a duplicate can never straddle the split."""
    parent: dict[str, str] = {}

    def find(group: str) -> str:
        while parent.setdefault(group, group) != group:
            group = parent[group]
        return group

    first_group_of_hash: dict[str, str] = {}
    for sample in samples:
        digest = hashlib.sha256(sample.path.read_bytes()).hexdigest()
        other = first_group_of_hash.setdefault(digest, sample.group)
        parent[find(sample.group)] = find(other)
    merged = [Sample(s.path, s.relative, s.label, find(s.group)) for s in samples]
    n_merged = len({s.group for s in samples}) - len({s.group for s in merged})
    log.info("duplicate content merged %d patient groups", n_merged)
    return merged


def groups_by_top_label(samples: list[Sample]) -> tuple[dict[str, list[Sample]], dict[int, list[str]]]:
    """Members of each group, and the groups under each group's highest label (its stratum)."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.group].append(sample)
    strata: dict[int, list[str]] = defaultdict(list)
    for group, members in sorted(groups.items()):
        strata[max(m.label for m in members)].append(group)
    return groups, strata


def group_split(
    samples: list[Sample], *, fractions: dict[str, float], seed: int
) -> dict[str, list[Sample]]:
    """Split by group, stratified by each group's highest label, with a fixed seed.

    ``fractions`` maps split names to shares; the first split named takes the remainder.
    """
    groups, strata = groups_by_top_label(samples)
    rng = random.Random(seed)
    names = list(fractions)
    assigned: dict[str, list[Sample]] = {name: [] for name in names}
    for stratum in sorted(strata):
        group_ids = strata[stratum]
        rng.shuffle(group_ids)
        total = sum(len(groups[g]) for g in group_ids)
        cursor = 0
        for name in names[1:]:
            target = fractions[name] * total
            taken = 0
            while cursor < len(group_ids) and taken < target:
                members = groups[group_ids[cursor]]
                assigned[name].extend(members)
                taken += len(members)
                cursor += 1
        for group in group_ids[cursor:]:
            assigned[names[0]].extend(groups[group])
    for name, members in assigned.items():
        log.info("split %s: %d images, labels %s", name, len(members), dict(sorted(Counter(m.label for m in members).items())))
    return assigned


def write_split_lists(splits: dict[str, list[Sample]], path: Path, *, seed: int, labels: Sequence[str]) -> None:
    """Write which file went where, so every figure in a model card can be reproduced."""
    payload = {
        "seed": seed,
        "labels": list(labels),
        "splits": {name: sorted([s.relative, s.group] for s in members) for name, members in splits.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=0) + "\n", encoding="utf-8")


def read_split_list(task_id: str, split: str) -> list[tuple[str, str]]:
    """(file relative to the dataset folder, group) of one split that :func:`write_split_lists`
    wrote to ``training/splits/<task_id>.json``."""
    lists = json.loads((SPLITS_DIR / f"{task_id}.json").read_text(encoding="utf-8"))
    return [(str(relative), str(group)) for relative, group in lists["splits"][split]]


def decode_grayscale(path: Path) -> np.ndarray:
    """Decode an 8-bit image file to float32 in [0, 1], as the app decodes the same file."""
    with Image.open(path) as image:
        gray = image.convert("L")
        return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def model_view(image: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """Resize and contrast-equalise through the app's own preprocessing."""
    return model_image(image, spec)[0]


def load_cached_arrays(samples: list[Sample], spec: Preprocessing, cache_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decoded, resized, equalised images as (N, H, W, 1) float16 plus labels, cached on disk.

    Decoding thousands of JPEGs every epoch would cost more than training on two cores.
    """
    key = hashlib.sha256(json.dumps([[s.relative for s in samples], repr(spec)]).encode()).hexdigest()[:16]
    cache_path = cache_file.with_name(f"{cache_file.stem}-{key}.npz")
    labels = np.array([s.label for s in samples], dtype=np.int64)
    if cache_path.exists():
        with np.load(cache_path) as stored:
            return stored["images"], labels
    images = np.empty((len(samples), *spec.size, 1), dtype=np.float16)
    for index, sample in enumerate(samples):
        images[index, :, :, 0] = model_view(decode_grayscale(sample.path), spec)
        if index % 1000 == 0:
            log.info("decoded %d/%d", index, len(samples))
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache_path, images=images)
    return images, labels
