"""Score every window of an image pyramid for "is this a knee joint?", for the locator.

The locator is a small fully convolutional network that scores square windows of 64 x 64
pixels ("is this a knee joint framed the way the KL crops are?"). On a larger input it
scores every window on a 16-pixel grid in one pass, so an image pyramid covers joint sizes
from a small fraction of the image's shorter side up to all of it. Each pyramid level is
contrast-equalised (CLAHE) with tiles of a fixed size in level pixels, which equalises the
image relative to the window and therefore the same way at every scale; training cuts its
windows out of levels made by these same functions. Candidates come out of non-maximum
suppression best first; :mod:`desktop.inference.knee_joints` decides which are joints.
Everything tunable comes from the model card's ``detection`` section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from desktop.core.model_card import ModelCard
from desktop.inference.preprocess import clahe, resized

__all__ = [
    "JointCandidate",
    "LocatorModel",
    "LocatorSettings",
    "joint_candidates",
    "level_view",
    "locator_settings",
    "pad_to_window",
    "window_sides",
]


class _Session(Protocol):
    def run(self, tensor: np.ndarray, *, outputs: Any = None) -> dict[str, np.ndarray]: ...


class LocatorModel(Protocol):
    """What the locator needs from a loaded model (``registry.LoadedModel`` fits)."""

    card: ModelCard
    session: _Session


@dataclass(frozen=True)
class JointCandidate:
    """A scored window after non-maximum suppression, before the threshold (for evaluation)."""

    box: tuple[float, float, float, float]  # top, left, height, width in original pixels
    score: float


@dataclass(frozen=True)
class LocatorSettings:
    """The detection recipe, read from the card so training, app and evaluation agree."""

    window: int = 64  # network input side in level pixels: one window = one joint crop
    stride: int = 16  # the network's total stride: windows are scored on this grid
    clahe_clip_limit: float = 2.0
    clahe_tile: int = 32  # CLAHE tile side in level pixels
    min_window_fraction: float = 0.14  # of the image's shorter side
    max_window_fraction: float = 1.0
    min_window_px: float = 24.0  # joints smaller than this cannot be graded anyway
    scale_step: float = 2 ** (1 / 3)
    threshold: float = 0.5
    candidate_floor: float = 0.05  # windows scoring below this never become candidates
    max_joints: int = 2
    suppress_overlap: float = 0.3  # IoU above which the weaker window is the same joint
    suppress_cover: float = 0.6  # share of the smaller window covered: same joint too
    pair_size_ratio: float = 1.5  # the two knees of one film have about the same size...
    pair_max_vertical_offset: float = 0.8  # ...sit at about the same height (in window sides)...
    pair_min_horizontal_gap: float = 0.7  # ...and side by side (centre distance in window sides)


def locator_settings(card: ModelCard) -> LocatorSettings:
    """Build the settings from a ``joint_locator`` card (its ``detection`` section)."""
    detection = dict(card.raw.get("detection", {}))
    base = LocatorSettings()
    pre = card.preprocessing
    values: dict[str, Any] = {}
    if pre is not None:
        values["window"] = int(pre.size[0])
        if pre.clahe_clip_limit is not None:
            values["clahe_clip_limit"] = float(pre.clahe_clip_limit)
    if card.threshold is not None:
        values["threshold"] = float(card.threshold)
    for name in LocatorSettings.__dataclass_fields__:
        if name in detection:
            values[name] = type(getattr(base, name))(detection[name])
    return LocatorSettings(**{**base.__dict__, **values})


def window_sides(shape: tuple[int, int], settings: LocatorSettings) -> list[float]:
    """Joint window sides (original pixels) to search, largest first, one per pyramid level.

    From a fraction of the shorter side up to all of it; on elongated images (a bilateral
    strip such as 640 x 161) up to half the longer side, because there a joint can be wider
    than the strip is tall: those windows reach past the image edge (see :func:`pad_to_window`).
    """
    short, long = float(min(shape)), float(max(shape))
    largest = max(short * settings.max_window_fraction, min(long / 2, 2 * short))
    smallest = min(largest, max(settings.min_window_px, short * settings.min_window_fraction))
    count = 1 + max(0, math.ceil(math.log(largest / smallest) / math.log(settings.scale_step) - 1e-9))
    if count == 1:
        return [largest]
    ratio = (largest / smallest) ** (1.0 / (count - 1))
    return [largest / ratio**k for k in range(count)]


def pad_to_window(image: np.ndarray, side: float) -> tuple[np.ndarray, int, int]:
    """Pad each axis shorter than ``side`` up to it, centred, by repeating the edge pixels.

    Returns the padded image and the rows and columns added before the original. Repeating
    the edge continues bones and soft tissue past a tight border, as in the training canvases
    and in :func:`crop_joint`, where the knee models get the same filling.
    """
    rows, cols = image.shape
    extra_rows = max(0, math.ceil(side) - rows)
    extra_cols = max(0, math.ceil(side) - cols)
    if not extra_rows and not extra_cols:
        return image, 0, 0
    top, left = extra_rows // 2, extra_cols // 2
    padded = np.pad(image, ((top, extra_rows - top), (left, extra_cols - left)), mode="edge")
    return padded, top, left


def level_view(image: np.ndarray, scale: float, settings: LocatorSettings) -> np.ndarray:
    """One pyramid level: ``image`` resized by ``scale`` and equalised as the network expects.

    Never smaller than one window, so the largest window (the whole shorter side) is scored.
    """
    rows, cols = image.shape
    height = max(settings.window, round(rows * scale))
    width = max(settings.window, round(cols * scale))
    scaled = image if (height, width) == (rows, cols) else resized(image, height, width)
    grid = (max(1, round(height / settings.clahe_tile)), max(1, round(width / settings.clahe_tile)))
    return clahe(scaled, clip_limit=settings.clahe_clip_limit, tile_grid=grid)


def _score_map(model: LocatorModel, level: np.ndarray) -> np.ndarray:
    card = model.card
    outputs = model.session.run(level[None, :, :, None].astype(np.float32), outputs=[card.probabilities_output])
    probabilities = outputs[card.probabilities_output]
    positive = card.labels.index(card.positive_label) if card.positive_label else 1
    return np.asarray(probabilities[0, :, :, positive], dtype=np.float32)


def _local_peaks(scores: np.ndarray, floor: float) -> np.ndarray:
    """Grid cells at least ``floor`` and no lower than any of their eight neighbours.

    A joint lights up a small cluster of overlapping windows; only the cluster's top needs to
    compete in non-maximum suppression, which keeps suppression cheap on busy films.
    """
    padded = np.pad(scores, 1, mode="constant", constant_values=-np.inf)
    rows, cols = scores.shape
    neighbours = np.max(
        [padded[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)], axis=0
    )
    return (scores >= floor) & (scores >= neighbours)


def _refined_position(scores: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """Sub-grid peak position: the score-weighted mean of the 3 x 3 neighbourhood.

    The grid step is a quarter of a window, so snapping to it alone costs overlap with the
    true joint; neighbouring windows that also see the joint pull the estimate towards it.
    """
    top, left = max(0, row - 1), max(0, col - 1)
    patch = scores[top : row + 2, left : col + 2].astype(np.float64)
    weights = np.maximum(patch - 0.5 * scores[row, col], 0.0)
    rows, cols = np.mgrid[top : top + patch.shape[0], left : left + patch.shape[1]]
    total = weights.sum()
    return float((weights * rows).sum() / total), float((weights * cols).sum() / total)


def _overlaps(box: np.ndarray, kept: np.ndarray, settings: LocatorSettings) -> bool:
    if not len(kept):
        return False
    top = np.maximum(box[0], kept[:, 0])
    left = np.maximum(box[1], kept[:, 1])
    bottom = np.minimum(box[0] + box[2], kept[:, 0] + kept[:, 2])
    right = np.minimum(box[1] + box[3], kept[:, 1] + kept[:, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area = box[2] * box[3]
    areas = kept[:, 2] * kept[:, 3]
    iou = inter / (area + areas - inter)
    cover = inter / np.minimum(area, areas)
    return bool(np.any(iou > settings.suppress_overlap) or np.any(cover > settings.suppress_cover))


def joint_candidates(model: LocatorModel, pixels: np.ndarray, *, settings: LocatorSettings | None = None) -> list[JointCandidate]:
    """Every distinct window scoring at least ``candidate_floor``, best first (after NMS)."""
    settings = settings or locator_settings(model.card)
    image = np.asarray(pixels, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 8:
        raise ValueError("the joint locator expects a 2-D grayscale image of at least 8 x 8 pixels")
    sides = window_sides(image.shape, settings)
    # Shrink a large film once to the finest level's resolution: every level is then a
    # cheap resize of that copy instead of the original's millions of pixels.
    finest = settings.window / sides[-1]
    base = image
    if finest < 0.5:
        base = resized(image, max(1, round(image.shape[0] * finest)), max(1, round(image.shape[1] * finest)))
    base = np.clip(base, 0.0, 1.0)  # after shrinking: clipping millions of pixels costs time
    base_scale_y, base_scale_x = base.shape[0] / image.shape[0], base.shape[1] / image.shape[1]
    boxes: list[tuple[float, float, float, float]] = []
    scores: list[float] = []
    for side in sides:
        padded, pad_top, pad_left = pad_to_window(base, side * min(base_scale_y, base_scale_x))
        level = level_view(padded, settings.window / side / min(base_scale_y, base_scale_x), settings)
        score_map = _score_map(model, level)
        # Exact per-axis scales: level sizes are rounded, so rows and columns differ slightly.
        level_y, level_x = level.shape[0] / padded.shape[0], level.shape[1] / padded.shape[1]
        for row, col in zip(*np.nonzero(_local_peaks(score_map, settings.candidate_floor))):
            fine_row, fine_col = _refined_position(score_map, int(row), int(col))
            top = (fine_row * settings.stride / level_y - pad_top) / base_scale_y
            left = (fine_col * settings.stride / level_x - pad_left) / base_scale_x
            boxes.append((top, left, settings.window / level_y / base_scale_y, settings.window / level_x / base_scale_x))
            scores.append(float(score_map[row, col]))
    order = np.argsort(-np.asarray(scores), kind="stable")
    kept: list[int] = []
    box_array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for index in order:
        if not _overlaps(box_array[index], box_array[kept], settings):
            kept.append(int(index))
    return [JointCandidate(box=tuple(float(v) for v in box_array[i]), score=scores[i]) for i in kept]
