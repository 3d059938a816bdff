"""Strip-like training crops: a kept band, mirrored above and below as crop_joint pads."""

from __future__ import annotations

import numpy as np

from desktop.inference.knee_joints import KneeJoint, crop_joint
from training.strip_augmentation import BAND_HEIGHTS, mirrored_band


def _band_rows(original: np.ndarray, augmented: np.ndarray) -> np.ndarray:
    return np.flatnonzero([(augmented[i] == original[i]).all() for i in range(original.shape[0])])


def test_the_band_is_kept_and_the_rest_is_its_mirror_image() -> None:
    rng = np.random.default_rng(0)
    # Every row distinct, so a kept row can only be the original row.
    crop = np.arange(224 * 224, dtype=np.float32).reshape(224, 224, 1) / (224 * 224)
    for _ in range(20):
        augmented = mirrored_band(crop, rng)
        assert augmented.shape == crop.shape
        kept = _band_rows(crop, augmented)
        top, bottom = kept.min(), kept.max() + 1
        assert np.array_equal(kept, np.arange(top, bottom))
        assert BAND_HEIGHTS[0] * 224 - 1 <= bottom - top <= BAND_HEIGHTS[1] * 224 + 1
        if top:
            assert np.array_equal(augmented[top - 1], crop[top])  # the row above mirrors the band's first
        if bottom < 224:
            assert np.array_equal(augmented[bottom], crop[bottom - 1])


def test_it_matches_what_the_app_cuts_from_a_strip() -> None:
    """A band cut from a crop and padded by the app's crop_joint looks the same as the
    training augmentation of that crop with the same band."""
    crop = np.random.default_rng(1).random((224, 224)).astype(np.float32)
    strip = crop[61:163]  # a 102-row band, centred
    from_the_app = crop_joint(strip, KneeJoint(box=(-61, 0, 224, 224), score=1.0, side="single"))

    class FixedBand:
        def uniform(self, low: float, high: float) -> float:
            return 102 / 224 if low > 0 else 0.0  # the band height, then no centre shift

    assert np.array_equal(mirrored_band(crop, FixedBand()), from_the_app)
