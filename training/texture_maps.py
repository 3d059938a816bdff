"""Bone texture features as maps whose spatial average is the feature: exact heat maps.

Osteoporosis thins and coarsens trabecular bone; classical radiograph texture measures
(band-pass energy, local binary patterns, grey-level co-occurrence statistics) describe that
directly, where the knee KL network's features were learnt for joint-space narrowing and
osteophytes. On the knee osteoporosis films they separate normal from osteoporosis better
(see the card's comparison), so the model reads them instead.

Every feature is written as a per-pixel map whose average over the image is the feature
itself (a co-occurrence energy, for example, becomes "how common this pixel's grey-level pair
is"). A dense head on the global average of these maps is then the average of the dense head
applied at every pixel, so the class activation map adds up to the logit exactly, as for the
CNNs trained here. The maps are averaged down to a coarse grid first, which keeps the mean.

The layer has no weights: the same code computes the training features and, exported with
tf2onnx, the app's.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from training.architectures import FEATURE_MAP_LAYER

__all__ = ["TEXTURE_FEATURE_NAMES", "TextureMaps"]

# Band-pass scales: Gaussian blurs whose differences isolate detail of ~1 to ~20 pixels at the
# 224 px joint crop (trabecular spacing on these downsized films).
_SIGMAS = (0.7, 1.4, 2.8, 5.6, 11.2)
_BLUR_RADIUS = 34  # 3 sigma of the widest blur
_LBP_RADII = (1, 2, 3)
_LBP_POINTS = 8
_GREY_LEVELS = 16
_COOCCURRENCE_STEPS = tuple((0, d) for d in (1, 2, 4)) + tuple((d, 0) for d in (1, 2, 4))
_EPSILON = 1e-6
# A flat crop (a blank or saturated region) has no spread: its measures must stay finite and
# near zero instead of dividing float rounding noise by almost nothing. Real CLAHE crops have
# a grey-level spread near 0.2 and a co-occurrence variance of several squared levels, so
# these floors never touch them.
_MIN_SPREAD = 1e-3
_MIN_LEVEL_VARIANCE = 1e-2


def _feature_names() -> tuple[str, ...]:
    bands = [f"band_{i}" for i in range(len(_SIGMAS))]
    names = [f"{b}_mean_abs" for b in bands] + [f"{b}_rms" for b in bands]
    names += [f"lbp_r{r}_{'non_uniform' if code == _LBP_POINTS + 1 else f'uniform_{code}'}" for r in _LBP_RADII for code in range(_LBP_POINTS + 2)]
    names += [f"glcm_{dy}_{dx}_{stat}" for dy, dx in _COOCCURRENCE_STEPS for stat in ("contrast", "homogeneity", "energy", "correlation")]
    return tuple(names)


TEXTURE_FEATURE_NAMES = _feature_names()


def _gaussian_kernels() -> np.ndarray:
    """(2R+1, len(_SIGMAS)) normalised 1-D Gaussians, all of one length so they stack."""
    offsets = np.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=np.float64)
    kernels = np.stack([np.exp(-0.5 * (offsets / s) ** 2) for s in _SIGMAS], axis=1)
    return (kernels / kernels.sum(0)).astype(np.float32)


@keras.saving.register_keras_serializable(package="xraydesk")
class TextureMaps(keras.layers.Layer):
    """(B, H, W, 1) image in [0, 1] -> (B, H / cell, W / cell, len(TEXTURE_FEATURE_NAMES)) maps."""

    def __init__(self, cell: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, image):
        rows, cols = image.shape[1], image.shape[2]
        pad = _BLUR_RADIUS
        # Mirrored borders: zero padding would add a false edge all round every crop.
        padded = ops.pad(image[..., 0], ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")

        def shifted(tensor, dy: int, dx: int):
            return tensor[:, pad + dy : pad + dy + rows, pad + dx : pad + dx + cols]

        centre = shifted(padded, 0, 0)
        maps = self._band_maps(padded[..., None], ops.std(centre, axis=(1, 2), keepdims=True)[..., None]) + self._lbp_maps(centre, lambda dy, dx: shifted(padded, dy, dx))
        levels = ops.clip(ops.floor(padded * _GREY_LEVELS), 0, _GREY_LEVELS - 1)
        for dy, dx in _COOCCURRENCE_STEPS:
            maps += self._cooccurrence_maps(shifted(levels, 0, 0), shifted(levels, dy, dx))
        stacked = ops.stack(maps, axis=-1)
        return ops.average_pool(stacked, pool_size=self.cell, strides=self.cell, padding="valid")

    @staticmethod
    def _band_maps(padded, spread):
        """Band-pass energy per scale, relative to the crop's grey-level spread (exposure and
        contrast vary between films; texture should not)."""
        kernels = ops.convert_to_tensor(_gaussian_kernels())
        size = kernels.shape[0]
        # Separable blur: a column pass into one channel per scale, then a per-channel row pass.
        columns = ops.conv(padded, ops.reshape(kernels, (size, 1, 1, len(_SIGMAS))), padding="valid")
        blurred = ops.depthwise_conv(columns, ops.reshape(kernels, (1, size, len(_SIGMAS), 1)), padding="valid")
        sharp = padded[:, _BLUR_RADIUS:-_BLUR_RADIUS, _BLUR_RADIUS:-_BLUR_RADIUS, :]
        finer = ops.concatenate([sharp, blurred[..., :-1]], axis=-1)
        bands = (finer - blurred) / ops.maximum(spread, _MIN_SPREAD)
        squared = ops.square(bands)
        # band^2 / RMS(band): its average is the band's root mean square.
        rms_maps = squared / ops.sqrt(ops.mean(squared, axis=(1, 2), keepdims=True) + _EPSILON)
        return [ops.abs(bands[..., i]) for i in range(len(_SIGMAS))] + [rms_maps[..., i] for i in range(len(_SIGMAS))]

    @staticmethod
    def _lbp_maps(centre, neighbour):
        """Rotation-invariant uniform local binary patterns: one indicator map per code."""
        maps = []
        for radius in _LBP_RADII:
            bits = []
            for k in range(_LBP_POINTS):
                angle = 2 * np.pi * k / _LBP_POINTS
                dy, dx = int(round(-radius * np.sin(angle))), int(round(radius * np.cos(angle)))
                bits.append(ops.cast(neighbour(dy, dx) >= centre, "float32"))
            ones = ops.sum(ops.stack(bits, axis=-1), axis=-1)
            transitions = sum(ops.abs(bits[k] - bits[k - 1]) for k in range(_LBP_POINTS))
            code = ops.where(transitions <= 2, ones, float(_LBP_POINTS + 1))
            maps += [ops.cast(ops.equal(code, float(c)), "float32") for c in range(_LBP_POINTS + 2)]
        return maps

    @staticmethod
    def _cooccurrence_maps(first, second):
        """Symmetric grey-level co-occurrence statistics for one pixel step, as maps."""
        batch = ops.shape(first)[0]
        grey = ops.arange(_GREY_LEVELS, dtype="float32")
        one_hot_first = ops.reshape(ops.cast(ops.equal(first[..., None], grey), "float32"), (batch, -1, _GREY_LEVELS))
        one_hot_second = ops.reshape(ops.cast(ops.equal(second[..., None], grey), "float32"), (batch, -1, _GREY_LEVELS))
        pairs = ops.matmul(ops.transpose(one_hot_first, (0, 2, 1)), one_hot_second)
        pairs = pairs / ops.sum(pairs, axis=(1, 2), keepdims=True)
        symmetric = (pairs + ops.transpose(pairs, (0, 2, 1))) / 2
        # Energy = sum P^2 = the average over pixels of P at each pixel's own grey-level pair.
        energy = ops.reshape(ops.sum(ops.matmul(one_hot_first, symmetric) * one_hot_second, axis=-1), ops.shape(first))
        difference = ops.square(first - second)
        mean = ops.mean(first + second, axis=(1, 2), keepdims=True) / 2
        variance = ops.mean(ops.square(first) + ops.square(second), axis=(1, 2), keepdims=True) / 2 - ops.square(mean)
        correlation = (first * second - ops.square(mean)) / ops.maximum(variance, _MIN_LEVEL_VARIANCE)
        return [difference, 1.0 / (1.0 + difference), energy, correlation]

    def compute_output_shape(self, input_shape):
        batch, rows, cols = input_shape[0], input_shape[1], input_shape[2]
        return (batch, rows // self.cell, cols // self.cell, len(TEXTURE_FEATURE_NAMES))

    def get_config(self):
        return {**super().get_config(), "cell": self.cell}


def texture_features_model(size: tuple[int, int], *, cell: int = 16) -> keras.Model:
    """Image -> the texture maps (named as the exporter expects) -> their averages."""
    image = keras.Input(shape=(*size, 1), name="input")
    maps = TextureMaps(cell=cell, name=FEATURE_MAP_LAYER)(image)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(maps)
    return keras.Model(image, pooled, name="texture_features")
