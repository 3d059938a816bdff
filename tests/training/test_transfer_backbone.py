"""The fracture and osteoporosis heads read a KL network of whatever width it was trained at,
from its Keras training output or from a shipped ONNX model, at one size or two."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

import keras  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from conversion import export_keras  # noqa: E402
from desktop.paths import models_dir  # noqa: E402
from conversion.keras_heads import build_export_graph  # noqa: E402
from tests.fixtures.exact_cam import check_exact_cam_export  # noqa: E402
from training.architectures import build_cam_cnn  # noqa: E402
from training.transfer_head import LinearHead, backbone_at, with_logistic_head  # noqa: E402


@pytest.mark.parametrize("widths, head_width", [((4, 4, 8, 8, 8), 8), ((6, 8, 12, 16, 20), 24)])
def test_the_backbone_is_rebuilt_at_the_trained_widths_with_the_trained_weights(tmp_path: Path, widths: tuple[int, ...], head_width: int) -> None:
    trained = build_cam_cnn(input_size=(32, 32), n_classes=5, widths=widths, head_width=head_width)
    trained.save(tmp_path / "model.keras")
    features = backbone_at(tmp_path / "model.keras", (64, 64))
    assert features.output.shape[-1] == head_width
    assert np.array_equal(features.get_layer("stem_conv").get_weights()[0], trained.get_layer("stem_conv").get_weights()[0])


def _trained_kl_like(tmp_path: Path) -> Path:
    """A small KL-style network with batch-norm statistics far from the identity."""
    keras.utils.set_random_seed(11)
    network = build_cam_cnn(input_size=(32, 32), n_classes=5, widths=(4, 6, 8, 10), head_width=8, pooling="root_mean_square")
    rng = np.random.default_rng(12)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.3, beta.shape), rng.normal(0, 0.2, mean.shape), rng.uniform(0.3, 3, variance.shape)])
    network.save(tmp_path / "kl.keras")
    return tmp_path / "kl.keras"


def test_a_kl_network_read_back_from_a_shipped_onnx_model_gives_the_same_features(tmp_path: Path) -> None:
    """The transfer heads read KL 1.1.0 from the model it ships in: the exporter folded each
    batch normalisation into its convolution, and the rebuilt network must undo nothing else."""
    source = _trained_kl_like(tmp_path)
    onnx_path = tmp_path / "shipped.onnx"
    export_keras.convert(build_export_graph(keras.models.load_model(source)), onnx_path)
    images = np.random.default_rng(13).uniform(0, 1, size=(3, 48, 48, 1)).astype(np.float32)
    from_keras = backbone_at(source, (48, 48), pooling="root_mean_square").predict(images, verbose=0)
    from_onnx = backbone_at(onnx_path, (48, 48), pooling="root_mean_square").predict(images, verbose=0)
    np.testing.assert_allclose(from_onnx, from_keras, rtol=1e-4, atol=1e-5)


def test_an_onnx_model_without_a_kl_network_is_refused(tmp_path: Path) -> None:
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    export_keras.convert(build_export_graph(plain), tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match="no KL network"):
        backbone_at(tmp_path / "plain.onnx", (32, 32))


def test_reading_at_full_and_half_size_stacks_both_pooled_readings_with_exact_heatmaps(tmp_path: Path) -> None:
    """The fracture backbone: its features are the half-size reading's then the full-size
    reading's, and the exported map (half-size cells repeated 2 x 2) averages back to them
    through views and ONNX, so the card's CAM weights give the logits. The KL network reads
    back from that ONNX file too (its shared weights are named differently): a fracture
    retrain takes KL 1.1.0 from the shipped fracture model."""
    source = _trained_kl_like(tmp_path)
    images = np.random.default_rng(14).uniform(0, 1, size=(4, 64, 64, 1)).astype(np.float32)
    both = backbone_at(source, (64, 64), pooling="root_mean_square", half_size_too=True)
    half = images.reshape(4, 32, 2, 32, 2, 1).mean(axis=(2, 4))
    expected = np.concatenate(
        [backbone_at(source, size, pooling="root_mean_square").predict(batch, verbose=0) for size, batch in (((32, 32), half), ((64, 64), images))], axis=1
    )
    features = both.predict(images, verbose=0)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)

    regression = LogisticRegression().fit(features, [0, 1, 0, 1])
    model = with_logistic_head(both, LinearHead(regression, features.mean(0), features.std(0) + 1e-6, 1.0), n_classes=2, name="two_sizes")
    model.save(tmp_path / "two_sizes.keras")
    graph = build_export_graph(export_keras.load_keras_source(tmp_path / "two_sizes.keras"), test_time_views=("mirror",))
    assert graph.head.startswith("pooled features of the image read at full size and at half size")
    onnx_path = tmp_path / "two_sizes.onnx"
    feature_map, parity = check_exact_cam_export(
        graph, images, np.asarray(graph.heatmap["class_weights"]), model.get_layer("logits").get_weights()[1], onnx_path
    )
    assert feature_map.shape[1:] == (8, 8, 16)  # 64 px over three halvings
    assert parity["max_abs_diff_feature_map"] <= 1e-4
    read_back = backbone_at(onnx_path, (64, 64), pooling="root_mean_square", half_size_too=True).predict(images, verbose=0)
    np.testing.assert_allclose(read_back, features, rtol=1e-4, atol=1e-5)


def test_a_fracture_retrain_reads_the_very_network_the_shipped_fracture_model_runs() -> None:
    """KL 1.1.0 ships inside the fracture model only: rebuilt from it, the network must give
    the shipped model's own pooled features (the mean of its exported map) on its sample."""
    import onnxruntime as ort

    from desktop.core.imaging import load_image
    from desktop.core.model_card import load_card
    from desktop.inference.preprocess import prepare
    from desktop.paths import samples_dir
    from training.views import VIEWS, views_of

    folder = models_dir() / "bone_fracture"
    card = load_card(folder / "model.json")
    tensor = prepare(load_image(samples_dir() / card.raw["sample_image"]).pixels, card.preprocessing).tensor
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    shipped = session.run([card.feature_map_output], {card.input_name: tensor})[0].mean(axis=(1, 2))
    size = card.preprocessing.size
    rebuilt = backbone_at(folder / "model.onnx", size, pooling="root_mean_square", half_size_too=True)
    views = np.concatenate(views_of(tensor, VIEWS[: 1 + len(card.raw['test_time_views'])]))
    np.testing.assert_allclose(rebuilt.predict(views, verbose=0).mean(axis=0, keepdims=True), shipped, rtol=1e-3, atol=1e-4)


def _kl_models_named_by_shipped_cards() -> list[tuple[str, str]]:
    named = []
    for card_path in sorted(models_dir().glob("*/model.json")):
        words = shlex.split(json.loads(card_path.read_text())["training"].get("command") or "")
        named += [(card_path.parent.name, words[i + 1]) for i, word in enumerate(words[:-1]) if word == "--kl-model"]
    return named


@pytest.mark.parametrize("model_id, kl_model", _kl_models_named_by_shipped_cards())
def test_the_kl_network_a_shipped_card_says_it_was_trained_from_is_in_the_repository(model_id: str, kl_model: str) -> None:
    """A card's command must retrain its model on a fresh checkout: the KL network it names has
    to be there (once a card named a model that no longer held it)."""
    path = models_dir().parent / kl_model
    assert path.suffix == ".onnx" and path.is_file(), f"{model_id}: {kl_model} is not a shipped model"
    assert backbone_at(path, (64, 64)).output.shape[-1] > 0
