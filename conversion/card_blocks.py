"""What the commands that add a measured block to an installed model's card share.

``conversion.familiarity`` and ``conversion.heatmap_reference`` read an exported model through
the app's own inference code and write what they measured into its ``model.json``: both take
the same model, models-folder and data-root arguments, report failures the same way, and hand
each film to the model as the app does (:func:`views_as_read`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from conversion.common import card_text
from desktop.inference.knee_joints import crop_joint, locate_knee_joints
from desktop.inference.registry import LoadedModel, ModelRegistry

__all__ = ["block_command_parser", "how_images_are_read", "installed_model", "update_card", "views_as_read"]

REPO_ROOT = Path(__file__).resolve().parent.parent


def block_command_parser(description: str, model_ids: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model-id", required=True, choices=sorted(model_ids))
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    return parser


def installed_model(args: argparse.Namespace) -> tuple[ModelRegistry, LoadedModel] | None:
    """The registry and the model ``--model-id`` names; None (with one line on stderr) when
    it is not installed or cannot load."""
    registry = ModelRegistry.discover(args.models)
    try:
        return registry, registry.get(args.model_id)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return None


def update_card(model: LoadedModel, update: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the model's ``model.json`` after ``update`` changed its parsed JSON in place."""
    card_path = model.folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    update(card)
    card_path.write_text(card_text(card), encoding="utf-8")


def views_as_read(model: LoadedModel, locator: LoadedModel | None, pixels: np.ndarray) -> tuple[list[np.ndarray], int]:
    """The images the model reads from a film as the app hands them to it, and how many of
    them come from the film as it was given: each located joint for a knee model; for a model
    that answers every turn, the film and then its other three quarter turns (the app hands it
    films in whatever turn they came and averages the turns itself: upright only, the
    familiarity check flagged 7 of 67 radiographs turned a quarter and none upright)."""
    if model.card.region == "knee_joint":
        joints = [crop_joint(pixels, joint) for joint in locate_knee_joints(locator, pixels)]
        return joints, len(joints)
    turns = range(4) if model.card.answers_every_turn else range(1)
    return [np.ascontiguousarray(np.rot90(pixels, turn)) for turn in turns], 1


def how_images_are_read(model: LoadedModel) -> str:
    """:func:`views_as_read` in words for a card."""
    if model.card.region == "knee_joint":
        return "knee joints located on each"
    return "whole images, each in its four quarter turns" if model.card.answers_every_turn else "whole images"
