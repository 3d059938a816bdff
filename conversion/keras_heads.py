"""Rebuild a trained Keras classifier into the graph that is exported to ONNX.

The exported graph has named outputs: ``probabilities`` (softmax of logits divided by the
fitted temperature, plus the fitted per-class offsets if any) and, when the head allows exact
class activation maps, ``feature_map`` (the last convolutional activation feeding global
average pooling).

With ``test_time_views`` (training/views.py) the graph runs the network on the image and its
re-oriented views in one batch and averages the feature maps after turning each back. Global
average pooling ignores orientation, so the logits are the mean of the views' logits, and the
class activation map of the averaged feature map is still exact for the averaged answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers

from desktop.core.model_card import Preprocessing
# Importing these modules registers RootMeanSquareMap and TextureMaps, so saved models that use them load.
from training.architectures import RootMeanSquareMap, producer
from training.texture_maps import TextureMaps
from training.views import check_views, undo_view, views_of

__all__ = ["ExportGraph", "build_export_graph"]

PROBABILITIES = "probabilities"
FEATURE_MAP = "feature_map"
_PASS_THROUGH = (layers.Dropout, layers.Activation, layers.Softmax, layers.Flatten, layers.Reshape)


@dataclass(frozen=True)
class ExportGraph:
    model: keras.Model
    output_layer_names: dict[str, str]  # role -> Keras output layer name
    heatmap: dict
    preprocessing: Preprocessing
    n_classes: int
    head: str  # human-readable description of the head, for the card
    notes: list[str] = field(default_factory=list)


def _last_dense(model: keras.Model) -> layers.Dense:
    """The dense layer whose output (maybe through an activation) is the model's output."""
    layer = producer(model.outputs[0])
    while isinstance(layer, (layers.Activation, layers.Softmax)):
        layer = producer(layer.input)
    if not isinstance(layer, layers.Dense):
        raise ValueError(f"the model must end in a Dense classifier layer, found {type(layer).__name__}")
    return layer


def _gap_feature_tensor(dense: layers.Dense):
    """The 4-D tensor pooled by global average pooling right before ``dense``, else None."""
    layer = producer(dense.input)
    while isinstance(layer, layers.Dropout):
        layer = producer(layer.input)
    if isinstance(layer, layers.GlobalAveragePooling2D):
        features = layer.input
        return features if len(features.shape) == 4 else None
    return None


_MAP_NOTES = {
    "every_stage": "feature map = every stage's output averaged down to the last stage's grid and stacked;"
    " its average is each stage's average, so the class activation map is exact for the logits",
    "root_mean_square": "feature map = squared activation divided by each channel's root mean square; its average"
    " is root-mean-square pooling, so the class activation map is exact for the logits",
    "full_and_half_size": "feature map = the map of the image read at full size stacked with the map of the image read"
    " at half size, each half-size cell repeated over the 2 x 2 full-size cells it covers; its average is both"
    " readings' pooled features, so the class activation map is exact for the logits",
    "texture": "feature map = bone texture measures written as per-pixel maps (band-pass energy, local binary"
    " patterns, grey-level co-occurrence), each averaged over 16 x 16 pixel cells; its average is the measures"
    " themselves, so the class activation map is exact for the logits",
}
_HEADS = {
    ("root_mean_square",): "root-mean-square pooling (the average of a rescaled feature map) + dense: exact class activation maps",
    ("every_stage",): "global average pooling of every stage's output + dense: exact class activation maps",
    ("every_stage", "root_mean_square"): "root-mean-square pooling of every stage's output + dense: exact class activation maps",
    ("full_and_half_size",): "pooled features of the image read at full size and at half size + dense: exact class activation maps",
    ("texture",): "bone texture measures (averages of texture maps) + dense: exact class activation maps",
}


def _feature_map_kind(features) -> tuple[str, ...]:
    """Which of the training/architectures.py feature maps feeds the pooling, innermost first."""
    kind, layer = [], producer(features) if features is not None else None
    if isinstance(layer, TextureMaps):
        return ("texture",)
    if isinstance(layer, layers.Concatenate) and any(isinstance(producer(t), layers.UpSampling2D) for t in layer.input):
        return ("full_and_half_size",)
    if isinstance(layer, RootMeanSquareMap):
        kind.append("root_mean_square")
        layer = producer(layer.input)
    if isinstance(layer, layers.Concatenate) and any(isinstance(producer(t), layers.AveragePooling2D) for t in layer.input):
        kind.append("every_stage")
    return tuple(reversed(kind))


def _preprocessing(model: keras.Model, input_range: str, clahe_clip_limit: float | None) -> Preprocessing:
    shape = model.inputs[0].shape
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(f"expected a fixed-size NHWC image input, got {tuple(shape)}")
    return Preprocessing(
        size=(int(shape[1]), int(shape[2])),
        resize="squash",
        clahe_clip_limit=clahe_clip_limit,
        mean=0.0,
        std=1.0 / 255.0 if input_range == "0-255" else 1.0,
        channels=int(shape[3]),
    )


def _view_averaged(features_model: keras.Model, views: tuple[str, ...]):
    """Features of the image and its views, averaged in the image's own orientation."""
    image = keras.Input(shape=features_model.inputs[0].shape[1:], name="input")
    check_views(views, tuple(image.shape[1:3]))
    stacked = layers.Lambda(lambda x: keras.ops.concatenate(views_of(x, views, keras.ops), axis=0), name="with_views")(image)
    features = features_model(stacked)

    def average_views(f):
        n = keras.ops.shape(f)[0] // (len(views) + 1)
        parts = [f[:n]] + [undo_view(f[(i + 1) * n : (i + 2) * n], name, keras.ops) for i, name in enumerate(views)]
        return keras.ops.mean(keras.ops.stack(parts), axis=0)

    return image, layers.Lambda(average_views, name="view_average")(features)


def build_export_graph(
    model: keras.Model, *, temperature: float = 1.0, class_bias: list[float] | None = None, test_time_views: tuple[str, ...] = (),
    input_range: str = "0-1", clahe_clip_limit: float | None = None,
) -> ExportGraph:
    """Wrap ``model`` so its outputs are calibrated probabilities (+ feature map if exact CAM)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if isinstance(model, keras.Sequential):
        # tf2onnx cannot trace Keras 3 Sequential models; the functional view has the same layers.
        model = keras.Model(model.inputs, model.outputs)
    preprocessing = _preprocessing(model, input_range, clahe_clip_limit)
    try:
        dense = _last_dense(model)
    except ValueError:
        return _opaque_graph(model, temperature, preprocessing)
    kernel, bias = (dense.get_weights() + [None])[:2]
    units = int(kernel.shape[1])
    features = _gap_feature_tensor(dense)
    inputs, notes = model.inputs, []
    map_kind = _feature_map_kind(features)
    notes.extend(_MAP_NOTES[kind] for kind in map_kind)
    pooled = dense.input
    if test_time_views:
        if features is None:
            raise ValueError("averaging over views needs a global-average-pooling head")
        image, features = _view_averaged(keras.Model(model.inputs, features), tuple(test_time_views))
        inputs = [image]
        pooled = layers.GlobalAveragePooling2D(name="gap_of_views")(features)
        notes.append(f"logits averaged over the image and its views {list(test_time_views)} inside the graph")
    # A copy of the last dense layer without its activation gives the logits exactly.
    linear = layers.Dense(units, activation=None, name="export_logits")
    logits = linear(pooled)
    linear.set_weights([kernel, bias if bias is not None else np.zeros(units, dtype=kernel.dtype)])
    if units == 1:
        # A sigmoid unit is a two-class softmax with logits (0, z).
        logits = layers.Lambda(lambda z: keras.ops.concatenate([keras.ops.zeros_like(z), z], axis=-1), name="two_class_logits")(logits)
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        notes.append("single sigmoid output exported as two classes (negative, positive)")
    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits)
    if class_bias is not None:
        if len(class_bias) != scaled.shape[-1]:
            raise ValueError(f"{len(class_bias)} class offsets for {scaled.shape[-1]} classes")
        offsets = np.asarray(class_bias, dtype="float32")
        scaled = layers.Lambda(lambda z: z + keras.ops.convert_to_tensor(offsets), name="class_bias")(scaled)
    probabilities = layers.Softmax(name=PROBABILITIES)(scaled)
    n_classes = max(2, units)
    if features is not None:
        # Models trained here already name their last activation "feature_map"; others get an
        # identity layer with that name so the ONNX output is found by name.
        named = producer(features).name == FEATURE_MAP
        feature_output = features if named else layers.Identity(name=FEATURE_MAP)(features)
        graph = keras.Model(inputs, [probabilities, feature_output], name="export")
        heatmap = {"method": "cam", "class_weights": np.asarray(kernel, dtype=float).round(7).tolist()}
        head = _HEADS.get(map_kind, "global average pooling + dense: exact class activation maps (equal to Grad-CAM)")
        names = {"probabilities": PROBABILITIES, "feature_map": FEATURE_MAP}
    else:
        graph = keras.Model(model.inputs, probabilities, name="export")
        heatmap = {"method": "occlusion", "patch": 0.125, "stride": 0.0625}
        head = "no global average pooling before the classifier: heat maps by occlusion sensitivity"
        names = {"probabilities": PROBABILITIES}
    return ExportGraph(graph, names, heatmap, preprocessing, n_classes, head, notes)


def _opaque_graph(model: keras.Model, temperature: float, preprocessing: Preprocessing) -> ExportGraph:
    """A model whose layers cannot be inspected (a SavedModel signature): export its output as is.

    Without the last dense layer there are no logits to rescale and no weights for a class
    activation map, so the card gets occlusion heat maps and no calibration.
    """
    if temperature != 1.0:
        raise ValueError("cannot apply a temperature to a model whose logits are not reachable")
    output = model.outputs[0]
    if output.shape[-1] == 1:
        output = layers.Lambda(lambda p: keras.ops.concatenate([1.0 - p, p], axis=-1), name="two_class_probabilities")(output)
    probabilities = layers.Identity(name=PROBABILITIES)(output)
    graph = keras.Model(model.inputs, probabilities, name="export")
    n_classes = max(2, int(output.shape[-1]))
    head = "opaque SavedModel signature: outputs exported as probabilities; heat maps by occlusion sensitivity"
    return ExportGraph(graph, {"probabilities": PROBABILITIES}, {"method": "occlusion", "patch": 0.125, "stride": 0.0625},
                       preprocessing, n_classes, head, ["the source exposed no layers; its output must already be probabilities"])
