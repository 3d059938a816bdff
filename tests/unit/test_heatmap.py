"""Heat maps: CAM arithmetic, where maps peak, occlusion, and mapping back onto the image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop.inference.heatmap import class_activation_map, map_to_image, occlusion_map, occlusion_positions
from desktop.inference.predictor import predict_image
from desktop.inference.preprocess import prepare
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.tiny_models import blob_image, make_tiny_model_dir


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LoadedModel]:
    root = tmp_path_factory.mktemp("models")
    make_tiny_model_dir(root, model_id="cam")
    make_tiny_model_dir(root, model_id="occ", heatmap="occlusion")
    make_tiny_model_dir(root, model_id="occ_fixed", heatmap="occlusion", fixed_batch=True)
    make_tiny_model_dir(root, model_id="knee", body_part="knee", labels=("KL0", "KL1", "KL2", "KL3", "KL4"), task="ordinal")
    registry = ModelRegistry.discover(root)
    assert not registry.unavailable
    return {m.id: m for m in registry.available}


def _peak(heatmap: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(heatmap), heatmap.shape))


def test_cam_matches_manual_numpy() -> None:
    rng = np.random.default_rng(3)
    features = rng.random((5, 6, 4))
    weights = rng.standard_normal((4, 3))
    expected = np.maximum(features @ (weights[:, 2] - weights.mean(axis=1)), 0)
    expected /= expected.max()
    np.testing.assert_allclose(class_activation_map(features, weights, class_index=2), expected, rtol=1e-5, atol=1e-6)

    binary = weights[:, :2]
    expected_binary = np.maximum(features @ (binary[:, 1] - binary[:, 0]), 0)
    expected_binary /= expected_binary.max()
    result = class_activation_map(features, binary, class_index=1, binary_positive_vs=0)
    np.testing.assert_allclose(result, expected_binary, rtol=1e-5, atol=1e-6)
    assert result.shape == (5, 6) and result.dtype == np.float32


def test_cam_without_positive_evidence_is_all_zero() -> None:
    features = np.ones((3, 3, 2))
    weights = np.array([[1.0, 0.0], [1.0, 0.0]])  # every location argues for class 0
    assert not class_activation_map(features, weights, class_index=1, binary_positive_vs=0).any()
    with pytest.raises(ValueError):
        class_activation_map(np.ones((3, 3, 5)), weights, class_index=0)


def test_binary_cam_decomposes_the_logit_difference(models: dict[str, LoadedModel]) -> None:
    """Mean over locations of F @ (w_pos - w_neg) must equal log(p_pos / p_neg) (zero bias)."""
    model = models["cam"]
    outputs = model.session.run(prepare(blob_image(), model.card.preprocessing).tensor)
    features = outputs["feature_map"][0].astype(np.float64)
    weights = np.asarray(model.card.heatmap.class_weights)
    p_neg, p_pos = outputs["probabilities"][0]
    raw = features @ (weights[:, 1] - weights[:, 0])
    assert raw.mean() == pytest.approx(np.log(p_pos / p_neg), rel=1e-4)


@pytest.mark.parametrize(("top", "left"), [(4, 4), (40, 40)])
def test_cam_peaks_where_the_bright_blob_is(models: dict[str, LoadedModel], top: int, left: int) -> None:
    prediction = predict_image(models["cam"], blob_image(64, top=top, left=left))
    assert prediction.heatmap_label == "PNEUMONIA"
    y, x = _peak(prediction.heatmap)
    scale = 64 / prediction.heatmap.shape[0]
    assert top <= y * scale <= top + 20 and left <= x * scale <= left + 20


def test_multiclass_cam_peaks_on_blob(models: dict[str, LoadedModel]) -> None:
    prediction = predict_image(models["knee"], blob_image(64, top=40, left=6))
    assert prediction.heatmap_label == prediction.label
    y, x = _peak(prediction.heatmap)
    assert y >= prediction.heatmap.shape[0] // 2 and x < prediction.heatmap.shape[1] // 2


def test_occlusion_map_peaks_on_blob_and_batches_like_single_runs(models: dict[str, LoadedModel]) -> None:
    image = blob_image(64, top=36, left=36)
    prediction = predict_image(models["occ"], image)
    assert prediction.heatmap_method == "occlusion"
    heat = prediction.heatmap
    assert heat.shape == (32, 32) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    y, x = _peak(heat)
    assert y >= 16 and x >= 16
    # The fixed-batch copy of the same graph runs one occluded image at a time: same map.
    fixed = predict_image(models["occ_fixed"], image)
    np.testing.assert_allclose(fixed.heatmap, heat, atol=1e-5)


def test_occlusion_map_direct_call_counts_drops(models: dict[str, LoadedModel]) -> None:
    model = models["occ"]
    prepared = prepare(np.zeros((32, 32), np.float32), model.card.preprocessing)
    baseline = float(model.session.run(prepared.tensor)["probabilities"][0, 1])
    # Occluding a uniform image with its own mean changes nothing: no evidence anywhere.
    result = occlusion_map(model.session, prepared, probabilities_output="probabilities", class_index=1,
                           baseline=baseline, patch_fraction=0.25, stride_fraction=0.125)
    assert result.shape == (32, 32) and not result.any()


def test_occlusion_positions_cover_the_content_edges() -> None:
    assert occlusion_positions(start=0, length=32, side=32, patch=8, stride=4) == [0, 4, 8, 12, 16, 20, 24]
    assert occlusion_positions(start=8, length=16, side=32, patch=8, stride=5) == [8, 13, 16]  # last flush with the content end
    assert occlusion_positions(start=10, length=4, side=32, patch=8, stride=4) == [10]  # content narrower than the patch


def test_map_to_image_drops_padding_and_returns_image_extent() -> None:
    cam = np.zeros((4, 4), dtype=np.float32)
    cam[1:3, :] = 1.0  # only the middle rows (the image) carry evidence; rows 0 and 3 are padding
    result = map_to_image(cam, input_size=(32, 32), content_box=(8, 0, 16, 32))
    assert result.shape == (16, 32)
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert result.mean() > map_to_image(cam, input_size=(32, 32), content_box=(0, 0, 32, 32)).mean()

    full = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    np.testing.assert_array_equal(map_to_image(full, input_size=(32, 32), content_box=(4, 2, 20, 30)), full[4:24, 2:32])


def test_padded_model_heatmap_has_the_image_aspect(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="padded")
    card = json.loads((folder / "model.json").read_text())
    card["preprocessing"]["resize"] = "pad"
    (folder / "model.json").write_text(json.dumps(card))
    model = ModelRegistry.discover(tmp_path).get("padded")
    wide = np.zeros((40, 80), np.float32)
    wide[5:20, 50:70] = 1.0
    prediction = predict_image(model, wide)
    assert prediction.heatmap.shape == (16, 32)
    y, x = _peak(prediction.heatmap)
    assert x >= 16  # blob is in the right half of the image
