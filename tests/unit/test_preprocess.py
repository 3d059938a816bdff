"""Card-driven preprocessing: resize modes, content box, CLAHE and tensor scaling."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.core.model_card import Preprocessing
from desktop.inference.preprocess import clahe, prepare, resize_to_input


def _local_contrast(image: np.ndarray, block: int = 8) -> float:
    """Mean standard deviation within non-overlapping blocks."""
    rows, cols = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    blocks = image[:rows, :cols].reshape(rows // block, block, cols // block, block)
    return float(blocks.std(axis=(1, 3)).mean())


def test_squash_fills_the_input() -> None:
    image = np.random.default_rng(0).random((40, 100)).astype(np.float32)
    resized, box = resize_to_input(image, Preprocessing(size=(32, 32), resize="squash"))
    assert resized.shape == (32, 32) and resized.dtype == np.float32
    assert box == (0, 0, 32, 32)


def test_pad_keeps_aspect_and_reports_content_box() -> None:
    image = np.ones((100, 200), dtype=np.float32)
    resized, box = resize_to_input(image, Preprocessing(size=(32, 32), resize="pad"))
    assert box == (8, 0, 16, 32)
    top, left, height, width = box
    assert np.allclose(resized[top : top + height, left : left + width], 1.0)
    assert not resized[:top].any() and not resized[top + height :].any()  # padding is zero

    tall, tall_box = resize_to_input(np.ones((90, 30), np.float32), Preprocessing(size=(30, 30), resize="pad"))
    assert tall_box == (0, 10, 30, 10) and tall.shape == (30, 30)


def test_clahe_range_shape_and_local_contrast() -> None:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:128, 0:96]
    # A washed-out image: a slow gradient plus fine texture squeezed into [0.45, 0.55].
    low_contrast = (0.45 + 0.05 * (x / 96) + 0.05 * rng.random((128, 96))).astype(np.float32)
    result = clahe(low_contrast, clip_limit=2.0, tile_grid=(4, 4))
    assert result.shape == low_contrast.shape and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert _local_contrast(result) > 2.0 * _local_contrast(low_contrast)


def test_clahe_single_tile_is_monotone_and_flat_image_stays_flat() -> None:
    rng = np.random.default_rng(2)
    image = rng.random((64, 64)).astype(np.float32) ** 2
    result = clahe(image, clip_limit=3.0, tile_grid=(1, 1))
    order = np.argsort(image, axis=None, kind="stable")
    # One tile = one lookup table, which is a cumulative histogram: never decreasing.
    assert np.all(np.diff(result.ravel()[order]) >= -1e-6)

    flat = np.full((64, 64), 0.3, dtype=np.float32)
    flat_result = clahe(flat, clip_limit=2.0, tile_grid=(8, 8))
    assert np.isfinite(flat_result).all()
    assert np.ptp(flat_result) == pytest.approx(0.0, abs=1e-6)


def test_clahe_rejects_colour() -> None:
    with pytest.raises(ValueError):
        clahe(np.zeros((8, 8, 3), np.float32))


def test_prepare_channels_mean_std_and_clipping() -> None:
    image = np.linspace(-0.5, 1.5, 32 * 32, dtype=np.float32).reshape(32, 32)  # out of range on purpose
    spec = Preprocessing(size=(32, 32), channels=3, mean=0.5, std=0.25)
    prepared = prepare(image, spec)
    assert prepared.tensor.shape == (1, 32, 32, 3) and prepared.tensor.dtype == np.float32
    assert np.array_equal(prepared.tensor[..., 0], prepared.tensor[..., 2])
    expected = (np.clip(image, 0, 1) - 0.5) / 0.25
    np.testing.assert_allclose(prepared.tensor[0, :, :, 1], expected, atol=1e-6)
    assert prepared.model_image.min() >= 0.0 and prepared.model_image.max() <= 1.0
    assert prepared.content_box == (0, 0, 32, 32)


def test_prepare_equalises_only_the_content_when_padding() -> None:
    rng = np.random.default_rng(3)
    image = (0.4 + 0.1 * rng.random((40, 80))).astype(np.float32)
    spec = Preprocessing(size=(32, 32), resize="pad", clahe_clip_limit=2.0, clahe_tile_grid=(2, 2))
    prepared = prepare(image, spec)
    top, left, height, width = prepared.content_box
    assert (top, height) == (8, 16)
    assert not prepared.model_image[:top].any() and not prepared.model_image[top + height :].any()
    # Same as equalising the resized content alone: the zero padding took no part in the histograms.
    resized, _ = resize_to_input(image, spec)
    expected = clahe(resized[top : top + height], clip_limit=2.0, tile_grid=(2, 2))
    np.testing.assert_allclose(prepared.model_image[top : top + height, left : left + width], expected, atol=1e-6)
