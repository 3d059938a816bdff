"""The joint locator network and a stand-in that lets the app's detector run it in training.

The network is fully convolutional with "valid" convolutions only: on a 64 x 64 window it
returns one score, and on a larger level it returns exactly the scores of every 64 x 64
window on a 16-pixel grid (no zero padding leaks into a window's receptive field, so a
window scores the same alone or inside a film). The last layer is a 1 x 1 convolution
followed by a softmax over (background, knee_joint).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from desktop.core.model_card import ModelCard, Preprocessing
from desktop.inference.knee_joints import LocatorSettings

__all__ = ["LABELS", "PROBABILITIES_LAYER", "KerasLocator", "build_locator", "detection_section"]

LABELS = ("background", "knee_joint")
PROBABILITIES_LAYER = "probabilities"


def _conv(x, filters: int, kernel: int, *, name: str, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="valid", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.95, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_locator(widths: tuple[int, int, int, int, int] = (16, 32, 48, 64, 96), dropout: float = 0.2) -> keras.Model:
    """64 -> 31 (4x4/2) -> 29 -> 14 -> 12 -> 6 -> 4 -> 2 -> 1: total stride 16, field 62 px.

    A stride-2 first layer keeps full-resolution work small: on a large film most time is
    spent there, and the app must stay well under a third of a second per image.
    """
    inputs = keras.Input(shape=(None, None, 1), name="input")
    x = _conv(inputs, widths[0], 4, name="stem", strides=2)
    x = _conv(x, widths[1], 3, name="stage1")
    x = layers.MaxPooling2D(name="stage1_pool")(x)
    x = _conv(x, widths[2], 3, name="stage2")
    x = layers.MaxPooling2D(name="stage2_pool")(x)
    x = _conv(x, widths[3], 3, name="stage3")
    x = layers.MaxPooling2D(name="stage3_pool")(x)
    x = _conv(x, widths[4], 2, name="window")  # the remaining 2 x 2 cells: one vector per window
    x = layers.Dropout(dropout, name="window_dropout")(x)
    logits = layers.Conv2D(len(LABELS), 1, name="logits")(x)
    probabilities = layers.Softmax(name=PROBABILITIES_LAYER)(logits)
    return keras.Model(inputs, probabilities, name="knee_joint_locator")


def detection_section(settings: LocatorSettings) -> dict[str, Any]:
    """The card's ``detection`` section (everything but the threshold, which is a decision)."""
    values = asdict(settings)
    values.pop("threshold")
    return values


class _KerasSession:
    def __init__(self, model: keras.Model) -> None:
        # One graph for every level size: eager calls op by op are several times slower.
        self._score = tf.function(
            lambda batch: model(batch, training=False),
            input_signature=[tf.TensorSpec((None, None, None, 1), tf.float32)],
        )

    def run(self, tensor: np.ndarray, *, outputs: Any = None) -> dict[str, np.ndarray]:
        return {PROBABILITIES_LAYER: self._score(tf.constant(tensor, dtype=tf.float32)).numpy()}


class KerasLocator:
    """Looks like a loaded model to ``desktop.inference.knee_joints``, runs Keras instead.

    Training mines real films with the very detector the app uses, before any export.
    """

    def __init__(self, model: keras.Model, settings: LocatorSettings) -> None:
        self.session = _KerasSession(model)
        self.card = ModelCard(
            id="knee_joint_locator",
            version="training",
            name="knee joint locator (training)",
            task="binary",
            body_part="knee",
            labels=LABELS,
            input_name="input",
            input_shape=(None, None, None, 1),
            probabilities_output=PROBABILITIES_LAYER,
            sha256="0" * 64,
            threshold=settings.threshold,
            positive_label=LABELS[1],
            preprocessing=Preprocessing(
                size=(settings.window, settings.window), clahe_clip_limit=settings.clahe_clip_limit
            ),
            role="joint_locator",
            raw={"detection": detection_section(settings)},
        )
