"""The pure numpy display mappings (no Qt needed) and the QImage conversions."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.ui.display_mapping import (
    WindowLevel,
    apply_lut,
    display_lut,
    heatmap_rgba,
    map_to_uint8,
    quantise,
    resize_bilinear,
    turbo_colours,
)


def test_default_window_is_identity_to_8_bit() -> None:
    values = np.linspace(0, 1, 11)
    assert np.abs(map_to_uint8(values).astype(int) - values * 255).max() <= 0.5 + 1e-9


def test_window_level_and_invert() -> None:
    window = WindowLevel(width=0.5, level=0.5)  # 0.25..0.75 spread over the full grey range
    out = map_to_uint8(np.array([0.0, 0.25, 0.5, 0.75, 1.0]), window)
    assert out.tolist() == [0, 0, 128, 255, 255]
    assert map_to_uint8(np.array([0.0, 1.0]), invert=True).tolist() == [255, 0]


def test_lut_matches_reference_mapping() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 30), dtype=np.float32)
    window = WindowLevel(width=0.3, level=0.6)
    via_lut = apply_lut(quantise(pixels), display_lut(window, invert=True))
    direct = map_to_uint8(pixels, window, invert=True)
    assert via_lut.dtype == np.uint8 and via_lut.flags.c_contiguous
    assert np.abs(via_lut.astype(int) - direct).max() <= 1


def test_window_is_clamped() -> None:
    assert WindowLevel(width=0.0, level=9).clamped() == WindowLevel(width=1 / 256, level=1.5)


def test_quantise_handles_nan_and_range() -> None:
    out = quantise(np.array([[np.nan, -1.0, 2.0, 0.5]], dtype=np.float32))
    assert out.tolist() == [[0, 0, 65535, 32768]]


def test_turbo_goes_blue_to_red() -> None:
    low, high = turbo_colours(np.array([0.1, 0.95]))
    assert low[2] > low[0]  # blue-ish
    assert high[0] > 0.6 and high[2] < 0.2  # red


def test_heatmap_rgba_transparent_when_low_and_upsampled() -> None:
    heat = np.zeros((7, 7), dtype=np.float32)
    heat[0, 0] = 1.0
    rgba = heatmap_rgba(heat)
    assert rgba.shape == (256, 256, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 255 and rgba[0, 0, 0] > rgba[0, 0, 2]
    assert rgba[-1, -1, 3] == 0
    with pytest.raises(ValueError):
        heatmap_rgba(np.zeros(5))


def test_resize_bilinear_preserves_constant_and_corners() -> None:
    assert np.allclose(resize_bilinear(np.full((3, 5), 0.4), 9, 10), 0.4)
    grid = np.array([[0.0, 1.0], [1.0, 2.0]], dtype=np.float32)
    big = resize_bilinear(grid, 8, 8)
    assert big[0, 0] == pytest.approx(0.0) and big[-1, -1] == pytest.approx(2.0)
    assert np.all(np.diff(big, axis=1) >= 0)


def test_qimage_round_trip(qapp) -> None:
    from desktop.ui.qimages import grey_to_qimage, qimage_to_array, rgba_to_qimage

    grey = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    image = grey_to_qimage(grey)
    del grey  # the image owns a copy of the pixels
    assert qimage_to_array(image)[..., 0].tolist() == (np.arange(12) * 20).reshape(3, 4).tolist()
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 1] = (255, 0, 0, 255)
    assert qimage_to_array(rgba_to_qimage(rgba))[0, 1].tolist() == [255, 0, 0, 255]
