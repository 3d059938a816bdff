"""The bone texture layer: its maps average to the textbook measures, and it exports exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

import keras  # noqa: E402
from scipy import ndimage  # noqa: E402

from conversion import export_keras  # noqa: E402
from conversion.keras_heads import build_export_graph  # noqa: E402
from training.architectures import LOGITS_LAYER, PROBABILITIES_LAYER  # noqa: E402
from tests.fixtures.exact_cam import check_exact_cam_export  # noqa: E402
from training.texture_maps import TEXTURE_FEATURE_NAMES, texture_features_model  # noqa: E402

SIZE = 64


def _films(count: int) -> np.ndarray:
    """Smooth shading plus grain, so every grey level, edge and band is exercised."""
    rng = np.random.default_rng(21)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    shading = 0.3 + 0.4 * rows * cols
    grain = ndimage.gaussian_filter(rng.normal(0, 0.15, size=(count, SIZE, SIZE)), (0, 1.2, 1.2))
    return np.clip(shading + grain, 0, 1).astype(np.float32)[..., None]


def _cooccurrence(image: np.ndarray, dy: int, dx: int) -> dict[str, float]:
    """Haralick's statistics of the symmetric normalised co-occurrence matrix, the book way."""
    levels = np.clip(np.floor(np.pad(image, 4, mode="symmetric") * 16), 0, 15).astype(int)
    first = levels[4 : 4 + SIZE, 4 : 4 + SIZE]
    second = levels[4 + dy : 4 + dy + SIZE, 4 + dx : 4 + dx + SIZE]
    counts = np.zeros((16, 16))
    np.add.at(counts, (first.ravel(), second.ravel()), 1)
    p = (counts + counts.T) / (2 * counts.sum())
    i, j = np.mgrid[0:16, 0:16]
    mean = (p * i).sum()
    variance = (p * (i - mean) ** 2).sum()
    return {
        "contrast": (p * (i - j) ** 2).sum(),
        "homogeneity": (p / (1 + (i - j) ** 2)).sum(),
        "energy": (p**2).sum(),
        "correlation": ((p * (i - mean) * (j - mean)).sum()) / variance,
    }


def _uniform_lbp_histogram(image: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP codes (radius 1, 8 neighbours), pixel by pixel."""
    padded = np.pad(image, 1, mode="symmetric")
    neighbours = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1)]
    histogram = np.zeros(10)
    for r in range(SIZE):
        for c in range(SIZE):
            bits = [int(padded[r + 1 + dy, c + 1 + dx] >= padded[r + 1, c + 1]) for dy, dx in neighbours]
            changes = sum(bits[k] != bits[k - 1] for k in range(8))
            histogram[sum(bits) if changes <= 2 else 9] += 1
    return histogram / histogram.sum()


def test_the_maps_average_to_the_textbook_texture_measures() -> None:
    images = _films(2)
    features = texture_features_model((SIZE, SIZE)).predict(images, verbose=0)
    assert features.shape == (2, len(TEXTURE_FEATURE_NAMES))
    index = {name: k for k, name in enumerate(TEXTURE_FEATURE_NAMES)}
    for film, image in zip(features, images[..., 0]):
        for dy, dx in ((0, 1), (2, 0), (0, 4)):
            for stat, value in _cooccurrence(image, dy, dx).items():
                assert film[index[f"glcm_{dy}_{dx}_{stat}"]] == pytest.approx(value, rel=1e-4, abs=1e-5)
        lbp = [film[index[f"lbp_r1_uniform_{code}"]] for code in range(9)] + [film[index["lbp_r1_non_uniform"]]]
        np.testing.assert_allclose(lbp, _uniform_lbp_histogram(image), atol=1e-6)
        # The finest band: the image less its sigma 0.7 blur, relative to the image's spread.
        band = (image - ndimage.gaussian_filter(image.astype(np.float64), 0.7, mode="reflect", truncate=34 / 0.7)) / image.std()
        assert film[index["band_0_rms"]] == pytest.approx(np.sqrt((band**2).mean()), rel=1e-3)
        assert film[index["band_0_mean_abs"]] == pytest.approx(np.abs(band).mean(), rel=1e-3)


@pytest.mark.parametrize("grey", [0.0, 0.5, 1.0])
def test_a_flat_crop_gets_finite_near_zero_band_and_correlation_measures(grey: float) -> None:
    """A blank or saturated crop has no spread; dividing rounding noise by it gave NaN."""
    features = texture_features_model((SIZE, SIZE)).predict(np.full((1, SIZE, SIZE, 1), grey, np.float32), verbose=0)[0]
    assert np.isfinite(features).all()
    for k, name in enumerate(TEXTURE_FEATURE_NAMES):
        if name.startswith("band_") or name.endswith("_correlation"):
            assert abs(features[k]) < 0.05, name


def test_a_texture_head_keeps_exact_heatmaps_through_save_and_onnx(tmp_path: Path) -> None:
    keras.utils.set_random_seed(4)
    features = texture_features_model((SIZE, SIZE))
    logits = keras.layers.Dense(2, name=LOGITS_LAYER)(features.output)
    model = keras.Model(features.inputs, keras.layers.Softmax(name=PROBABILITIES_LAYER)(logits))
    model.save(tmp_path / "texture.keras")
    loaded = export_keras.load_keras_source(tmp_path / "texture.keras")
    images = _films(3)

    graph = build_export_graph(loaded)
    assert graph.head.startswith("bone texture measures")
    feature_map, parity = check_exact_cam_export(graph, images, *loaded.get_layer(LOGITS_LAYER).get_weights(), tmp_path / "texture.onnx")
    assert feature_map.shape[1:3] == (SIZE // 16, SIZE // 16)
    assert parity["max_abs_diff_probabilities"] <= 1e-4
