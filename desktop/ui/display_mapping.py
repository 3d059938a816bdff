"""Pure numpy display mappings: window/level, invert, heat-map colours.

Display-only, so it lives in ``ui``, but it imports no Qt: every function is a plain array in,
array out and is unit-tested without a QApplication. The viewer quantises the float pixels
once (:func:`quantise`) and then re-maps them through a 65,536-entry lookup table on every
window/level drag, which stays interactive on 40-megapixel radiographs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_WINDOW",
    "LEVELS",
    "WindowLevel",
    "apply_lut",
    "heatmap_rgba",
    "display_lut",
    "map_to_uint8",
    "quantise",
    "resize_bilinear",
    "turbo_colours",
]

# 16-bit quantisation is finer than any monitor and than the 12-16 bits an X-ray stores.
LEVELS = 65536
# Narrowest window the user can drag to: below this the image is pure black and white.
MIN_WIDTH = 1.0 / 256.0
MAX_WIDTH = 2.0


@dataclass(frozen=True)
class WindowLevel:
    """A display window over pixel values in [0, 1]: ``width`` wide, centred on ``level``."""

    width: float = 1.0
    level: float = 0.5

    def clamped(self) -> WindowLevel:
        """The same window with width and level kept where the image stays visible."""
        width = float(np.clip(self.width, MIN_WIDTH, MAX_WIDTH))
        level = float(np.clip(self.level, -0.5, 1.5))
        return WindowLevel(width=width, level=level)


DEFAULT_WINDOW = WindowLevel()


def quantise(pixels: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] as uint16 indices into a :func:`display_lut` table."""
    values = np.asarray(pixels, dtype=np.float32)
    if not np.isfinite(values).all():  # decoders should never hand us NaN, but never crash on it
        values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    # In place and float32 throughout: this runs on 40-megapixel images as they open.
    scaled = np.multiply(values, LEVELS - 1, dtype=np.float32)
    np.clip(scaled, 0.0, LEVELS - 1, out=scaled)
    scaled += 0.5  # round half up, cheaper than np.rint on large arrays
    return scaled.astype(np.uint16)


def map_to_uint8(values: np.ndarray, window: WindowLevel = DEFAULT_WINDOW, *, invert: bool = False) -> np.ndarray:
    """Window/level (and optionally invert) float values in [0, 1] to 8-bit grey levels.

    The reference definition; :func:`display_lut` tabulates exactly this function.
    """
    window = window.clamped()
    low = window.level - window.width / 2.0
    scaled = np.clip((np.asarray(values, dtype=np.float64) - low) / window.width, 0.0, 1.0)
    if invert:
        scaled = 1.0 - scaled
    return np.rint(scaled * 255.0).astype(np.uint8)


def display_lut(window: WindowLevel = DEFAULT_WINDOW, *, invert: bool = False) -> np.ndarray:
    """uint8 table of :data:`LEVELS` entries: quantised pixel value -> grey level on screen."""
    return map_to_uint8(np.linspace(0.0, 1.0, LEVELS), window, invert=invert)


def apply_lut(indices: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Look ``indices`` (from :func:`quantise`) up in ``lut``; C-contiguous uint8 result."""
    return np.ascontiguousarray(np.take(lut, indices))


def turbo_colours(values: np.ndarray) -> np.ndarray:
    """RGB floats in [0, 1] for values in [0, 1] along Google's Turbo colour map.

    Turbo reads like the familiar "jet" (blue -> green -> yellow -> red) without jet's false
    bands; this is the published polynomial approximation, good to about 1 % per channel.
    """
    x = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    r = 0.13572138 + x * (4.61539260 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))))
    g = 0.09140261 + x * (2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))))
    b = 0.10667330 + x * (12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))))
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def resize_bilinear(array: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Bilinear resize of a 2-D float array with pixel centres aligned (as image resizers do)."""
    array = np.asarray(array, dtype=np.float32)
    in_rows, in_cols = array.shape

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    r0, r1, fr = axis(rows, in_rows)
    c0, c1, fc = axis(cols, in_cols)
    top = array[r0][:, c0] * (1 - fc) + array[r0][:, c1] * fc
    bottom = array[r1][:, c0] * (1 - fc) + array[r1][:, c1] * fc
    return top * (1 - fr[:, None]) + bottom * fr[:, None]


def heatmap_rgba(
    heatmap: np.ndarray,
    *,
    min_side: int = 256,
    transparent_below: float = 0.15,
    opaque_from: float = 0.5,
) -> np.ndarray:
    """Colour a heat map in [0, 1] as RGBA uint8 (rows, cols, 4), transparent where low.

    Coarse CAM grids (7 x 7, say) are first interpolated to about ``min_side`` pixels so the
    colours blend between cells instead of showing blocks; the viewer then stretches the result
    over the whole image. Alpha ramps from 0 at ``transparent_below`` to 255 at ``opaque_from``,
    so unremarkable regions leave the radiograph untouched.
    """
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    if values.ndim != 2 or values.size == 0:
        raise ValueError("a heat map must be a non-empty 2-D array")
    values = np.clip(values, 0.0, 1.0)
    rows, cols = values.shape
    if max(rows, cols) < min_side:
        factor = min_side / max(rows, cols)
        values = resize_bilinear(values, max(1, round(rows * factor)), max(1, round(cols * factor)))
    rgb = turbo_colours(values)
    span = max(opaque_from - transparent_below, 1e-6)
    alpha = np.clip((values - transparent_below) / span, 0.0, 1.0)
    rgba = np.empty(values.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = np.rint(rgb * 255.0)
    rgba[..., 3] = np.rint(alpha * 255.0)
    return rgba
