"""Heat maps without gradients: class activation maps and occlusion sensitivity.

For a global-average-pooling + dense head the logit of class k is
``mean_xy(F[x, y]) @ w_k + b_k``, so ``F[x, y] @ w_k`` splits the logit over locations exactly
and equals Grad-CAM; that is all ONNX Runtime needs. Models without such a head fall back to
occlusion, which is model-agnostic but costs one forward pass per patch position.

Every map returned to callers lies in [0, 1] and covers exactly the image's extent (padding
removed), so the viewer can stretch it over the image at any zoom.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
from PIL import Image

from desktop.inference.preprocess import PreparedInput

__all__ = ["cam_contributions", "class_activation_map", "map_to_image", "occlusion_map", "occlusion_positions"]

log = logging.getLogger(__name__)

_DEFAULT_OCCLUSION_BATCH = 32


class _Runnable(Protocol):
    def get_inputs(self) -> list: ...

    def run(self, tensor: np.ndarray, *, outputs: list[str] | None = None) -> dict[str, np.ndarray]: ...


def _normalise(values: np.ndarray) -> np.ndarray:
    """ReLU then divide by the maximum; an all-zero map when nothing is positive."""
    values = np.maximum(np.asarray(values, dtype=np.float32), 0.0)
    peak = float(values.max()) if values.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros_like(values, dtype=np.float32)
    return (values / peak).astype(np.float32)


def cam_contributions(
    feature_map: np.ndarray,
    class_weights: np.ndarray,
    *,
    class_index: int,
    binary_positive_vs: int | None = None,
) -> np.ndarray:
    """Each location's share (h, w) of the explained logit, before any reference or scaling.

    Binary models (``binary_positive_vs`` = the other class) use ``w_pos - w_neg``: the map then
    decomposes the logit difference, which is what the softmax probability depends on. Multi-
    class and ordinal models use ``w_c - mean_k w_k``, decomposing the centred logit, so
    evidence shared by all classes (e.g. "this is a knee") does not light up.
    """
    features = np.asarray(feature_map, dtype=np.float64)
    weights = np.asarray(class_weights, dtype=np.float64)
    if features.ndim != 3:
        raise ValueError(f"feature map must be (h, w, C), got shape {features.shape}")
    if weights.ndim != 2 or weights.shape[0] != features.shape[2]:
        raise ValueError(f"class weights {weights.shape} do not fit feature map channels {features.shape[2]}")
    if not 0 <= class_index < weights.shape[1]:
        raise ValueError(f"class index {class_index} outside 0..{weights.shape[1] - 1}")
    if binary_positive_vs is not None:
        direction = weights[:, class_index] - weights[:, binary_positive_vs]
    else:
        direction = weights[:, class_index] - weights.mean(axis=1)
    return features @ direction


def class_activation_map(
    feature_map: np.ndarray,
    class_weights: np.ndarray,
    *,
    class_index: int,
    binary_positive_vs: int | None = None,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """CAM of shape (h, w) in [0, 1] from a (h, w, C) feature map and (C, K) dense weights:
    :func:`cam_contributions`, positive part, scaled to its peak.

    ``reference`` (h, w), when the card has one, is those contributions averaged over
    reference films; subtracting it leaves where this film's evidence exceeds theirs, still an
    exact split (of the logit minus the reference films' mean logit).
    """
    contributions = cam_contributions(
        feature_map, class_weights, class_index=class_index, binary_positive_vs=binary_positive_vs
    )
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != contributions.shape:
            raise ValueError(f"reference map {reference.shape} does not fit feature map {contributions.shape}")
        contributions = contributions - reference
    return _normalise(contributions)


def map_to_image(
    cam: np.ndarray,
    *,
    input_size: tuple[int, int],
    content_box: tuple[int, int, int, int],
) -> np.ndarray:
    """Upsample a map to the model input size (bilinear) and crop the image content.

    ``input_size`` is (H, W) of the model input and ``content_box`` (top, left, height, width)
    where the image sits in it, so the result has the shape of the image as the model saw it.
    """
    height, width = input_size
    top, left, box_h, box_w = content_box
    source = np.ascontiguousarray(cam, dtype=np.float32)
    if source.shape != (height, width):
        # A float32 array becomes a Pillow "F" image: bilinear resampling without 8-bit rounding.
        source = np.asarray(
            Image.fromarray(source).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32
        )
    cropped = source[top : top + box_h, left : left + box_w]
    return np.clip(cropped, 0.0, 1.0).astype(np.float32)


def occlusion_positions(*, start: int, length: int, side: int, patch: int, stride: int) -> list[int]:
    """Patch offsets along one axis that cover ``[start, start + length)``, the last one flush
    with its end so the border is never left unexplained."""
    if length <= patch:
        return [max(0, min(start, side - patch))]
    last = start + length - patch
    positions = list(range(start, last + 1, stride))
    if positions[-1] != last:
        positions.append(last)
    return positions


def _batch_limit(session: _Runnable, requested: int) -> int:
    # Some exporters bake a batch of 1 into the graph; feeding more would fail.
    first = session.get_inputs()[0].shape[0]
    return first if isinstance(first, int) and first > 0 else requested


def occlusion_map(
    session: _Runnable,
    prepared: PreparedInput,
    *,
    probabilities_output: str,
    class_index: int,
    baseline: float,
    patch_fraction: float,
    stride_fraction: float,
    batch_size: int = _DEFAULT_OCCLUSION_BATCH,
) -> np.ndarray:
    """Occlusion sensitivity at model-input resolution (H, W), in [0, 1].

    Each patch (a fraction of the input side) is filled with the mean of the image content and
    the drop of the explained class's probability below ``baseline`` is spread over the patch;
    overlapping patches are averaged. Cost: one forward pass per position, i.e. about
    ``((1 - patch) / stride + 1) ** 2`` passes (225 for the card defaults 0.125 / 0.0625),
    batched ``batch_size`` at a time, or one at a time for a fixed-batch ONNX input.
    Pass the result through :func:`map_to_image` like a CAM.
    """
    tensor = prepared.tensor
    _, height, width, _ = tensor.shape
    top, left, box_h, box_w = prepared.content_box
    patch_h = max(1, round(patch_fraction * height))
    patch_w = max(1, round(patch_fraction * width))
    stride_h = max(1, round(stride_fraction * height))
    stride_w = max(1, round(stride_fraction * width))
    fill = tensor[0, top : top + box_h, left : left + box_w, :].mean(axis=(0, 1))
    windows = [
        (y, x)
        for y in occlusion_positions(start=top, length=box_h, side=height, patch=patch_h, stride=stride_h)
        for x in occlusion_positions(start=left, length=box_w, side=width, patch=patch_w, stride=stride_w)
    ]
    chunk = _batch_limit(session, batch_size)
    drops = np.empty(len(windows), dtype=np.float64)
    for begin in range(0, len(windows), chunk):
        part = windows[begin : begin + chunk]
        batch = np.repeat(tensor, len(part), axis=0)
        for i, (y, x) in enumerate(part):
            batch[i, y : y + patch_h, x : x + patch_w, :] = fill
        probs = session.run(batch, outputs=[probabilities_output])[probabilities_output]
        drops[begin : begin + len(part)] = baseline - probs.reshape(len(part), -1)[:, class_index]
    log.debug("occlusion: %d positions, batch %d", len(windows), chunk)

    total = np.zeros((height, width), dtype=np.float64)
    count = np.zeros((height, width), dtype=np.float64)
    for (y, x), drop in zip(windows, np.maximum(drops, 0.0)):
        total[y : y + patch_h, x : x + patch_w] += drop
        count[y : y + patch_h, x : x + patch_w] += 1.0
    averaged = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return _normalise(averaged)
