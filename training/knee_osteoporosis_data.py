"""The knee osteoporosis images: deduplicated across both sources, grouped, cut into joints.

Both sources share many byte-identical files, sometimes with different labels (stevepython
calls several Gobara osteopenia films "osteoporosis"), and some films recur resized or
re-encoded. So: one sample per content hash, conflicting hashes dropped, and near-identical
films (same 16 x 16 difference hash) put in one group so a film never sits on both sides of
a fold. Each film is then cut into its knee joints by the app's own locator, because the
model reads joints exactly as the app will hand them over.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import IMAGE_SUFFIXES

__all__ = ["KneeFilm", "list_films", "softened"]

log = logging.getLogger(__name__)
LABEL_FOLDERS = ("normal", "osteopenia", "osteoporosis")
NEAR_DUPLICATE_BITS = 6  # of 240 difference-hash bits: resized or re-encoded copies differ by a few


@dataclass(frozen=True)
class KneeFilm:
    path: Path
    relative: str
    label: str  # normal | osteopenia | osteoporosis
    group: str

    @property
    def source(self) -> str:
        """The source folder the kept copy came from (images_gobara, images_stevepython)."""
        return self.path.parent.parent.name


def _difference_hash(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        small = np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BILINEAR), dtype=np.float32)
    return (np.diff(small, axis=1) > 0).reshape(-1)


def list_films(root: Path) -> tuple[list[KneeFilm], dict]:
    """Deduplicated, label-consistent films with near-duplicate groups, plus what was dropped."""
    by_hash: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for source in sorted(root.glob("images_*")):
        for label in LABEL_FOLDERS:
            for path in sorted((source / label).glob("*")) if (source / label).is_dir() else []:
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    by_hash[hashlib.sha256(path.read_bytes()).hexdigest()].append((path, label))
    films, conflicting = [], 0
    for digest, copies in sorted(by_hash.items()):
        labels = {label for _, label in copies}
        if len(labels) > 1:
            conflicting += 1
            continue
        path, label = copies[0]
        films.append(KneeFilm(path, str(path.relative_to(root)), label, digest[:16]))
    # Union films whose difference hashes nearly match (same radiograph, another encoding).
    hashes = np.stack([_difference_hash(f.path) for f in films])
    parent = list(range(len(films)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    distances = (hashes[:, None, :] != hashes[None, :, :]).sum(-1)
    near_conflicts = set()
    for i, j in zip(*np.nonzero(np.triu(distances <= NEAR_DUPLICATE_BITS, k=1))):
        parent[find(int(i))] = find(int(j))
    grouped = [KneeFilm(f.path, f.relative, f.label, films[find(i)].group) for i, f in enumerate(films)]
    # A near-duplicate group whose members disagree is as unreliable as a conflicting hash.
    group_labels: dict[str, set[str]] = defaultdict(set)
    for film in grouped:
        group_labels[film.group].add(film.label)
    near_conflicts = {g for g, labels in group_labels.items() if len(labels) > 1}
    kept = [f for f in grouped if f.group not in near_conflicts]
    summary = {
        "files": sum(len(c) for c in by_hash.values()),
        "distinct_contents": len(by_hash),
        "dropped_conflicting_duplicates": conflicting,
        "dropped_conflicting_near_duplicates": len(grouped) - len(kept),
        "films": len(kept),
        "groups": len({f.group for f in kept}),
        "labels": dict(sorted(Counter(f.label for f in kept).items())),
    }
    log.info("knee osteoporosis films: %s", summary)
    return kept, summary


def softened(pixels: np.ndarray, factor: float) -> np.ndarray:
    """The image resampled to ``factor`` of its size and back: same size, less fine detail."""
    if factor == 1.0:
        return pixels
    rows, cols = pixels.shape
    image = Image.fromarray(pixels.astype(np.float32))  # mode "F"
    small = image.resize((max(1, round(cols * factor)), max(1, round(rows * factor))), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((cols, rows), Image.Resampling.BILINEAR), dtype=np.float32)
