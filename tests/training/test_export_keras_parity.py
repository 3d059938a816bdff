"""The Keras exporter on models that were not trained here, and its parity guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

import keras  # noqa: E402

from conversion import export_keras  # noqa: E402
from conversion.keras_heads import build_export_graph  # noqa: E402
from desktop.core.model_card import load_card  # noqa: E402
from desktop.inference.registry import ModelRegistry  # noqa: E402
from tests.fixtures.exact_cam import check_exact_cam_export  # noqa: E402
from training.architectures import build_cam_cnn  # noqa: E402
from training.views import VIEWS, undo_view, views_of  # noqa: E402

SIZE = 24


def _streamlit_style_model(units: int, activation: str) -> keras.Model:
    """Conv -> MaxPool -> Flatten -> Dense, as the original Streamlit projects built them."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation=activation),
        ]
    )
    return model


def _parity_images(tmp_path: Path) -> Path:
    images = np.random.default_rng(0).uniform(0, 255, size=(6, SIZE, SIZE, 3)).astype(np.float32)
    path = tmp_path / "parity.npz"
    np.savez(path, images=images)
    return path


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_plain_sequential_classifier_exports_with_occlusion_heatmap(tmp_path: Path, fmt: str) -> None:
    model = _streamlit_style_model(3, "softmax")
    if fmt == "savedmodel":
        source = tmp_path / "saved"
        model.export(str(source))
    else:
        source = tmp_path / f"legacy.{fmt}"
        model.save(source)
    out = tmp_path / "models"
    code = export_keras.main([
        "--source", str(source), "--model-id", "legacy_bone", "--out", str(out), "--labels", "a,b,c",
        "--body-part", "other_bone", "--input-range", "0-255", "--parity-images", str(_parity_images(tmp_path)),
    ])
    assert code == 0
    card = load_card(out / "legacy_bone" / "model.json")
    assert card.heatmap.method == "occlusion"
    assert card.feature_map_output is None
    assert card.preprocessing.channels == 3
    assert card.preprocessing.std == pytest.approx(1 / 255)
    assert card.raw["conversion"]["parity"]["max_abs_diff_probabilities"] <= 1e-4
    registry = ModelRegistry.discover(out)
    assert [m.card.id for m in registry.available] == ["legacy_bone"]


def test_single_sigmoid_unit_becomes_two_class_probabilities(tmp_path: Path) -> None:
    model = _streamlit_style_model(1, "sigmoid")
    images = np.random.default_rng(1).uniform(0, 255, size=(4, SIZE, SIZE, 3)).astype(np.float32)
    graph = build_export_graph(model, input_range="0-255")
    p_keras = model.predict(images, verbose=0)[:, 0]
    p_graph = graph.model.predict(images, verbose=0)
    np.testing.assert_allclose(p_graph[:, 1], p_keras, atol=1e-6)
    np.testing.assert_allclose(p_graph.sum(axis=1), 1.0, atol=1e-6)


def test_temperature_is_folded_into_the_exported_probabilities() -> None:
    model = _streamlit_style_model(3, "softmax")
    images = np.random.default_rng(2).uniform(0, 255, size=(4, SIZE, SIZE, 3)).astype(np.float32)
    plain = build_export_graph(model, temperature=1.0).model.predict(images, verbose=0)
    softened = build_export_graph(model, temperature=4.0).model.predict(images, verbose=0)
    np.testing.assert_allclose(plain, model.predict(images, verbose=0), atol=1e-6)
    assert softened.max(axis=1).mean() < plain.max(axis=1).mean()


def test_parity_check_refuses_an_onnx_file_from_another_model(tmp_path: Path) -> None:
    first = build_export_graph(_streamlit_style_model(3, "softmax"))
    keras.utils.set_random_seed(99)
    other = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    other_graph = build_export_graph(other)
    onnx_path = tmp_path / "other.onnx"
    proto = export_keras.convert(other_graph, onnx_path)
    names = export_keras.output_names(proto, other_graph)
    images = np.random.default_rng(3).uniform(0, 1, size=(4, SIZE, SIZE, 3)).astype(np.float32)
    with pytest.raises(export_keras.ExportError, match="disagree"):
        export_keras.check_parity(first, onnx_path, names, images, 1e-4)


def _gap_model() -> keras.Model:
    """A small network with the GAP + dense head the app draws exact heat maps from."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inputs)
    features = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="feature_map")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(3, activation="softmax", name="logits")(pooled)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("views", [("mirror",), VIEWS])
def test_view_averaged_graph_answers_the_mean_of_all_views_with_exact_heatmaps(tmp_path: Path, views: tuple[str, ...]) -> None:
    model = _gap_model()
    # Asymmetric images, so every view really differs.
    images = np.random.default_rng(4).uniform(0, 1, size=(5, SIZE, SIZE, 1)).astype(np.float32)
    images[:, : SIZE // 4, : SIZE // 3] *= 0.2
    offsets = [0.3, -0.1, -0.2]
    graph = build_export_graph(model, temperature=1.7, class_bias=offsets, test_time_views=views)
    probabilities, feature_map = graph.model.predict(images, verbose=0)

    kernel, dense_bias = model.get_layer("logits").get_weights()
    features_of = keras.Model(model.inputs, model.get_layer("feature_map").output)
    maps = [features_of.predict(np.ascontiguousarray(v), verbose=0) for v in views_of(images, views)]
    turned_back = [maps[0]] + [undo_view(m, name) for m, name in zip(maps[1:], views)]
    np.testing.assert_allclose(feature_map, np.mean(turned_back, axis=0), atol=1e-5)

    def logits(feature_maps: np.ndarray) -> np.ndarray:
        return feature_maps.mean(axis=(1, 2)) @ kernel + dense_bias

    mean_logits = np.mean([logits(m) for m in maps], axis=0)
    expected = np.exp(mean_logits / 1.7 + offsets)
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    # The card's CAM weights applied to the exported map give back the answer's logits.
    np.testing.assert_allclose(logits(feature_map), mean_logits, atol=1e-4)
    assert not np.allclose(probabilities, build_export_graph(model).model.predict(images, verbose=0)[0], atol=1e-3)

    onnx_path = tmp_path / "views.onnx"
    proto = export_keras.convert(graph, onnx_path)
    parity = export_keras.check_parity(graph, onnx_path, export_keras.output_names(proto, graph), images, 1e-4)
    assert parity["max_abs_diff_probabilities"] <= 1e-4


def test_class_offsets_must_match_the_number_of_classes() -> None:
    with pytest.raises(ValueError, match="class offsets"):
        build_export_graph(_gap_model(), class_bias=[0.1, -0.1])


def _pooled(activations: np.ndarray, pooling: str) -> np.ndarray:
    """What the head should read from one activation: its average or its root mean square."""
    if pooling == "average":
        return activations.mean(axis=(1, 2))
    mean_square = (activations.astype(np.float64) ** 2).mean(axis=(1, 2))
    return mean_square / np.sqrt(mean_square + 1e-6)


@pytest.mark.parametrize(
    ("pooling", "scales", "head"),
    [
        ("root_mean_square", "last_stage", "root-mean-square pooling (the average"),
        ("average", "every_stage", "global average pooling of every stage"),
        ("root_mean_square", "every_stage", "root-mean-square pooling of every stage"),
    ],
)
def test_transfer_feature_maps_keep_exact_heatmaps_through_save_views_and_onnx(tmp_path: Path, pooling: str, scales: str, head: str) -> None:
    """The fracture and knee osteoporosis heads: the exported map's average is what the head
    reads (each activation's average or root mean square), the card's CAM weights on it give
    back the logits, and it survives .keras and ONNX."""
    keras.utils.set_random_seed(6)
    network = build_cam_cnn(input_size=(32, 32), n_classes=2, widths=(4, 6, 8, 10), head_width=8, pooling=pooling, scales=scales)
    network.save(tmp_path / "net.keras")
    model = export_keras.load_keras_source(tmp_path / "net.keras")
    images = np.random.default_rng(7).uniform(0, 1, size=(4, 32, 32, 1)).astype(np.float32)
    images[:, :8, :12] *= 0.1

    read = ["stage4b_relu"] if scales == "last_stage" else ["stage1_pool", "stage2_pool", "stage4a_relu", "stage4b_relu"]
    activations = keras.Model(model.inputs, [model.get_layer(name).output for name in read]).predict(images, verbose=0)
    activations = activations if isinstance(activations, list) else [activations]
    exported_map = keras.Model(model.inputs, model.get_layer("feature_map").output).predict(images, verbose=0)
    # Earlier stages are averaged down to the last stage's 4 x 4 grid before they are pooled.
    on_grid = [a.reshape(a.shape[0], 4, a.shape[1] // 4, 4, a.shape[2] // 4, a.shape[3]).mean(axis=(2, 4)) for a in activations]
    expected = np.concatenate([_pooled(a, pooling) for a in on_grid], axis=1)
    np.testing.assert_allclose(exported_map.mean(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)

    graph = build_export_graph(model, test_time_views=("mirror",))
    assert graph.head.startswith(head)
    feature_map, parity = check_exact_cam_export(graph, images, *model.get_layer("logits").get_weights(), tmp_path / "net.onnx")
    assert feature_map.shape[1:3] == (4, 4)
    assert parity["max_abs_diff_feature_map"] <= 1e-4
