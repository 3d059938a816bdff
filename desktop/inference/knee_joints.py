"""Find the knee joints on a radiograph, so each knee model sees a crop like its training data.

The locator's network scores every window of an image pyramid
(:mod:`desktop.inference.joint_windows`). Candidates above the card's threshold are joints;
at most two are reported, the second only when it sits beside the first like the other knee
of a bilateral film.

The network knows upright frontal knees only (it scores a knee turned sideways or upside
down near zero). Films are often scanned or exported turned, so unless the image as it is
holds a clear joint, the locator looks again with the image turned a quarter either way and
a half turn, keeps the turn whose joint scores best, and reports it: the knee models then
read each crop turned upright, while boxes stay in the original image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The window search is re-exported: training and evaluation import the locator from here.
from desktop.inference.joint_windows import (
    JointCandidate,
    LocatorSettings,
    LocatorModel,
    joint_candidates,
    level_view,
    locator_settings,
    pad_to_window,
    window_sides,
)

__all__ = [
    "JointCandidate",
    "KneeJoint",
    "LocatorSettings",
    "crop_joint",
    "joint_candidates",
    "level_view",
    "locate_knee_joints",
    "locator_settings",
    "pad_to_window",
    "select_joints",
    "turned_box",
    "window_sides",
]

SIDES = ("image_left", "image_right", "single")
# Sides of two joints found on a turned film that lie one above the other on the image as shown.
STACKED_SIDES = ("image_top", "image_bottom")
# numpy.rot90 turns (counter-clockwise quarter turns) tried, in this order, when the image as
# it is holds no clear joint: a quarter turn either way first, as sideways scans are usual.
RETRY_TURNS = (1, 3, 2)
# Clear upright joints score at or above this (scores saturate near 1). A knee turned sideways
# can still pass the threshold with a lower score (0.97 on some narrow films): then the other
# turns are tried, and one replaces the joints found as-is only with a clear joint.
SURE_UPRIGHT = 0.99


@dataclass(frozen=True)
class KneeJoint:
    """One knee joint: a square ``box`` (top, left, height, width) in original image pixels.

    On a strip narrower than the joint the box reaches past the image edge; use
    :func:`crop_joint`, which fills that part the way the detector saw it.

    ``side`` is where the joint lies on the image ("image_left"/"image_right", or
    "image_top"/"image_bottom" on a film turned sideways) when two were found; a lone joint
    is "single", because its position says nothing about which knee it is.

    ``turn`` is how many quarter turns (counter-clockwise, as ``numpy.rot90``) stand the
    joint upright: 0 on a film as taken; :func:`crop_joint` applies it.
    """

    box: tuple[int, int, int, int]
    score: float
    side: str
    turn: int = 0


def _pairs_with(first: JointCandidate, other: JointCandidate, settings: LocatorSettings) -> bool:
    """Could ``other`` be the opposite knee of ``first`` on one film?"""
    size_a, size_b = first.box[2], other.box[2]
    mean = 0.5 * (size_a + size_b)
    dy = abs((first.box[0] + size_a / 2) - (other.box[0] + size_b / 2))
    dx = abs((first.box[1] + first.box[3] / 2) - (other.box[1] + other.box[3] / 2))
    return (
        max(size_a, size_b) / min(size_a, size_b) <= settings.pair_size_ratio
        and dy <= settings.pair_max_vertical_offset * mean
        and dx >= settings.pair_min_horizontal_gap * mean
    )


def _as_joint(candidate: JointCandidate, side: str) -> KneeJoint:
    top, left, height, width = candidate.box
    size = round((height + width) / 2)  # square, as the KL crops are
    # Keep the centre: on a tight strip the box may reach past the image edge (crop_joint fills it).
    top_i = round(top + height / 2 - size / 2)
    left_i = round(left + width / 2 - size / 2)
    return KneeJoint(box=(int(top_i), int(left_i), int(size), int(size)), score=candidate.score, side=side)


def select_joints(candidates: list[JointCandidate], settings: LocatorSettings, *, threshold: float) -> list[KneeJoint]:
    """The reported joints among ``candidates`` (best first): the strongest one at or above
    ``threshold``, plus the next one that pairs with it as the other knee of the film."""
    found = [c for c in candidates if c.score >= threshold]
    if not found:
        return []
    chosen = [found[0]]
    if settings.max_joints >= 2:
        partner = next((c for c in found[1:] if _pairs_with(found[0], c, settings)), None)
        if partner is not None:
            chosen.append(partner)
    if len(chosen) == 1:
        return [_as_joint(chosen[0], "single")]
    chosen.sort(key=lambda c: c.box[1] + c.box[3] / 2)
    return [_as_joint(c, side) for c, side in zip(chosen, SIDES[:2])]


def locate_knee_joints(
    model: LocatorModel, pixels: np.ndarray, *, threshold: float | None = None
) -> list[KneeJoint]:
    """The knee joints on a decoded grayscale image in [0, 1], left to right (top to bottom on
    a film turned sideways); [] when none.

    ``model`` is the loaded ``joint_locator`` model (``registry.helper("joint_locator")``);
    ``threshold`` overrides its card's decision threshold (for evaluation sweeps).
    """
    settings = locator_settings(model.card)
    cutoff = settings.threshold if threshold is None else float(threshold)
    image = np.asarray(pixels)
    best = (0, select_joints(joint_candidates(model, image, settings=settings), settings, threshold=cutoff))
    if _top_score(best[1]) >= SURE_UPRIGHT:
        return best[1]
    # Joints found as-is give way only to a clear joint in another turn.
    needed = SURE_UPRIGHT if best[1] else 0.0
    for turn in RETRY_TURNS:
        found = select_joints(joint_candidates(model, np.rot90(image, turn), settings=settings), settings, threshold=cutoff)
        top = _top_score(found)
        if found and top >= needed and top > _top_score(best[1]):
            best = (turn, found)
    turn, found = best
    if not turn:
        return found
    return _named_sides([_turned_back(joint, turn, image.shape[:2]) for joint in found])


def _top_score(joints: list[KneeJoint]) -> float:
    return max((joint.score for joint in joints), default=0.0)


def turned_box(box: tuple[int, int, int, int], turn: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where ``box`` (top, left, height, width) on ``numpy.rot90(image, turn)`` lies on
    ``image``, whose first two dimensions are ``shape``."""
    top, left, height, width = box
    rows, cols = shape
    turn %= 4
    if turn == 1:  # turned[i, j] = image[j, cols - 1 - i]
        return left, cols - top - height, width, height
    if turn == 2:  # turned[i, j] = image[rows - 1 - i, cols - 1 - j]
        return rows - top - height, cols - left - width, height, width
    if turn == 3:  # turned[i, j] = image[rows - 1 - j, i]
        return rows - left - width, top, width, height
    return box


def _turned_back(joint: KneeJoint, turn: int, shape: tuple[int, int]) -> KneeJoint:
    return KneeJoint(box=turned_box(joint.box, turn, shape), score=joint.score, side=joint.side, turn=turn)


def _named_sides(joints: list[KneeJoint]) -> list[KneeJoint]:
    """Sides as the user sees the original image: left/right, or top/bottom when the two
    joints lie one above the other (a bilateral film turned sideways)."""
    if len(joints) != 2:
        return joints  # a lone joint is "single" whatever the turn
    centres = [(j.box[0] + j.box[2] / 2, j.box[1] + j.box[3] / 2) for j in joints]
    stacked = abs(centres[0][0] - centres[1][0]) > abs(centres[0][1] - centres[1][1])
    axis, names = (0, STACKED_SIDES) if stacked else (1, SIDES[:2])
    ordered = sorted(zip(joints, centres), key=lambda pair: pair[1][axis])
    return [KneeJoint(j.box, j.score, side, j.turn) for (j, _), side in zip(ordered, names)]


def crop_joint(pixels: np.ndarray, joint: KneeJoint) -> np.ndarray:
    """The square crop of ``joint`` as the knee models expect it (the KL crop framing).

    A joint with a ``turn`` is turned upright. A box that reaches past the image edge (a tight
    bilateral strip) is filled with the mirror image of the rows next to the edge: the crop
    keeps bone texture and contrast throughout, as the training crops do. Repeating the edge
    rows instead smeared long streaks that the KL model read as osteoarthritis: OA accuracy
    on the 640 x 161 strips of ``training/knee_film_sets.py`` was 0.68 with edge rows, 0.82
    with a black fill and 0.83 mirrored (``evaluate --model knee_kl --output oa``).
    """
    image = np.asarray(pixels, dtype=np.float32)
    top, left, height, width = joint.box
    rows, cols = image.shape[:2]
    pad = ((max(0, -top), max(0, top + height - rows)), (max(0, -left), max(0, left + width - cols)))
    pad += ((0, 0),) * (image.ndim - 2)
    if any(p for pair in pad for p in pair):
        image = np.pad(image, pad, mode="symmetric")
        top, left = top + pad[0][0], left + pad[1][0]
    crop = image[top : top + height, left : left + width]
    # A joint found on a turned film is read upright, as the knee models were trained.
    return np.ascontiguousarray(np.rot90(crop, joint.turn)) if joint.turn % 4 else crop.copy()
