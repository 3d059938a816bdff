"""Small-data models: the knee KL network's features, read by a logistic-regression head.

The fracture and knee osteoporosis sets hold a few hundred images each: too few to train a
CNN from scratch, enough to fit a linear read-out of features a network already learnt on
6,600 knee radiographs (bone edges, cortex, trabecular texture, joint space). The KL network
is fully convolutional up to its global average pooling, so it can be rebuilt at a larger
input size with the same weights: whole radiographs keep thin fracture lines visible.

The fitted head is folded into one Keras model (backbone + dense + softmax) so the exporter,
the exact class activation maps and the parity check treat it like any model trained here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

from training.architectures import FEATURE_MAP_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER, build_cam_cnn, built_widths  # noqa: E402
from training.onnx_weights import network_from_onnx  # noqa: E402
from training.tasks import IMAGE_TASKS  # noqa: E402
from training.views import VIEWS, views_of  # noqa: E402

__all__ = ["LinearHead", "backbone_at", "fit_head", "with_logistic_head"]

# Wide enough that the chosen C lies inside the grid: the fracture head on root-mean-square
# pooled features picks 1.0, which a grid ending at 0.3 could not offer.
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def backbone_at(
    kl_model_path, size: tuple[int, int], *, pooling: str = "average", scales: str = "last_stage", half_size_too: bool = False
) -> keras.Model:
    """The KL network rebuilt for ``size`` inputs, up to its pooled features.

    ``kl_model_path`` is a Keras training output or a shipped ONNX model built on the KL
    network (training/onnx_weights.py).

    ``pooling`` and ``scales`` (training/architectures.py) decide which activations are pooled
    and how; the learnt weights are the same either way. With ``half_size_too`` the network
    also reads the image at half size (see :func:`_full_and_half_size`)."""
    if Path(kl_model_path).suffix == ".onnx":
        trained = network_from_onnx(Path(kl_model_path), n_classes=len(IMAGE_TASKS["knee_kl"].labels))
    else:
        trained = keras.models.load_model(kl_model_path, compile=False)
    widths, head_width = built_widths(trained)
    if half_size_too and scales != "last_stage":
        raise ValueError("reading at two sizes needs the last stage's map alone (every stage's map has a fixed grid)")
    rebuilt = build_cam_cnn(
        input_size=(None, None) if half_size_too else size, n_classes=len(IMAGE_TASKS["knee_kl"].labels), widths=widths,
        head_width=head_width, pooling=pooling, scales=scales, name="kl_backbone",
    )
    for layer in rebuilt.layers:
        # The KL grade head is not part of the backbone (and reads fewer features with "every_stage").
        if layer.weights and layer.name != LOGITS_LAYER:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    if half_size_too:
        return _full_and_half_size(keras.Model(rebuilt.inputs, rebuilt.get_layer(FEATURE_MAP_LAYER).output, name="kl_feature_map"), size)
    return keras.Model(rebuilt.inputs, rebuilt.get_layer("gap").output, name="kl_features")


def _full_and_half_size(feature_map: keras.Model, size: tuple[int, int]) -> keras.Model:
    """Pooled features of the image read as it is and at half size, side by side.

    A fracture line a few pixels wide needs the full-size reading, while bones look about the
    size the KL network learnt knee joints at in the half-size one; a head reading both beats
    either alone. The half-size map is repeated onto the full-size grid (each cell as 2 x 2),
    which keeps its average, so the stacked map's average is both pooled readings and class
    activation maps stay exact."""
    image = keras.Input(shape=(*size, 1), name="input")
    half = keras.layers.AveragePooling2D(2, name="half_size")(image)
    coarse = keras.layers.UpSampling2D(2, interpolation="nearest", name="half_size_on_grid")(feature_map(half))
    stacked = keras.layers.Concatenate(name=FEATURE_MAP_LAYER)([coarse, feature_map(image)])
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(stacked)
    return keras.Model(image, pooled, name="kl_features")


class LinearHead:
    """Standardisation + L2 logistic regression, with C chosen by grouped inner CV."""

    def __init__(self, model: LogisticRegression, mean: np.ndarray, std: np.ndarray, c: float):
        self.model, self.mean, self.std, self.c = model, mean, std, c

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict_proba((features - self.mean) / self.std)


def fit_head(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, seed: int, inner_folds: int = 4, fixed_c: float | None = None
) -> LinearHead:
    """Pick C on held-out log-loss over groups (views of one image never straddle), then refit."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    best_c, best_loss = (fixed_c if fixed_c is not None else C_GRID[0]), np.inf
    for c in C_GRID if fixed_c is None else ():
        losses = []
        for train, held in GroupKFold(n_splits=inner_folds).split(z, y, groups):
            model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(z[train], y[train])
            p = np.clip(model.predict_proba(z[held])[np.arange(held.size), y[held]], 1e-7, 1)
            losses.append(float(-np.log(p).mean()))
        if np.mean(losses) < best_loss:
            best_c, best_loss = c, float(np.mean(losses))
    model = LogisticRegression(C=best_c, max_iter=3000, class_weight="balanced", random_state=seed).fit(z, y)
    return LinearHead(model, mean, std, best_c)


def with_logistic_head(backbone: keras.Model, head: LinearHead, *, n_classes: int, name: str) -> keras.Model:
    """Backbone + one dense layer equal to standardisation followed by the regression."""
    coef, bias = head.model.coef_, head.model.intercept_
    if coef.shape[0] != n_classes:  # binary: one logit z becomes the pair (-z/2, z/2)
        coef, bias = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-bias / 2, bias / 2])
    kernel = (coef / head.std).T  # (features, classes)
    offset = bias - (coef * (head.mean / head.std)).sum(1)
    dense = keras.layers.Dense(n_classes, name=LOGITS_LAYER)
    outputs = keras.layers.Softmax(name=PROBABILITIES_LAYER)(dense(backbone.output))
    dense.set_weights([kernel.astype(np.float32), offset.astype(np.float32)])
    return keras.Model(backbone.inputs, outputs, name=name)


def view_set(image: np.ndarray, *, rotations: bool) -> np.ndarray:
    """(N, H, W, 1) views of one model image: itself and its mirror, plus turns if allowed."""
    names = VIEWS if rotations else ("mirror",)
    return np.concatenate(views_of(image[None], names))


def features_of(backbone: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    return lambda batch: backbone.predict(batch.astype(np.float32), batch_size=16, verbose=0)
