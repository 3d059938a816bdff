"""Small CPU-friendly CNNs whose heads make heat maps exact.

Every network ends in: last convolution (layer ``feature_map``) -> global average pooling ->
one dense layer (``logits``) -> softmax (``probabilities``). With that head the class
activation map computed from ``feature_map`` and the ``logits`` weights equals Grad-CAM, so
the app can draw heat maps with ONNX Runtime alone. Layers are looked up by these names,
never by auto-generated ones.

With ``pooling="root_mean_square"`` the last activation is first turned into a
:class:`RootMeanSquareMap` (named ``feature_map``): its global average is each channel's
root mean square, a pooling that lets a few strongly responding places (a thin fracture line
on a whole radiograph) count for more than an average does, while the head stays
"global average pooling + dense" and the class activation maps stay exact.
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["FEATURE_MAP_LAYER", "FEATURE_SCALES", "LOGITS_LAYER", "POOLINGS", "PROBABILITIES_LAYER", "RootMeanSquareMap", "build_cam_cnn", "built_widths", "producer"]

FEATURE_MAP_LAYER = "feature_map"
LOGITS_LAYER = "logits"
PROBABILITIES_LAYER = "probabilities"
POOLINGS = ("average", "root_mean_square")
# "every_stage": the head reads each stage's output (averaged down to the last stage's grid)
# beside the last activation: fine texture, such as trabecular bone, lives in early stages.
FEATURE_SCALES = ("last_stage", "every_stage")


@keras.saving.register_keras_serializable(package="xraydesk")
class RootMeanSquareMap(layers.Layer):
    """``f**2 / sqrt(mean(f**2) + eps)`` per image and channel, over the spatial positions.

    The spatial mean of this map is ``m / sqrt(m + eps)`` with ``m = mean(f**2)``: the
    channel's root mean square (generalised-mean pooling with p = 2) up to ``eps``. A dense
    layer on that mean is the spatial mean of the dense layer applied at every position, so
    the class activation map of this map still adds up to the logit exactly.
    """

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, features):
        squared = keras.ops.square(features)
        mean_square = keras.ops.mean(squared, axis=(1, 2), keepdims=True)
        return squared / keras.ops.sqrt(mean_square + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _conv_bn_relu(x, filters: int, *, name: str, strides: int = 1, activation_name: str | None = None, bn_momentum: float = 0.99):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=activation_name or f"{name}_relu")(x)


def _every_stage(stage_outputs: list, last_a, last_b, *, name: str):
    """Each stage's output averaged down to the last stage's grid, stacked with the last
    stage's two activations. The global average of an evenly averaged-down map is the global
    average of the map itself, so a dense layer on the pooled stack still has exact CAMs."""
    grid = last_b.shape[1]
    resized = [
        layers.AveragePooling2D(output.shape[1] // grid, name=f"{producer(output).name}_to_grid")(output)
        if output.shape[1] != grid else output
        for output in stage_outputs
    ]
    return layers.Concatenate(name=name)([*resized, last_a, last_b])


def built_widths(network: keras.Model) -> tuple[tuple[int, ...], int]:
    """The ``widths`` and ``head_width`` a :func:`build_cam_cnn` network was built with, read
    from its layer names (a run may be wider than its task's default: ``--widths``)."""
    stages = sorted(int(layer.name[len("stage") : -len("a_conv")]) for layer in network.layers if layer.name.startswith("stage") and layer.name.endswith("a_conv"))
    widths = (network.get_layer("stem_conv").filters, *(network.get_layer(f"stage{n}a_conv").filters for n in stages))
    return widths, network.get_layer(f"stage{stages[-1]}b_conv").filters


def producer(tensor) -> keras.layers.Layer:
    """The layer that made ``tensor`` (Keras 3 records it on every symbolic tensor)."""
    return tensor._keras_history.operation


def build_cam_cnn(
    *,
    input_size: tuple[int, int],
    n_classes: int,
    widths: tuple[int, ...] = (24, 32, 64, 128, 192),
    head_width: int = 256,
    dropout: float = 0.3,
    bn_momentum: float = 0.99,
    pooling: str = "average",
    scales: str = "last_stage",
    name: str = "cam_cnn",
) -> keras.Model:
    """A VGG-style network sized for a 2-core CPU.

    A stride-2 stem halves the resolution before any wide layer, because early full-resolution
    convolutions dominate CPU time; each later stage doubles the width after a max-pool. The
    last stage keeps a 1/16 resolution feature map (14x14 at 224 px) so heat maps stay useful.
    """
    if pooling not in POOLINGS or scales not in FEATURE_SCALES:
        raise ValueError(f"pooling must be one of {POOLINGS} and scales one of {FEATURE_SCALES}")
    inputs = keras.Input(shape=(*input_size, 1), name="input")
    x = _conv_bn_relu(inputs, widths[0], name="stem", strides=2, bn_momentum=bn_momentum)
    x = _conv_bn_relu(x, widths[1], name="stage1a", bn_momentum=bn_momentum)
    x = layers.MaxPooling2D(name="stage1_pool")(x)
    stage_outputs = [x]
    for stage, width in enumerate(widths[2:-1], start=2):
        x = _conv_bn_relu(x, width, name=f"stage{stage}a", bn_momentum=bn_momentum)
        x = _conv_bn_relu(x, width, name=f"stage{stage}b", bn_momentum=bn_momentum)
        x = layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
        stage_outputs.append(x)
    last = len(widths)
    x = _conv_bn_relu(x, widths[-1], name=f"stage{last}a", bn_momentum=bn_momentum)
    plain = pooling == "average" and scales == "last_stage"
    features = _conv_bn_relu(x, head_width, name=f"stage{last}b", activation_name=FEATURE_MAP_LAYER if plain else None, bn_momentum=bn_momentum)
    if scales == "every_stage":
        features = _every_stage(stage_outputs, x, features, name=FEATURE_MAP_LAYER if pooling == "average" else "every_stage")
    if pooling == "root_mean_square":
        features = RootMeanSquareMap(name=FEATURE_MAP_LAYER)(features)
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    pooled = layers.Dropout(dropout, name="head_dropout")(pooled)
    logits = layers.Dense(n_classes, name=LOGITS_LAYER)(pooled)
    probabilities = layers.Softmax(name=PROBABILITIES_LAYER)(logits)
    return keras.Model(inputs, probabilities, name=name)
