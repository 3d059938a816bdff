"""Synthetic knee films with known joint boxes, composed from the centred KL crops.

A KL crop is one knee joint framed the way the knee models expect, so a crop pasted on a
canvas is a joint whose box we know exactly. Around it we grow plausible context (the
femur and tibia continued as tapering shafts, mirrored bone, or nothing on a dark film),
place one knee or both knees of a patient side by side, and vary size, aspect ratio,
markers, exposure and blur. The same composer makes training canvases (at pyramid-level
resolution) and the held-out evaluation films (at realistic pixel sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from desktop.inference.preprocess import resized

__all__ = ["CanvasPlan", "compose_canvas", "random_plan"]

CROP = 224  # side of the KL crops
LAYOUTS = ("single", "bilateral")
CONTEXTS = ("shaft", "reflect", "dark")


@dataclass(frozen=True)
class CanvasPlan:
    layout: str  # "single" | "bilateral"
    joint_px: int  # joint box side on the canvas
    short_side_fraction: float  # joint box side / canvas shorter side (may exceed 1: a tight strip)
    aspect: float  # canvas width / height
    context: str  # "shaft" | "reflect" | "dark"


def random_plan(rng: np.random.Generator, joint_px: int, *, strip_rate: float = 0.12) -> CanvasPlan:
    """Film geometries seen in practice: KL-like crops, single and bilateral films, strips."""
    layout = LAYOUTS[int(rng.random() < 0.5)]
    if rng.random() < strip_rate:
        # A bilateral strip such as 640 x 161: the joints fill the height or are cut by it.
        return CanvasPlan("bilateral", joint_px, float(rng.uniform(0.9, 2.0)), float(rng.uniform(2.5, 4.5)), "dark")
    fraction = float(np.exp(rng.uniform(np.log(0.14), np.log(1.0))))
    aspect = float(np.exp(rng.uniform(np.log(0.4), np.log(2.2))))
    context = CONTEXTS[int(rng.choice(3, p=[0.6, 0.1, 0.3]))]
    return CanvasPlan(layout, joint_px, fraction, aspect, context)


def _to_unit(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) / np.float32(255.0)


def _shaft(profile: np.ndarray, length: int, taper: float, rng: np.random.Generator) -> np.ndarray:
    """Rows continuing a bone away from the joint: the edge row, narrowing with distance."""
    width = profile.shape[0]
    centre = (width - 1) / 2
    steps = np.arange(1, length + 1, dtype=np.float32)[:, None] / CROP
    # Sampling ever wider source positions squeezes the profile: the shaft narrows.
    source = centre + (np.arange(width, dtype=np.float32)[None, :] - centre) * (1 + taper * steps)
    rows = np.interp(source, np.arange(width), profile, left=0.0, right=0.0)
    drift = 1.0 + rng.uniform(-0.25, 0.1) * np.minimum(steps, 1.0)
    return (rows * drift).astype(np.float32)


def _joint_tile(crop: np.ndarray, plan: CanvasPlan, background: float, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """The crop with context around it (at crop resolution); returns the tile and the crop's offset."""
    crop = _to_unit(crop)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    # Raw films are not pre-equalised like the KL crops: vary the tone curve.
    crop = np.clip(crop, 0, 1) ** np.float32(rng.uniform(0.7, 1.5))
    if plan.context == "dark":
        return crop, 0, 0
    reach = int(CROP * rng.uniform(0.3, 1.6))
    side_reach = int(CROP * rng.uniform(0.05, 0.35))
    if plan.context == "reflect":
        tall = np.pad(crop, ((reach, reach), (0, 0)), mode="reflect" if reach < CROP else "symmetric")
    else:
        top_profile = crop[:6].mean(axis=0)
        bottom_profile = crop[-6:].mean(axis=0)
        above = _shaft(top_profile, reach, float(rng.uniform(0.0, 0.6)), rng)[::-1]
        below = _shaft(bottom_profile, reach, float(rng.uniform(0.0, 0.6)), rng)
        tall = np.concatenate([above, crop, below], axis=0)
    # Soft tissue fades out sideways instead of stopping at the crop edge.
    fade = np.exp(-np.arange(1, side_reach + 1, dtype=np.float32) / max(1.0, side_reach / 3))
    left = background + (tall[:, :1] - background) * fade[::-1][None, :]
    right = background + (tall[:, -1:] - background) * fade[None, :]
    return np.concatenate([left, tall, right], axis=1), reach, side_reach


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return resized(image, max(1, height), max(1, width))


def _rotate(tile: np.ndarray, degrees: float, fill: float) -> np.ndarray:
    source = Image.fromarray(np.ascontiguousarray(tile, dtype=np.float32), mode="F")
    return np.asarray(source.rotate(degrees, Image.Resampling.BILINEAR, fillcolor=fill), dtype=np.float32)


def _paste(canvas: np.ndarray, tile: np.ndarray, top: int, left: int) -> None:
    """Paste with max-blending (bones overlapping soft tissue stay visible), clipped to the canvas."""
    rows, cols = canvas.shape
    t0, l0 = max(0, top), max(0, left)
    t1, l1 = min(rows, top + tile.shape[0]), min(cols, left + tile.shape[1])
    if t1 <= t0 or l1 <= l0:
        return
    region = canvas[t0:t1, l0:l1]
    np.maximum(region, tile[t0 - top : t1 - top, l0 - left : l1 - left], out=region)


def _distractors(canvas: np.ndarray, joint_px: int, rng: np.random.Generator) -> None:
    """Side markers and calibration balls: bright shapes every real film carries."""
    rows, cols = canvas.shape
    for _ in range(int(rng.integers(0, 3))):
        size = max(3, int(joint_px * rng.uniform(0.08, 0.25)))
        if size >= min(rows, cols):
            continue
        top, left = int(rng.integers(0, rows - size)), int(rng.integers(0, cols - size))
        value = float(rng.uniform(0.6, 1.0))
        if rng.random() < 0.5:
            yy, xx = np.mgrid[:size, :size]
            disk = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) <= (size / 2) ** 2
            canvas[top : top + size, left : left + size][disk] = value
        else:
            canvas[top : top + size, left : left + size] = value
            inner = max(1, size // 4)
            canvas[top + inner : top + size - inner, left + inner : left + size - inner : 2] *= 0.3


def _canvas_shape(plan: CanvasPlan, content_width: int) -> tuple[int, int]:
    short = max(1, round(plan.joint_px / plan.short_side_fraction))
    height, width = (short, round(short * plan.aspect)) if plan.aspect >= 1 else (round(short / plan.aspect), short)
    return max(height, 8), max(width, content_width, 8)


def compose_canvas(
    rng: np.random.Generator, plan: CanvasPlan, crops: list[np.ndarray]
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """A film with one or two joints (``crops``: one, or a patient's two knees).

    Returns the float32 canvas in [0, 1] and the joint boxes (top, left, side, side).
    """
    crops = crops[: 1 if plan.layout == "single" else 2]
    joint = plan.joint_px
    scale = joint / CROP
    background = float(rng.uniform(0.0, 0.18))
    gap = int(joint * rng.uniform(0.05, 0.9)) if len(crops) == 2 else 0
    content_width = len(crops) * joint + gap
    height, width = _canvas_shape(plan, content_width)
    canvas = np.full((height, width), background, dtype=np.float32)
    # Where the joints sit: anywhere the whole pair fits; on a strip lower than a joint the
    # joints are centred vertically and cut by the edges, as such strips are cut in practice.
    top = int(rng.integers(0, height - joint + 1)) if height >= joint else (height - joint) // 2
    first_left = int(rng.integers(0, width - content_width + 1))
    boxes = []
    for index, crop in enumerate(crops):
        tile, reach, side_reach = _joint_tile(crop, plan, background, rng)
        tile_h = max(1, round(tile.shape[0] * scale))
        tile_w = max(1, round(tile.shape[1] * scale))
        tile = _resize(tile, tile_h, tile_w)
        if rng.random() < 0.7:
            tile = _rotate(tile, float(rng.uniform(-7, 7)), background)
        joint_top = top
        if index and height >= joint:  # the second knee sits a little higher or lower
            joint_top = int(np.clip(top + round(joint * rng.uniform(-0.06, 0.06)), 0, height - joint))
        left = first_left + index * (joint + gap)
        _paste(canvas, tile, joint_top - round(reach * scale), left - round(side_reach * scale))
        boxes.append((float(joint_top), float(left), float(joint), float(joint)))
    if rng.random() < 0.5:
        _distractors(canvas, joint, rng)
    canvas = canvas * np.float32(rng.uniform(0.6, 1.0)) + np.float32(rng.uniform(0.0, 0.1))
    blur = rng.uniform(1.0, 2.2)
    if rng.random() < 0.4:  # low-resolution films: detail lost, shape kept
        canvas = _resize(_resize(canvas, max(8, round(height / blur)), max(8, round(width / blur))), height, width)
    canvas = canvas + rng.normal(0, rng.uniform(0.0, 0.03), canvas.shape).astype(np.float32)
    return np.clip(canvas, 0.0, 1.0), boxes
