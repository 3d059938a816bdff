"""Knee films of several shapes, built from held-out KL patients, for ``evaluate --output oa``.

    python -m training.knee_film_sets --out /tmp/knee_films
    python -m desktop evaluate --model knee_kl --output oa --data /tmp/knee_films/strips
    python -m training.knee_film_sets --split val --out /tmp/knee_films_val   # for choosing settings

Clinics send whole films, both knees on one image, and wide strips, but the only radiographs
with KL grades here are single-joint crops. From the internal test patients of the KL split
(never trained on), or with ``--split val`` from its validation patients (to choose settings
such as the OA threshold without looking at the test), this writes four folder sets, each
with ``Normal`` / ``Osteoarthritis`` sub-folders (a film counts as OA when either knee is
KL >= 2):

- ``crops``: the 224 px crops as they are;
- ``bilateral``: right and left knee of one patient side by side with a gap and a dark border;
- ``strips``: the middle band of the bilateral pair at 640 x 161 (aspect kept, no border);
- ``large``: the bilateral films enlarged four times (about 2000 px wide).

These are joined crops, not real films: they test the locator and the per-joint pipeline on
shapes and sizes, not the look of another hospital's X-ray machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.datasets import read_split_list

REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("crops", "bilateral", "strips", "large")


def _folder(grade: int) -> str:
    return "Osteoarthritis" if grade >= 2 else "Normal"


def _split_knees(kl_root: Path, split: str) -> dict[str, dict[str, tuple[Path, int]]]:
    """patient -> side (L/R) -> (file, KL grade), for one split of the KL data."""
    knees: dict[str, dict[str, tuple[Path, int]]] = {}
    for relative, _group in read_split_list("knee_kl", split):
        stem = Path(relative).stem
        knees.setdefault(stem[:-1], {})[stem[-1]] = (kl_root / relative, int(relative.split("/")[1]))
    return knees


def write_film_sets(kl_root: Path, out: Path, *, split: str = "test", seed: int = 5, large_limit: int = 150) -> dict[str, dict[str, int]]:
    rng = np.random.default_rng(seed)
    for kind in KINDS:
        for label in ("Normal", "Osteoarthritis"):
            (out / kind / label).mkdir(parents=True, exist_ok=True)
    large_written = 0
    for patient, sides in sorted(_split_knees(kl_root, split).items()):
        for path, grade in sides.values():
            Image.open(path).save(out / "crops" / _folder(grade) / f"{path.stem}.png")
        if not {"L", "R"} <= set(sides):
            continue
        (right, right_grade), (left, left_grade) = sides["R"], sides["L"]
        label = _folder(max(right_grade, left_grade))
        pair = [np.asarray(Image.open(p).convert("L")) for p in (right, left)]
        gap = np.zeros((pair[0].shape[0], int(rng.integers(10, 80))), dtype=np.uint8)
        joined = np.concatenate([pair[0], gap, pair[1]], axis=1)
        border = int(rng.integers(20, 120))
        film = np.pad(joined, border)
        Image.fromarray(film).save(out / "bilateral" / label / f"{patient}.png")
        band = int(round(joined.shape[1] * 161 / 640))
        top = (joined.shape[0] - band) // 2
        strip = Image.fromarray(joined[top : top + band]).resize((640, 161), Image.Resampling.BILINEAR)
        strip.save(out / "strips" / label / f"{patient}.png")
        if large_written < large_limit:
            big = Image.fromarray(film).resize((film.shape[1] * 4, film.shape[0] * 4), Image.Resampling.BICUBIC)
            big.save(out / "large" / label / f"{patient}.png")
            large_written += 1
    return {kind: {lab: len(list((out / kind / lab).iterdir())) for lab in ("Normal", "Osteoarthritis")} for kind in KINDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kl-root", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "kl_grade")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", choices=("test", "val"), default="test", help="whose knees: internal test or validation patients")
    args = parser.parse_args(argv)
    print(json.dumps(write_film_sets(args.kl_root, args.out, split=args.split)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
