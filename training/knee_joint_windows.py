"""Labelled 64 x 64 windows for the joint locator, cut from pyramid levels like the app's.

Every window comes out of a whole level made by the app's own ``pad_to_window`` and
``level_view`` (resize, then CLAHE over the level), so training sees exactly the contrast the
detector sees, context included. A window's label depends on where it sits relative to the
known joints (offsets and sizes in window sides):

* knee joint: centre within 10% of a joint's centre and the joint 0.85-1.18 windows wide;
* background: for every joint, centre 35% or more away, or the joint at most 0.55 or at
  least 1.8 windows wide (a whole knee with its shafts, both knees, or a condyle alone);
* anything in between is left out: near misses are for non-maximum suppression to sort.
"""

from __future__ import annotations

import numpy as np

from desktop.inference.knee_joints import (
    LocatorSettings,
    level_view,
    pad_to_window,
    window_sides,
)
from training.knee_joint_canvas import compose_canvas, random_plan
from training.knee_joint_data import Film, KLCrops

__all__ = ["IGNORE", "film_windows", "kl_canvas_windows", "noise_windows", "window_label", "windows_at"]

BACKGROUND, JOINT, IGNORE = 0, 1, -1
POSITIVE_OFFSET, NEGATIVE_OFFSET = 0.10, 0.35
POSITIVE_SIZE, NEGATIVE_SMALL, NEGATIVE_LARGE = (0.85, 1.18), 0.55, 1.8

Box = tuple[float, float, float, float]  # top, left, height, width


def window_label(top: float, left: float, window: float, joints: list[Box]) -> int:
    """JOINT, BACKGROUND or IGNORE for a square window against the known joint boxes."""
    label = BACKGROUND
    for joint_top, joint_left, height, width in joints:
        dy = abs(top + window / 2 - joint_top - height / 2) / window
        dx = abs(left + window / 2 - joint_left - width / 2) / window
        size = (height + width) / 2 / window
        if max(dx, dy) <= POSITIVE_OFFSET and POSITIVE_SIZE[0] <= size <= POSITIVE_SIZE[1]:
            return JOINT
        if not (max(dx, dy) >= NEGATIVE_OFFSET or size <= NEGATIVE_SMALL or size >= NEGATIVE_LARGE):
            label = IGNORE
    return label


def _cut(level: np.ndarray, top: int, left: int, window: int) -> np.ndarray:
    return np.rint(level[top : top + window, left : left + window] * 255).astype(np.uint8)


def _windows_on_level(
    rng: np.random.Generator,
    level: np.ndarray,
    joints: list[Box],
    *,
    window: int,
    positives_per_joint: int,
    negatives: int,
    avoid: list[Box] = (),
) -> tuple[list[np.ndarray], list[int]]:
    rows, cols = level.shape
    spots: list[tuple[int, int]] = []
    for joint_top, joint_left, height, width in joints:
        centre_y, centre_x = joint_top + height / 2, joint_left + width / 2
        for _ in range(positives_per_joint):
            shift = rng.uniform(-0.08, 0.08, 2) * window
            spots.append((round(centre_y + shift[0] - window / 2), round(centre_x + shift[1] - window / 2)))
        # Near misses: the same joint off by a third of a window or more, the hardest background.
        angle = rng.uniform(0, 2 * np.pi)
        reach = rng.uniform(NEGATIVE_OFFSET + 0.02, 0.8) * window
        spots.append((round(centre_y + reach * np.sin(angle) - window / 2), round(centre_x + reach * np.cos(angle) - window / 2)))
    for _ in range(negatives):
        # Of three random places take the busiest: empty film is learned fast, anatomy is not.
        tries = [(int(rng.integers(0, rows - window + 1)), int(rng.integers(0, cols - window + 1))) for _ in range(3)]
        spots.append(max(tries, key=lambda spot: float(level[spot[0] : spot[0] + window : 4, spot[1] : spot[1] + window : 4].std())))
    patches, labels = [], []
    for top, left in spots:
        top = int(np.clip(top, 0, rows - window))
        left = int(np.clip(left, 0, cols - window))
        label = window_label(top, left, window, joints)
        if label == BACKGROUND and avoid and window_label(top, left, window, list(avoid)) != BACKGROUND:
            continue  # might be an unlabelled joint: neither side of the lesson
        if label != IGNORE:
            patches.append(_cut(level, top, left, window))
            labels.append(label)
    return patches, labels


def kl_canvas_windows(
    rng: np.random.Generator, crops: KLCrops, settings: LocatorSettings, *, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows from ``count`` synthetic films composed straight at level resolution."""
    pairs = crops.pairs()
    window = settings.window
    patches: list[np.ndarray] = []
    labels: list[int] = []
    for _ in range(count):
        members = pairs[int(rng.integers(len(pairs)))]
        if rng.random() < 0.7:  # the joint about one window wide: positives and near misses
            ratio = float(np.exp(rng.uniform(np.log(0.88), np.log(1.13))))
        elif rng.random() < 0.5:  # joint much smaller than the window: whole knees, both knees
            ratio = float(np.exp(rng.uniform(np.log(0.22), np.log(NEGATIVE_SMALL))))
        else:  # window inside a joint: a condyle, the joint line, a tibial plateau
            ratio = float(np.exp(rng.uniform(np.log(NEGATIVE_LARGE), np.log(3.0))))
        plan = random_plan(rng, round(window * ratio))
        if ratio > 1.5 and plan.short_side_fraction < 0.5:  # keep big-joint canvases a sane size
            plan = type(plan)(plan.layout, plan.joint_px, 0.5, plan.aspect, plan.context)
        canvas, joints = compose_canvas(rng, plan, [crops.images[i] for i in members])
        padded, pad_top, pad_left = pad_to_window(canvas, window)
        level = level_view(padded, 1.0, settings)
        shifted = [(t + pad_top, l + pad_left, h, w) for t, l, h, w in joints]
        new_patches, new_labels = _windows_on_level(
            rng, level, shifted, window=window, positives_per_joint=3 if 0.6 < ratio < 1.5 else 0, negatives=4
        )
        patches += new_patches
        labels += new_labels
    return np.stack(patches), np.asarray(labels, dtype=np.int64)


def film_windows(
    rng: np.random.Generator,
    films: list[Film],
    settings: LocatorSettings,
    *,
    levels_per_film: int,
    negatives_per_level: int,
    joints_of: dict[str, list[Box]] | None = None,
    avoid_of: dict[str, list[Box]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows from real radiographs at random pyramid levels.

    Without boxes every window is background. ``joints_of`` gives (pseudo-)labelled joints
    per film name; ``avoid_of`` gives places that may be joints: no window may be called
    background within reach of them.
    """
    window = settings.window
    patches: list[np.ndarray] = []
    labels: list[int] = []
    for film in films:
        joints = (joints_of or {}).get(film.name, [])
        avoid = (avoid_of or {}).get(film.name, [])
        sides = window_sides(film.pixels.shape, settings)
        for _ in range(levels_per_film):
            if joints and rng.random() < 0.6:
                side = joints[int(rng.integers(len(joints)))][2] * float(np.exp(rng.uniform(np.log(0.88), np.log(1.13))))
            else:
                side = float(np.exp(rng.uniform(np.log(sides[-1]), np.log(sides[0]))))
            scale = window / side
            padded, pad_top, pad_left = pad_to_window(film.pixels, side)
            level = level_view(padded, scale, settings)
            sy, sx = level.shape[0] / padded.shape[0], level.shape[1] / padded.shape[1]
            mapped = [((t + pad_top) * sy, (l + pad_left) * sx, h * sy, w * sx) for t, l, h, w in joints]
            mapped_avoid = [((t + pad_top) * sy, (l + pad_left) * sx, h * sy, w * sx) for t, l, h, w in avoid]
            new_patches, new_labels = _windows_on_level(
                rng, level, mapped, window=window, positives_per_joint=2 if mapped else 0,
                negatives=negatives_per_level, avoid=mapped_avoid,
            )
            patches += new_patches
            labels += new_labels
    if not patches:
        return np.zeros((0, window, window), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    return np.stack(patches), np.asarray(labels, dtype=np.int64)


def windows_at(
    rng: np.random.Generator, film: Film, boxes: list[Box], settings: LocatorSettings, *, copies: int
) -> np.ndarray:
    """Windows where a detector fired on a film known to hold no knee: the hardest background.

    Each box is cut ``copies`` times at a slightly different scale and offset, from the level
    whose window matches the box, exactly as the detector saw it.
    """
    window = settings.window
    patches = []
    for top, left, height, _ in boxes:
        for _ in range(copies):
            side = height * float(np.exp(rng.uniform(np.log(0.9), np.log(1.11))))
            padded, pad_top, pad_left = pad_to_window(film.pixels, side)
            level = level_view(padded, window / side, settings)
            sy, sx = level.shape[0] / padded.shape[0], level.shape[1] / padded.shape[1]
            shift = rng.uniform(-0.08, 0.08, 2) * window
            row = int(np.clip(round((top + pad_top) * sy + shift[0]), 0, level.shape[0] - window))
            col = int(np.clip(round((left + pad_left) * sx + shift[1]), 0, level.shape[1] - window))
            patches.append(_cut(level, row, col, window))
    return np.stack(patches) if patches else np.zeros((0, window, window), dtype=np.uint8)


def noise_windows(rng: np.random.Generator, settings: LocatorSettings, *, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat, noisy and gradient fields: nothing anatomical may score as a joint."""
    window = settings.window
    patches = []
    for _ in range(count):
        rows, cols = (int(v) for v in rng.integers(window, 3 * window, 2))
        yy, xx = np.mgrid[:rows, :cols].astype(np.float32)
        field = rng.uniform(0, 1) + rng.uniform(-1, 1) * yy / rows * rng.uniform(0, 0.5) + rng.uniform(-1, 1) * xx / cols * rng.uniform(0, 0.5)
        field = field + rng.normal(0, rng.uniform(0.0, 0.2), (rows, cols))
        level = level_view(np.clip(field, 0, 1).astype(np.float32), 1.0, settings)
        top, left = int(rng.integers(0, rows - window + 1)), int(rng.integers(0, cols - window + 1))
        patches.append(_cut(level, top, left, window))
    return np.stack(patches), np.zeros(count, dtype=np.int64)
