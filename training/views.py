"""Re-oriented views of a batch of model images, for training features and test-time averaging.

A radiograph read in another orientation is still the same radiograph: networks trained with
flips or turns answer for each view, and averaging over views steadies the answer. The same
names and transforms serve the numpy side (training, features) and the exported graph
(``keras.ops``), so what a card declares is exactly what the model computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["VIEWS", "check_views", "undo_view", "view", "views_of"]

# Batches are NHWC: axis 1 is rows, axis 2 columns.
VIEWS = ("mirror", "upside_down", "quarter_turn")


def check_views(names: Sequence[str], size: tuple[int, int]) -> None:
    unknown = set(names) - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown views {sorted(unknown)}; choose from {VIEWS}")
    if "quarter_turn" in names and size[0] != size[1]:
        raise ValueError("a quarter turn needs a square model input")


def view(batch: Any, name: str, ops: Any = np) -> Any:
    """``batch`` re-oriented; ``ops`` is numpy or ``keras.ops`` (same flip/rot90 signatures)."""
    if name == "mirror":
        return ops.flip(batch, axis=2)
    if name == "upside_down":
        return ops.flip(batch, axis=1)
    if name == "quarter_turn":
        return ops.rot90(batch, k=1, axes=(1, 2))
    raise ValueError(f"unknown view {name!r}")


def undo_view(batch: Any, name: str, ops: Any = np) -> Any:
    """The inverse of :func:`view`: brings a view's feature map back to the image's orientation."""
    if name == "quarter_turn":
        return ops.rot90(batch, k=-1, axes=(1, 2))
    return view(batch, name, ops)


def views_of(batch: Any, names: Sequence[str], ops: Any = np) -> list[Any]:
    """The batch itself followed by each named view."""
    return [batch, *(view(batch, name, ops) for name in names)]
