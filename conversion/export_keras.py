"""Export a Keras image classifier to ONNX with its model card, and prove they agree.

    python -m conversion.export_keras --source runs/pneumonia/model.keras --model-id pneumonia
    python -m conversion.export_keras --source legacy.h5 --model-id legacy_chest \\
        --labels NORMAL,PNEUMONIA --body-part chest --parity-dir some/xrays

Accepts ``.keras``, ``.h5`` and SavedModel folders. A network whose head is global average
pooling + one dense layer exports two outputs (probabilities and the last convolutional
feature map) and a card with the dense weights, so the app draws exact class activation maps.
Any other head (for example Conv -> MaxPool -> Flatten -> Dense) exports probabilities only
and its card asks the app for an occlusion-sensitivity map. The training report's
temperature (and class offsets, and averaging over re-oriented views, when the run used them) are folded
into the graph, so the ONNX probabilities are the calibrated ones.
Nothing is written unless TensorFlow and ONNX Runtime agree within ``--tolerance``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from conversion.common import install_model, run_export  # noqa: E402
from conversion.cards import build_image_card, file_sha256  # noqa: E402
from conversion.keras_heads import ExportGraph, build_export_graph  # noqa: E402

log = logging.getLogger("conversion.keras")
OPSET = 17  # tf2onnx 1.17 supports up to 18; 17 runs on every onnxruntime >= 1.14
REPO_ROOT = Path(__file__).resolve().parent.parent
PROBABILITY_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """The export cannot be trusted (conversion failed or outputs disagree)."""


def load_keras_source(source: Path) -> keras.Model:
    """Load a ``.keras``/``.h5`` file or a SavedModel directory as a Keras model."""
    if source.is_dir():
        # A SavedModel has no Keras layers to inspect; wrap its serving function.
        layer = keras.layers.TFSMLayer(str(source), call_endpoint="serving_default")
        signature = tf.saved_model.load(str(source)).signatures["serving_default"]
        spec = next(iter(signature.structured_input_signature[1].values()))
        inputs = keras.Input(shape=tuple(spec.shape[1:]), name="input")
        outputs = layer(inputs)
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        return keras.Model(inputs, outputs)
    return keras.saving.load_model(source, compile=False, safe_mode=True)


def convert(graph: ExportGraph, onnx_path: Path) -> onnx.ModelProto:
    shape = (None, *graph.model.inputs[0].shape[1:])
    signature = (tf.TensorSpec(shape, tf.float32, name="input"),)
    model_proto, _ = tf2onnx.convert.from_keras(graph.model, input_signature=signature, opset=OPSET)
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, onnx_path)
    return model_proto


def output_names(model_proto: onnx.ModelProto, graph: ExportGraph) -> dict[str, str]:
    """Map the graph's outputs to their ONNX names by the Keras layer names we gave them."""
    names = [out.name for out in model_proto.graph.output]
    mapping = {}
    for role, layer_name in graph.output_layer_names.items():
        matches = [n for n in names if n == layer_name or n.startswith(layer_name)]
        if len(matches) != 1:
            raise ExportError(f"cannot find the {role!r} output among ONNX outputs {names}")
        mapping[role] = matches[0]
    return mapping


def check_parity(graph: ExportGraph, onnx_path: Path, names: dict[str, str], images: np.ndarray, tolerance: float) -> dict[str, float]:
    """Run TensorFlow and ONNX Runtime on the same real images; raise above the tolerance."""
    expected = graph.model.predict(images, batch_size=16, verbose=0)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    sums = np.asarray(expected[0]).sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        raise ExportError("the model's first output is not a probability distribution (rows do not sum to 1)")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([names[role] for role in graph.output_layer_names], {session.get_inputs()[0].name: images})
    report = {}
    for (role, _), tf_out, ort_out in zip(graph.output_layer_names.items(), expected, got):
        diff = float(np.max(np.abs(np.asarray(tf_out) - ort_out)))
        scale = float(np.max(np.abs(tf_out))) or 1.0
        report[f"max_abs_diff_{role}"] = diff
        # Feature maps are unbounded activations: compare them relative to their scale.
        limit = tolerance if role == "probabilities" else tolerance * max(1.0, scale)
        if diff > limit:
            raise ExportError(f"TensorFlow and ONNX Runtime disagree on {role}: max |diff| {diff:.2e} > {limit:.2e}")
    report["n_images"] = int(images.shape[0])
    return report


def parity_batch(args: argparse.Namespace, graph: ExportGraph, run_dir: Path | None) -> np.ndarray:
    """Real images for the parity check: the training run's saved test batch, or a folder."""
    if args.parity_images:
        with np.load(args.parity_images) as stored:
            return stored["images"].astype(np.float32)
    if run_dir and (run_dir / "parity_images.npz").exists():
        with np.load(run_dir / "parity_images.npz") as stored:
            return stored["images"].astype(np.float32)
    if args.parity_dir:
        from desktop.inference.preprocess import prepare
        from training.datasets import decode_grayscale

        files = sorted(p for p in Path(args.parity_dir).rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"})[:32]
        if not files:
            raise ExportError(f"no images in {args.parity_dir}")
        return np.concatenate([prepare(decode_grayscale(p), graph.preprocessing).tensor for p in files])
    raise ExportError("parity needs real images: give --parity-images or --parity-dir")


def export(args: argparse.Namespace) -> Path:
    source = Path(args.source)
    run_dir = source.parent if source.is_file() else None
    report_path = Path(args.report) if args.report else (run_dir / "training_report.json" if run_dir else None)
    report = json.loads(report_path.read_text()) if report_path and report_path.exists() else {}
    cv_path = Path(args.cv_report) if args.cv_report else (run_dir.parent / f"{args.model_id}_cv" / "cv_report.json" if run_dir else None)
    if cv_path and cv_path.exists():
        report["cross_validation"] = json.loads(cv_path.read_text())
    model = load_keras_source(source)
    graph = build_export_graph(
        model,
        temperature=float(report.get("temperature", 1.0)),
        class_bias=report.get("class_bias"),
        test_time_views=tuple(report.get("test_time_views", ())),
        input_range=args.input_range,
        clahe_clip_limit=args.clahe,
    )
    target = Path(args.out) / args.model_id
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        model_proto = convert(graph, onnx_path)
        names = output_names(model_proto, graph)
        images = parity_batch(args, graph, run_dir)
        parity = check_parity(graph, onnx_path, names, images, args.tolerance)
        log.info("parity on %d real images: %s", images.shape[0], parity)
        card = build_image_card(
            args=args,
            graph=graph,
            output_names=names,
            input_name=model_proto.graph.input[0].name,
            report=report,
            parity=parity,
            sha256=file_sha256(onnx_path),
            size_bytes=onnx_path.stat().st_size,
        )
        stamp_metadata(onnx_path, card)
        card["sha256"] = file_sha256(onnx_path)
        card["size_bytes"] = onnx_path.stat().st_size
        return install_model(onnx_path, card, target)


def stamp_metadata(onnx_path: Path, card: dict) -> None:
    """Copy the card's key facts into the ONNX file, so a stray model.onnx still says what it is."""
    proto = onnx.load(onnx_path)
    keys = {"id": card["id"], "version": card["version"], "labels": json.dumps(card["labels"]), "body_part": card["body_part"],
            "task": card["task"], "preprocessing": json.dumps(card["preprocessing"]), "outputs": json.dumps(card["outputs"])}
    del proto.metadata_props[:]
    for key, value in keys.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"xraydesk.{key}", str(value)
    proto.producer_name = "xraydesk-conversion"
    onnx.save(proto, onnx_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help=".keras, .h5 or SavedModel folder")
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--out", default=str(REPO_ROOT / "models"))
    parser.add_argument("--report", help="training_report.json (default: beside the source)")
    parser.add_argument("--cv-report", help="cross_validate.py output (default: runs/<model-id>_cv/cv_report.json if present)")
    parser.add_argument("--template", help="card prose (default conversion/cards/<model-id>.json if present)")
    parser.add_argument("--labels", help="comma-separated class names, for models not trained here")
    parser.add_argument("--body-part", choices=["knee", "chest", "other_bone"])
    parser.add_argument("--task-type", choices=["binary", "multiclass", "ordinal"])
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--input-range", choices=["0-1", "0-255"], default="0-1", help="pixel range the model was trained on")
    parser.add_argument("--clahe", type=float, default=None, help="CLAHE clip limit the model expects (models trained here: from the task)")
    parser.add_argument("--parity-images", help="npz with an 'images' batch already preprocessed")
    parser.add_argument("--parity-dir", help="folder of real images to preprocess for the parity check")
    parser.add_argument("--tolerance", type=float, default=PROBABILITY_TOLERANCE)
    return run_export(export, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
