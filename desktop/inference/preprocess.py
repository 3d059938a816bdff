"""Turn a decoded grayscale image into a model's input tensor, exactly as its card says.

Training imports these same functions, so a model sees identical preprocessing when it is
trained and when a clinic runs it. Nothing here is model-specific: every number comes from
the card's :class:`~desktop.core.model_card.Preprocessing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from desktop.core.model_card import Preprocessing

__all__ = ["PreparedInput", "clahe", "model_image", "prepare", "resize_to_input"]

_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class PreparedInput:
    """A batch-of-one input tensor plus where the image content sits inside it.

    ``content_box`` is (top, left, height, width) in input pixels; with ``resize="pad"`` the
    rest is padding, which the heat map must drop before it is stretched back over the image.
    """

    tensor: np.ndarray  # (1, H, W, C) float32
    content_box: tuple[int, int, int, int]
    model_image: np.ndarray  # (H, W) float32 in [0, 1] after resize and contrast, before scaling


def clahe(image: np.ndarray, *, clip_limit: float = 2.0, tile_grid: tuple[int, int] = (8, 8), bins: int = 256) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of a 2-D image in [0, 1].

    Follows the classic algorithm (Zuiderveld 1994, as in OpenCV): per-tile histograms clipped
    at ``clip_limit`` times the uniform bin height, the excess spread evenly, and the tile
    mappings blended bilinearly between tile centres so no tile edges show.
    """
    if image.ndim != 2:
        raise ValueError("clahe expects a 2-D grayscale image")
    rows, cols = image.shape
    tiles_y, tiles_x = tile_grid
    levels = np.rint(np.clip(image, 0.0, 1.0) * (bins - 1)).astype(np.int64)
    tile_h = -(-rows // tiles_y)
    tile_w = -(-cols // tiles_x)
    # Symmetric padding keeps the statistics of border tiles close to the real content.
    padded = np.pad(levels, ((0, tile_h * tiles_y - rows), (0, tile_w * tiles_x - cols)), mode="symmetric")
    tiles = padded.reshape(tiles_y, tile_h, tiles_x, tile_w).transpose(0, 2, 1, 3).reshape(tiles_y * tiles_x, -1)
    offsets = np.arange(tiles_y * tiles_x)[:, None] * bins
    hist = np.bincount((tiles + offsets).ravel(), minlength=tiles_y * tiles_x * bins)
    hist = hist.reshape(tiles_y * tiles_x, bins).astype(np.float64)
    area = tile_h * tile_w
    limit = max(1.0, clip_limit * area / bins)
    excess = np.maximum(hist - limit, 0.0).sum(axis=1, keepdims=True)
    hist = np.minimum(hist, limit) + excess / bins
    lut = (np.cumsum(hist, axis=1) / area).reshape(tiles_y, tiles_x, bins)

    def axis_weights(n: int, tile: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(n) + 0.5) / tile - 0.5
        low = np.clip(np.floor(pos).astype(np.int64), 0, count - 1)
        high = np.minimum(low + 1, count - 1)
        weight = np.clip(pos - low, 0.0, 1.0)
        return low, high, weight

    y0, y1, wy = axis_weights(rows, tile_h, tiles_y)
    x0, x1, wx = axis_weights(cols, tile_w, tiles_x)
    y0, y1, wy = y0[:, None], y1[:, None], wy[:, None]
    top = lut[y0, x0, levels] * (1 - wx) + lut[y0, x1, levels] * wx
    bottom = lut[y1, x0, levels] * (1 - wx) + lut[y1, x1, levels] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (2-D float) resized bilinearly; Pillow widens the filter when shrinking, so
    downscaling does not alias."""
    source = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    return np.asarray(source.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def resize_to_input(image: np.ndarray, spec: Preprocessing) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Resize to the model's input size; returns the image and its content box."""
    out_h, out_w = spec.size
    rows, cols = image.shape
    resample = _RESAMPLING.get(spec.interpolation, Image.Resampling.BILINEAR)
    source = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    if spec.resize == "squash":
        if (rows, cols) == (out_h, out_w):
            return image.astype(np.float32, copy=False), (0, 0, out_h, out_w)
        return np.asarray(source.resize((out_w, out_h), resample), dtype=np.float32), (0, 0, out_h, out_w)
    scale = min(out_h / rows, out_w / cols)
    new_h = max(1, round(rows * scale))
    new_w = max(1, round(cols * scale))
    scaled = np.asarray(source.resize((new_w, new_h), resample), dtype=np.float32)
    canvas = np.zeros((out_h, out_w), dtype=np.float32)
    top = (out_h - new_h) // 2
    left = (out_w - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = scaled
    return canvas, (top, left, new_h, new_w)


def model_image(image: np.ndarray, spec: Preprocessing) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The image as the model sees it, before scaling: resized and contrast-equalised.

    Training builds its cached arrays with this function, so the two can never drift apart.
    """
    resized, box = resize_to_input(np.clip(image, 0.0, 1.0), spec)
    if spec.clahe_clip_limit is not None:
        top, left, height, width = box
        # Equalise only the content: padding would otherwise take part in the histograms.
        resized = resized.copy()
        resized[top : top + height, left : left + width] = clahe(
            resized[top : top + height, left : left + width],
            clip_limit=spec.clahe_clip_limit,
            tile_grid=spec.clahe_tile_grid,
        )
    return resized, box


def prepare(image: np.ndarray, spec: Preprocessing) -> PreparedInput:
    """Full preprocessing of one 2-D image in [0, 1] into a (1, H, W, C) float32 tensor."""
    resized, box = model_image(image, spec)
    scaled = (resized - spec.mean) / spec.std
    tensor = np.repeat(scaled[None, :, :, None], spec.channels, axis=3).astype(np.float32)
    return PreparedInput(tensor=tensor, content_box=box, model_image=resized)
