"""Images the joint locator learns from and is measured on, with their held-out splits.

* KL crops (one centred joint each): the shipped KL split decides their side, so the KL
  *test* patients are never seen in training and measure the locator.
* Knee films of the osteoporosis sets: Gobara films are held out whole (real films, no
  boxes); the stevepython films that are not copies of a Gobara film are split by file.
* Chest and other-bone radiographs: windows there must never be called a knee joint. A few
  other-bone radiographs do show a knee; they are listed here and kept out of the negatives.

Non-KL sources are split 80/20 by a hash of their group, so the split needs no list file and
cannot change when files are added.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import read_split_list
from training.tasks import knee_patient, pneumonia_patient

__all__ = [
    "DATA_ROOT",
    "Film",
    "KLCrops",
    "held_out",
    "load_films",
    "load_kl_crops",
    "negative_films",
    "osteoporosis_films",
]

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
CACHE_DIR = REPO_ROOT / "cache" / "knee_joint"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
FILM_LONG_SIDE = 512  # the osteoporosis films' size; other radiographs are shrunk to match
HELD_OUT_SHARE = 0.2
# Other-bone radiographs that show a knee joint, found by looking at every fracture image a
# first locator scored above 0.3 (training_report.json lists them each run): they are
# neither background for training nor false detections when measuring. Knees that locator
# missed entirely may remain among the negatives. The last two were recognised only after
# the shipped run, in which the lateral knee 40cda7... still served as background.
FRACTURE_FILES_SHOWING_KNEES: frozenset[str] = frozenset(
    "fracture/multiregion/" + name
    for name in (
        "fractured/multiregion_0c5eedcabe54fb8b.jpg",
        "not_fractured/multiregion_40cda7adcf3c294c.jpg",
        "fractured/multiregion_02a88a7759e7c19e.jpg",
        "fractured/multiregion_05a8c68f2630811d.jpg",
        "fractured/multiregion_06efadf6728f23c1.jpg",
        "fractured/multiregion_180ae9c148c0d244.jpg",
        "fractured/multiregion_1f15f8bb714a8a48.jpg",
        "fractured/multiregion_217a7f7502664048.jpg",
        "fractured/multiregion_2a07b120dbad862c.jpg",
        "fractured/multiregion_336e1f9c76e2368e.jpg",
        "fractured/multiregion_377a6937aa679a70.jpg",
        "fractured/multiregion_3c3a3d256a81b5cf.jpg",
        "fractured/multiregion_3e52fcf96fe11185.jpg",
        "fractured/multiregion_3ff4b3b728db75ca.jpg",
        "fractured/multiregion_583e640ce95a30d1.jpg",
        "fractured/multiregion_643d21f00bd7f4dc.jpg",
        "fractured/multiregion_77e9ade7af33d768.jpg",
        "fractured/multiregion_7a6efeed91cf5f27.jpg",
        "fractured/multiregion_a36515e53f4fb014.jpg",
        "fractured/multiregion_aefb072466f70245.jpg",
        "fractured/multiregion_b243b4025a4ac6a8.jpg",
        "fractured/multiregion_d0991e798390f266.jpg",
        "fractured/multiregion_d9e45c016005c27a.jpg",
        "fractured/multiregion_f12155571dfe10a0.jpg",
        "not_fractured/multiregion_0030ac6fbed0f273.jpg",
        "not_fractured/multiregion_106ae785a941aba1.jpg",
        "not_fractured/multiregion_2bd1e934b9dcc727.jpg",
        "not_fractured/multiregion_36271811d8e2e18d.jpg",
        "not_fractured/multiregion_37db9d2cd8b951e2.jpg",
        "not_fractured/multiregion_4294031464286b60.jpg",
        "not_fractured/multiregion_64f5a588150091ac.jpg",
        "not_fractured/multiregion_78f27c4e5b45d711.jpg",
        "not_fractured/multiregion_7aa96e84e60c1208.jpg",
        "not_fractured/multiregion_85a1d46c8a206e04.jpg",
        "not_fractured/multiregion_894a3be7892a26e8.jpg",
        "not_fractured/multiregion_96ec998e669cc6fe.jpg",
        "not_fractured/multiregion_a7279e93a48249f6.jpg",
        "not_fractured/multiregion_b70731946f1e0c73.jpg",
        "not_fractured/multiregion_d846b34b42233432.jpg",
        "not_fractured/multiregion_fffdcd1f539c4646.jpg",
    )
)


@dataclass(frozen=True)
class KLCrops:
    images: np.ndarray  # (N, 224, 224) uint8
    patients: tuple[str, ...]
    knees: tuple[str, ...]  # "L" or "R"

    def pairs(self) -> list[list[int]]:
        """Per patient, the indices of their crops (both knees where both exist)."""
        by_patient: dict[str, list[int]] = {}
        for index, patient in enumerate(self.patients):
            by_patient.setdefault(patient, []).append(index)
        return [sorted(members, key=lambda i: self.knees[i]) for _, members in sorted(by_patient.items())]


@dataclass(frozen=True)
class Film:
    name: str  # relative to the data root
    group: str
    pixels: np.ndarray  # float32 in [0, 1]


def held_out(group: str) -> bool:
    """The fixed 20% of groups kept for measurement (hash of the group name)."""
    digest = hashlib.sha256(group.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE


def _gray(path: Path, long_side: int | None = None) -> np.ndarray:
    with Image.open(path) as image:
        gray = image.convert("L")
        if long_side and max(gray.size) > long_side:
            gray.thumbnail((long_side, long_side), Image.Resampling.BILINEAR)
        return np.asarray(gray, dtype=np.uint8)


def load_kl_crops(split: str, *, data_root: Path = DATA_ROOT) -> KLCrops:
    """The KL crops of one split of training/splits/knee_kl.json ("train", "val" or "test")."""
    entries = read_split_list("knee_kl", split)
    cache = CACHE_DIR / f"kl_{split}.npz"
    if cache.exists():
        images = np.load(cache)["images"]
    else:
        images = np.stack([_gray(data_root / "kl_grade" / relative) for relative, _ in entries])
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=images)
    stems = [Path(relative).stem for relative, _ in entries]
    return KLCrops(images, tuple(knee_patient(s) for s in stems), tuple(s[-1] for s in stems))


def _decode_films(items: list[tuple[str, str]], data_root: Path) -> list[Film]:
    return [Film(name, group, _gray(data_root / name, FILM_LONG_SIDE).astype(np.float32) / 255.0) for name, group in items]


def negative_films(*, held: bool, chest_limit: int = 1200, data_root: Path = DATA_ROOT) -> list[Film]:
    """Chest and other-bone radiographs (no knee joint), the training or the held-out share."""
    items: list[tuple[str, str]] = []
    chest_root = data_root / "pneumonia" / "train"
    chest = sorted(p for p in chest_root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    chest = [p for p in chest if held_out("cx:" + pneumonia_patient(p.stem)) == held]
    items += [(str(p.relative_to(data_root)), "cx:" + pneumonia_patient(p.stem)) for p in chest[:: max(1, len(chest) // chest_limit)]]
    with (data_root / "fracture" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = f"fracture/{row['file']}"
            if name not in FRACTURE_FILES_SHOWING_KNEES and held_out("fx:" + row["group"]) == held:
                items.append((name, "fx:" + row["group"]))
    return _decode_films(items, data_root)


def _thumbprint(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BILINEAR), dtype=np.float32)


def osteoporosis_films(data_root: Path = DATA_ROOT) -> dict[str, list[tuple[str, str]]]:
    """Whole knee films: {"gobara": all, "steve_train": ..., "steve_held": ...} as (name, group).

    Many stevepython files are copies (sometimes re-encoded) of Gobara films, so copies are
    found by a 16 x 16 thumbnail and dropped from stevepython: Gobara stays truly unseen.
    Gobara's own duplicates (the same film under two classes) are kept once.
    """
    root = data_root / "osteoporosis"
    gobara = sorted(p for p in root.glob("images_gobara/*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    steve = sorted(p for p in root.glob("images_stevepython/*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    kept: list[Path] = []
    prints: list[np.ndarray] = []
    for path in gobara:
        thumb = _thumbprint(path)
        if not any(np.abs(thumb - other).mean() < 4.0 for other in prints):
            kept.append(path)
            prints.append(thumb)
    gobara_prints = np.stack(prints)
    steve_kept: list[Path] = []
    steve_prints: list[np.ndarray] = []
    for path in steve:
        thumb = _thumbprint(path)
        if np.abs(gobara_prints - thumb).mean(axis=(1, 2)).min() < 8.0:
            continue
        if any(np.abs(thumb - other).mean() < 4.0 for other in steve_prints):
            continue
        steve_kept.append(path)
        steve_prints.append(thumb)
    name = lambda p: str(p.relative_to(data_root))  # noqa: E731
    return {
        "gobara": [(name(p), "gb:" + p.stem) for p in kept],
        "steve_train": [(name(p), "sp:" + name(p)) for p in steve_kept if not held_out("sp:" + name(p))],
        "steve_held": [(name(p), "sp:" + name(p)) for p in steve_kept if held_out("sp:" + name(p))],
    }


def load_films(items: list[tuple[str, str]], data_root: Path = DATA_ROOT) -> list[Film]:
    """Decode (name, group) pairs as films with the long side at most 512 pixels."""
    return _decode_films(items, data_root)
