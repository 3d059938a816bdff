"""What a person saw on the real knee films, and contact sheets to look at detections.

The osteoporosis films come without boxes. Their knee count was read by eye from numbered
thumbnail sheets (``python -m training.knee_joint_review``), so the locator can at least be
scored on "found as many joints as there are knees, one per image half".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from training.knee_joint_data import Film, load_films, osteoporosis_films

__all__ = ["GOBARA_ONE_KNEE", "contact_sheet", "knees_on_film", "numbered_sheets"]

# Gobara films showing one knee, counted by eye on the thumbnails; the other 104 show both
# (OS5 included: its second knee is cut by the edge but its joint is in the film).
GOBARA_ONE_KNEE: frozenset[str] = frozenset(
    ["N18", "N2", "N24", "N25", "N29", "N31", "N33", "N34", "N36", "OP100", "OP101", "OP102", "OP104", "OP105", "OP106", "OP110", "OP111", "OP113", "OP114", "OP117", "OP118", "OP119", "OP120", "OP121", "OP124", "OP125", "OP126", "OP127", "OP128", "OP129", "OP130", "OP132", "OP133", "OP134", "OP136", "OP137", "OP138", "OP140", "OP141", "OP144", "OP146", "OP147", "OP148", "OP149", "OP150", "OP151", "OP152", "OP153", "OP52", "OP58", "OP94", "OP95", "OP97", "OS23", "OS27", "OS28", "OS30", "OS34", "OS35", "OS37", "OS39", "OS41", "OS42", "OS43", "OS44", "OS47", "OS48"]
)


def knees_on_film(name: str) -> int:
    """Knees visible on a real film: every held-out stevepython film shows one (checked by eye)."""
    if "images_stevepython" in name:
        return 1
    return 1 if Path(name).stem in GOBARA_ONE_KNEE else 2

THUMB = 192
COLUMNS = 10


def _thumbnail(film: Film) -> tuple[Image.Image, float]:
    image = Image.fromarray(np.rint(film.pixels * 255).astype(np.uint8)).convert("RGB")
    factor = THUMB / max(image.size)
    return image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor)))), factor


def contact_sheet(films: list[Film], rows: list[dict], path: Path) -> Path:
    """Thumbnails with the found boxes: green when the count is right, red otherwise."""
    found = {row["film"]: row for row in rows}
    count = len(films)
    sheet = Image.new("RGB", (COLUMNS * THUMB, -(-count // COLUMNS) * (THUMB + 14)), "black")
    draw = ImageDraw.Draw(sheet)
    for index, film in enumerate(films):
        thumb, factor = _thumbnail(film)
        left, top = (index % COLUMNS) * THUMB, (index // COLUMNS) * (THUMB + 14)
        sheet.paste(thumb, (left, top))
        row = found.get(film.name, {"found": [], "count_right": False})
        colour = (0, 220, 0) if row["count_right"] else (255, 40, 40)
        for box in row["found"]:
            t, l, h, w = (v * factor for v in box[:4])
            draw.rectangle([left + l, top + t, left + l + w, top + t + h], outline=colour, width=2)
        draw.text((left + 2, top + THUMB), f"{index} {Path(film.name).stem} n={len(row['found'])}", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def numbered_sheets(films: list[Film], folder: Path, *, per_sheet: int = 60) -> list[Path]:
    """Plain numbered thumbnails for counting knees by eye."""
    paths = []
    for start in range(0, len(films), per_sheet):
        chunk = films[start : start + per_sheet]
        rows = [{"film": f.name, "found": [], "count_right": True} for f in chunk]
        paths.append(contact_sheet(chunk, rows, folder / f"films_{start:03d}.png"))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/knee_films"))
    args = parser.parse_args(argv)
    films = osteoporosis_films()
    for name in ("gobara", "steve_held"):
        for path in numbered_sheets(load_films(films[name]), args.out / name):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
