"""Sample lists for models whose data is not one folder per class: fracture and body part.

``training.datasets.list_samples`` covers folder-per-class datasets. The fracture set comes
with a manifest (source, label and radiograph group per file), and the body-part guard learns
from the union of every shared dataset plus generated non-radiographs.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import IMAGE_SUFFIXES, Sample, list_samples
from training.non_xray_images import group_of as non_xray_group
from training.non_xray_images import write_non_xray_images

__all__ = ["FRACTURE_SOURCES", "body_part_samples", "fracture_samples", "source_of"]

FRACTURE_SOURCES = ("vuppala", "multiregion")  # the fracture data set's two sources

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = REPO_ROOT / "cache"
# Positive class last: binary metrics and thresholds read P(class 1).
FRACTURE_LABELS = {"not_fractured": 0, "fractured": 1}
BODY_PART_LABELS = {"knee": 0, "chest": 1, "other_bone": 2, "not_xray": 3}


def source_of(sample: Sample) -> str:
    """The data source a sample came from: the first folder of its relative path."""
    return sample.relative.split("/", 1)[0]


def fracture_samples(data_root: Path, *, sources: tuple[str, ...] = FRACTURE_SOURCES) -> list[Sample]:
    """Every radiograph of the chosen fracture sources, grouped as the manifest says."""
    root = data_root / "fracture"
    samples = []
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["source"] in sources and row.get("augmented_copy", "no") == "no":
                samples.append(Sample(root / row["file"], row["file"], FRACTURE_LABELS[row["label"]], row["group"]))
    if not samples:
        raise FileNotFoundError(f"no fracture radiographs listed in {root / 'manifest.csv'}")
    return samples


def _prefixed(samples: list[Sample], dataset: str, label: int, group_prefix: str) -> list[Sample]:
    """Relabel a dataset's samples and make their paths and groups unique across datasets."""
    return [Sample(s.path, f"{dataset}/{s.relative}", label, f"{group_prefix}:{s.group}") for s in samples]


def _every_nth(samples: list[Sample], limit: int) -> list[Sample]:
    return samples[:: max(1, len(samples) // limit)][:limit]


def _osteoporosis_films(data_root: Path) -> list[Sample]:
    """Whole knee films, one sample per distinct image content (the two sources overlap)."""
    root = data_root / "osteoporosis"
    seen: set[str] = set()
    samples = []
    for path in sorted(root.glob("images_*/*/*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            samples.append(Sample(path, f"osteoporosis/{path.relative_to(root)}", 0, f"op:{digest[:16]}"))
    return samples


def _bilateral_knee_strips(kl_samples: list[Sample], out_dir: Path, *, count: int, seed: int) -> list[Sample]:
    """Both knees of one patient side by side, cut to strips and films of varied aspect.

    Clinics often send both knees on one image (some as wide 4:1 strips); the KL crops are
    single joints, so without these the guard would only know square single-knee images.
    """
    by_patient: dict[str, dict[str, Path]] = {}
    for sample in kl_samples:
        by_patient.setdefault(sample.group.split(":", 1)[1], {})[sample.path.stem[-1]] = sample.path
    pairs = sorted((g, sides) for g, sides in by_patient.items() if {"L", "R"} <= set(sides))
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    for index in rng.permutation(len(pairs))[:count]:
        group, sides = pairs[int(index)]
        path = out_dir / f"{group}.png"
        if not path.exists():
            right, left = (np.asarray(Image.open(sides[s]).convert("L")) for s in ("R", "L"))
            gap = np.zeros((right.shape[0], int(rng.integers(0, 60))), dtype=np.uint8)
            strip = np.concatenate([right, gap, left], axis=1)
            keep = int(strip.shape[0] * rng.uniform(0.35, 1.0))  # wide strips down to about 5:1
            top = int(rng.integers(0, strip.shape[0] - keep + 1))
            Image.fromarray(strip[top : top + keep]).save(path)
        samples.append(Sample(path, f"knee_strips/{path.name}", 0, f"kl:{group}"))
    return samples


def body_part_samples(data_root: Path, *, per_class: int = 1400, seed: int = 11) -> list[Sample]:
    """Knee, chest, other-bone radiographs and non-radiographs, each with a split group."""
    from training.tasks import (  # tasks imports this module
        knee_patient,
        pneumonia_patient,
    )

    kl = list_samples(
        data_root / "kl_grade", subsets=("train", "val"), folder_labels={str(g): 0 for g in range(5)}, group_of=knee_patient
    )
    kl = _prefixed(kl, "kl_grade", BODY_PART_LABELS["knee"], "kl")
    knees = _every_nth(kl, per_class // 2) + _osteoporosis_films(data_root)
    knees += _bilateral_knee_strips(kl, CACHE_ROOT / "knee_strips", count=per_class // 4, seed=seed)
    chest = list_samples(
        data_root / "pneumonia", subsets=("train", "val"), folder_labels={"NORMAL": 1, "PNEUMONIA": 1},
        group_of=pneumonia_patient,
    )
    chest = _prefixed(chest, "pneumonia", BODY_PART_LABELS["chest"], "cx")
    bones = _prefixed(fracture_samples(data_root), "fracture", BODY_PART_LABELS["other_bone"], "fx")
    generated = write_non_xray_images(CACHE_ROOT / "non_xray", count=900)
    not_xray = [
        Sample(path, f"non_xray/{path.name}", BODY_PART_LABELS["not_xray"], f"nx:{non_xray_group(path.stem)}")
        for path in generated
    ]
    return knees + _every_nth(chest, per_class) + bones + not_xray
