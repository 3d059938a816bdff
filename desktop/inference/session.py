"""One ONNX Runtime session per model, checked against its card before it is used.

The card names the input and outputs; the session refuses to start when the ONNX file
disagrees, and it always fetches outputs by those names, never by position, so a re-exported
graph with reordered outputs cannot silently swap probabilities and feature maps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from desktop.core.model_card import ModelCard

__all__ = ["InferenceError", "ModelLoadError", "ModelSession", "default_thread_count"]

log = logging.getLogger(__name__)

# ONNX Runtime type strings of the inputs we know how to feed.
_INPUT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
_ORT_LOG_ERRORS_ONLY = 3


class ModelLoadError(Exception):
    """A model cannot be used; ``reason`` is one sentence a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InferenceError(RuntimeError):
    """ONNX Runtime failed while running a model that had loaded fine."""


def default_thread_count() -> int:
    """Intra-op threads: at most four, because wider pools gain little for small CNNs on a
    desktop and would starve the GUI thread."""
    return max(1, min(4, os.cpu_count() or 1))


class ModelSession:
    """A CPU-only ``onnxruntime.InferenceSession`` whose IO names match the model card."""

    def __init__(self, model_path: str | Path, card: ModelCard, *, threads: int | None = None) -> None:
        self.card = card
        self.path = Path(model_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_thread_count()
        options.inter_op_num_threads = 1
        options.log_severity_level = _ORT_LOG_ERRORS_ONLY
        try:
            # CPU only: the app must behave the same on every clinic PC, GPU or not.
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT's pybind errors share no base class narrower than Exception
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"ONNX Runtime cannot load {self.path.name} ({first_line})") from exc
        self._input = self._check_io()

    # -- construction checks ------------------------------------------------------------------
    def _check_io(self) -> ort.NodeArg:
        card = self.card
        inputs = {node.name: node for node in self._session.get_inputs()}
        if card.input_name not in inputs:
            raise ModelLoadError(
                f"the model's input is named {sorted(inputs)} but its card says {card.input_name!r}"
            )
        extra = sorted(set(inputs) - {card.input_name})
        if extra:
            raise ModelLoadError(f"the model has inputs {extra} that its card does not describe")
        node = inputs[card.input_name]
        if node.type not in _INPUT_DTYPES:
            raise ModelLoadError(f"the model's input type {node.type} is not supported")
        self._check_shape(node)

        outputs = {out.name: out for out in self._session.get_outputs()}
        missing = [name for name in card.output_names if name not in outputs]
        if missing:
            raise ModelLoadError(
                f"the model has no output named {', '.join(map(repr, missing))} "
                f"(its outputs are {sorted(outputs)}); the card and model.onnx disagree"
            )
        if card.heatmap.method == "cam":
            self._check_cam(outputs)
        return node

    def _check_shape(self, node: ort.NodeArg) -> None:
        card_shape = self.card.input_shape
        if not card_shape:
            return
        onnx_shape = list(node.shape)
        if len(onnx_shape) != len(card_shape):
            raise ModelLoadError(
                f"the model's input has {len(onnx_shape)} dimensions but its card says {len(card_shape)}"
            )
        for axis, (ours, theirs) in enumerate(zip(card_shape, onnx_shape)):
            # Symbolic or missing dimensions (None, "N") match anything.
            if isinstance(ours, int) and isinstance(theirs, int) and ours != theirs:
                raise ModelLoadError(
                    f"the model's input dimension {axis} is {theirs} but its card says {ours}"
                )

    def _check_cam(self, outputs: dict[str, ort.NodeArg]) -> None:
        card = self.card
        if not card.feature_map_output:
            raise ModelLoadError("the card asks for CAM heat maps but names no feature_map output")
        shape = outputs[card.feature_map_output].shape or [None]
        channels = shape[-1]  # NHWC, as exported from Keras; symbolic when the exporter left it open
        expected = len(card.heatmap.class_weights)
        if isinstance(channels, int) and channels != expected:
            raise ModelLoadError(
                f"the feature map has {channels} channels but the card's heat-map weights have {expected} rows"
            )
        references = card.heatmap.reference_maps
        grid = tuple(shape[1:3]) if len(shape) == 4 else ()
        # Checked only when the model states the grid (a feature map of unknown rank or size
        # says nothing to compare with), like the channels above.
        if references and len(grid) == 2 and all(isinstance(v, int) for v in grid):
            reference_grid = (len(references[0]), len(references[0][0]))
            if reference_grid != grid:
                raise ModelLoadError(
                    f"the feature map is {grid[0]} x {grid[1]} but the card's heat-map reference is "
                    f"{reference_grid[0]} x {reference_grid[1]}"
                )

    # -- use ------------------------------------------------------------------------------------
    @property
    def input_name(self) -> str:
        return self.card.input_name

    @property
    def fixed_batch_size(self) -> int | None:
        """The batch size baked into the ONNX input, or None when it is dynamic."""
        first = self._input.shape[0] if self._input.shape else None
        return first if isinstance(first, int) else None

    def get_inputs(self) -> list[ort.NodeArg]:
        """The underlying session's input descriptions (names, shapes, types)."""
        return self._session.get_inputs()

    def run(self, tensor: np.ndarray, *, outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run one batch; returns the requested outputs (default: the card's) keyed by name."""
        names = list(outputs) if outputs is not None else list(self.card.output_names)
        feed = np.ascontiguousarray(tensor, dtype=_INPUT_DTYPES[self._input.type])
        try:
            values = self._session.run(names, {self.card.input_name: feed})
        except Exception as exc:  # see __init__: ORT raises bare pybind exception types
            raise InferenceError(f"model {self.card.id!r} failed to run: {exc}") from exc
        return dict(zip(names, values))
