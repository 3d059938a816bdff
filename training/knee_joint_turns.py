"""Measure the joint locator on real knee films turned as scans often arrive, and the price.

    python -m training.knee_joint_turns            # uses models/knee_joint_locator

Every Gobara film and every held-out stevepython film is read as it is, turned a quarter
either way and a half turn; the locator (which looks again with the image turned when it
finds nothing) must find the knees seen by eye and choose the turn that stands them
upright. Held-out chest and other-bone radiographs, as they are, measure the price of
looking again: any joint found there is false.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from desktop.inference.knee_joints import locate_knee_joints
from desktop.inference.registry import ModelRegistry
from training.knee_joint_data import load_films, negative_films, osteoporosis_films
from training.knee_joint_review import knees_on_film

REPO_ROOT = Path(__file__).resolve().parent.parent
TURNS = (0, 1, 2, 3)


def turned_film_rates(model, films) -> dict:
    """Per turn: films with the right joint count, and with every joint read in the right turn."""
    rates = {}
    for turn in TURNS:
        right_count = right_turn = 0
        for film in films:
            joints = locate_knee_joints(model, np.ascontiguousarray(np.rot90(film.pixels, turn)))
            if len(joints) == knees_on_film(film.name):
                right_count += 1
                right_turn += all(j.turn == (4 - turn) % 4 for j in joints)
        rates[f"turn_{turn}"] = {"n": len(films), "right_count": right_count, "right_count_and_turn": right_turn}
    return rates


def false_detections(model, films) -> dict:
    found = [(f.name, [j.turn for j in joints]) for f in films if (joints := locate_knee_joints(model, f.pixels))]
    return {"n": len(films), "with_a_joint": len(found), "found_only_turned": sum(all(found_turns) for _, found_turns in found),
            "films": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    args = parser.parse_args(argv)
    model = ModelRegistry.discover(args.models, threads=1).helper("joint_locator")
    if model is None:
        print(f"error: no joint_locator model available in {args.models}", file=sys.stderr)
        return 1
    films = osteoporosis_films()
    report = {
        "gobara": turned_film_rates(model, load_films(films["gobara"])),
        "stevepython_held_out": turned_film_rates(model, load_films(films["steve_held"])),
        "radiographs_without_knee_as_they_are": false_detections(model, negative_films(held=True, chest_limit=400)),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
