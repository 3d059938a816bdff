"""Read a KL network's learnt weights back from an exported ONNX model.

The transfer heads (fracture, knee osteoporosis) read the features of one step of the KL
network's training. Its Keras file lives in a run folder that is not shipped, but its weights
ship inside every model built on it: the exporter folds each batch normalisation into the
convolution before it (kernel scaled, a bias added). A convolution with that kernel followed
by a batch normalisation that only adds the bias computes the same function, so the network
can be rebuilt from the ONNX file and read again: a head refitted on it sees exactly the
features the shipped model sees.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import onnx
from onnx import numpy_helper

from training.architectures import build_cam_cnn

__all__ = ["network_from_onnx"]

# tf2onnx names a folded kernel ".../<layer>_conv_1/convolution/merged_input" (or
# ".../convolution/ReadVariableOp" when the network is shared, as in the fracture model that
# reads a film at two sizes) and the folded batch-norm shift ".../<layer>_bn_1/batchnorm/sub".
_KERNEL = re.compile(r"/(stem|stage\d+[ab])_conv(?:_\d+)?/convolution/(?:merged_input|ReadVariableOp)")
_SHIFT = re.compile(r"/(stem|stage\d+[ab])_bn(?:_\d+)?/batchnorm/sub")


def _folded_layers(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    kernels, shifts = {}, {}
    for initializer in onnx.load(str(path)).graph.initializer:
        for pattern, found in ((_KERNEL, kernels), (_SHIFT, shifts)):
            match = pattern.search(initializer.name)
            if match:
                found[match.group(1)] = numpy_helper.to_array(initializer)
    if "stem" not in kernels or set(kernels) != set(shifts):
        raise ValueError(f"{path} holds no KL network with folded batch normalisation")
    return kernels, shifts


def network_from_onnx(path: Path, *, n_classes: int) -> keras.Model:
    """A :func:`build_cam_cnn` network computing the ONNX model's features (its head is new)."""
    kernels, shifts = _folded_layers(path)
    stages = sorted(int(name[len("stage"):-1]) for name in kernels if name.startswith("stage") and name.endswith("a"))
    widths = (kernels["stem"].shape[0], *(kernels[f"stage{n}a"].shape[0] for n in stages))
    head_width = kernels[f"stage{stages[-1]}b"].shape[0]
    network = build_cam_cnn(input_size=(224, 224), n_classes=n_classes, widths=widths, head_width=head_width)
    if {layer.name[: -len("_conv")] for layer in network.layers if layer.name.endswith("_conv")} != set(kernels):
        raise ValueError(f"{path}: its convolutions do not match a network of widths {widths}")
    for name, kernel in kernels.items():
        network.get_layer(f"{name}_conv").set_weights([kernel.transpose(2, 3, 1, 0)])  # OIHW -> HWIO
        batch_norm = network.get_layer(f"{name}_bn")
        ones = np.ones(kernel.shape[0], dtype=np.float32)
        # (x - 0) / sqrt((1 - eps) + eps) * 1 + shift: the batch normalisation adds the shift only.
        batch_norm.set_weights([ones, shifts[name], np.zeros_like(ones), ones - batch_norm.epsilon])
    return network
