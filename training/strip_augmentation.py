"""Training crops that look like the joints the locator cuts from tight bilateral strips.

A 640 x 161 strip holds only the middle band of each knee joint. The locator still cuts the
square KL framing around the joint, and ``crop_joint`` fills the rows past the strip's edges
with the mirror image of the rows next to them. The KL crops never look like that, so the
model met it first in the clinic: radiographic OA accuracy on the strips of
``training/knee_film_sets.py`` trailed the bilateral films they were cut from (0.845 against
0.863). Showing the model some crops made the same way teaches it to read the band it has.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BAND_CENTRE_SHIFT", "BAND_HEIGHTS", "mirrored_band"]

# Band height as a share of the crop: a 640 x 161 strip of a bilateral pair keeps about 55%.
BAND_HEIGHTS = (0.45, 0.85)
# How far the band's centre may sit from the crop's: the locator's box is not exact.
BAND_CENTRE_SHIFT = 0.05


def mirrored_band(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W[, C]) with only a random horizontal band kept and the rows above and
    below it replaced by the band's mirror image, as ``crop_joint`` pads a strip."""
    rows = image.shape[0]
    height = max(2, round(rows * rng.uniform(*BAND_HEIGHTS)))
    centre = rows / 2 + rows * rng.uniform(-BAND_CENTRE_SHIFT, BAND_CENTRE_SHIFT)
    top = int(np.clip(round(centre - height / 2), 0, rows - height))
    band = image[top : top + height]
    pad = ((top, rows - top - height),) + ((0, 0),) * (image.ndim - 1)
    return np.pad(band, pad, mode="symmetric")
