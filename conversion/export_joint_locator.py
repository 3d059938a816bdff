"""Export the knee joint locator to ONNX with dynamic height and width, and prove parity.

    python -m conversion.export_joint_locator [--source runs/knee_joint_locator/model.keras]

The network is fully convolutional, so the ONNX input is [batch, height, width, 1] with
every dimension but the channel left open: one run scores every window of a pyramid level.
Parity is checked on the run's saved real windows (64 x 64) and on whole pyramid levels of
real knee films (several sizes), and nothing is installed above ``--tolerance``.

The card's decision threshold and metrics come from
``runs/knee_joint_locator/evaluation.json`` (``python -m training.knee_joint_evaluation``,
which needs an installed model): export, evaluate, then export again to fill them in. The
conversion is deterministic, so the second export installs the same model.onnx.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from conversion.cards import file_sha256, load_template  # noqa: E402
from conversion.common import install_model, run_export  # noqa: E402
from conversion.export_keras import (  # noqa: E402
    OPSET,
    PROBABILITY_TOLERANCE,
    ExportError,
    stamp_metadata,
)
from desktop.core.model_card import parse_card  # noqa: E402
from desktop.inference.knee_joints import (  # noqa: E402
    LocatorSettings,
    level_view,
    pad_to_window,
    window_sides,
)
from training.knee_joint_model import LABELS, PROBABILITIES_LAYER, detection_section  # noqa: E402

log = logging.getLogger("conversion.joint_locator")
REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_ID = "knee_joint_locator"
RUN_DIR = REPO_ROOT / "runs" / MODEL_ID
PARITY_FILMS = ("osteoporosis/images_gobara/normal/N10.jpg", "osteoporosis/images_stevepython/normal/10.jpg")


def convert(model: keras.Model, onnx_path: Path) -> onnx.ModelProto:
    signature = (tf.TensorSpec((None, None, None, 1), tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)
    onnx.checker.check_model(proto)
    onnx.save(proto, onnx_path)
    return proto


def probabilities_name(proto: onnx.ModelProto) -> str:
    names = [out.name for out in proto.graph.output]
    matches = [n for n in names if n.startswith(PROBABILITIES_LAYER)]
    if len(matches) != 1:
        raise ExportError(f"cannot find the probabilities output among ONNX outputs {names}")
    return matches[0]


def real_levels(settings: LocatorSettings, data_root: Path) -> list[np.ndarray]:
    """Whole pyramid levels of real films (largest, middle and finest window): varied shapes."""
    from training.knee_joint_data import load_films

    levels = []
    for film in load_films([(name, name) for name in PARITY_FILMS if (data_root / name).exists()], data_root):
        sides = window_sides(film.pixels.shape, settings)
        for side in (sides[0], sides[len(sides) // 2], sides[-1]):
            padded, _, _ = pad_to_window(film.pixels, side)
            levels.append(level_view(padded, settings.window / side, settings))
    return levels


def check_parity(model: keras.Model, onnx_path: Path, output: str, windows: np.ndarray, levels: list[np.ndarray], tolerance: float) -> dict:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    batches = [windows] + [level[None, :, :, None].astype(np.float32) for level in levels]
    for batch in batches:
        expected = np.asarray(model(batch, training=False))
        got = session.run([output], {"input": batch})[0]
        if expected.shape != got.shape:
            raise ExportError(f"score map shapes differ: TensorFlow {expected.shape}, ONNX Runtime {got.shape}")
        worst = max(worst, float(np.max(np.abs(expected - got))))
    if worst > tolerance:
        raise ExportError(f"TensorFlow and ONNX Runtime disagree: max |diff| {worst:.2e} > {tolerance:.2e}")
    return {"max_abs_diff_probabilities": worst, "n_windows": len(windows), "n_whole_levels": len(levels),
            "level_shapes": [list(level.shape) for level in levels]}


def build_card(*, template: dict, report: dict, evaluation: dict, settings: LocatorSettings, output: str, parity: dict) -> dict:
    threshold = evaluation.get("threshold", {}).get("value")
    card = {
        "id": MODEL_ID,
        "version": template.get("version", "1.0.0"),
        "name": template.get("name", "Knee joint locator"),
        "role": "joint_locator",
        "task": "binary",
        "body_part": "knee",
        "labels": list(LABELS),
        "decision": {
            "positive_label": LABELS[1],
            "threshold": threshold if threshold is not None else settings.threshold,
            "rationale": evaluation.get("threshold", {}).get("rationale", "Default: no evaluation was run yet."),
        },
        "input": {"name": "input", "shape": [None, None, None, 1], "dtype": "float32", "layout": "NHWC"},
        "preprocessing": {
            "size": [settings.window, settings.window],
            "resize": "squash",
            "interpolation": "bilinear",
            "mean": 0.0,
            "std": 1.0,
            "channels": 1,
            # CLAHE tiles of half a window: at every pyramid level the detector equalises with
            # tiles of clahe_tile level pixels (detection section), i.e. the same 2 x 2 per window.
            "clahe": {"clip_limit": settings.clahe_clip_limit, "tile_grid": [settings.window // settings.clahe_tile] * 2},
            "scale": "pixel values in [0, 1]",
            "notes": template.get("preprocessing_notes", ""),
        },
        "outputs": {"probabilities": output},
        "output_layout": "score map [batch, rows, cols, 2]: the window at level pixel (16 row, 16 col), softmax over labels",
        "detection": detection_section(settings),
        "heatmap": {"method": "none"},
        "metrics": evaluation.get("test", {}),
        "validation_metrics": evaluation.get("validation", {}),
        "training": {
            "data": template.get("data", ""),
            "split_method": template.get("split_method", ""),
            "command": report.get("command"),
            "duration_s": report.get("duration_s"),
            "windows": report.get("windows"),
            "pseudo_labelled_films": report.get("pseudo_labelled_films"),
            "hardware": report.get("hardware"),
        },
        "conversion": {"tool": "tf2onnx.convert.from_keras", "opset": OPSET, "parity": parity,
                       "exported_on": date.today().isoformat()},
        "sample_image": template.get("sample_image"),
        "intended_use": template.get("intended_use", ""),
        "limitations": template.get("limitations", []),
    }
    return card


def export(args: argparse.Namespace) -> Path:
    source = Path(args.source)
    run_dir = source.parent
    report = json.loads((run_dir / "training_report.json").read_text()) if (run_dir / "training_report.json").exists() else {}
    evaluation_path = run_dir / "evaluation.json"
    evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.exists() else {}
    settings = LocatorSettings(**{**LocatorSettings().__dict__, **report.get("detection", {})})
    model = keras.saving.load_model(source, compile=False, safe_mode=True)
    with np.load(run_dir / "parity_images.npz") as stored:
        windows = stored["images"].astype(np.float32)
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        proto = convert(model, onnx_path)
        output = probabilities_name(proto)
        parity = check_parity(model, onnx_path, output, windows, real_levels(settings, Path(args.data_root)), args.tolerance)
        log.info("parity: %s", parity)
        card = build_card(template=load_template(MODEL_ID), report=report, evaluation=evaluation,
                          settings=settings, output=output, parity=parity)
        stamp_metadata(onnx_path, card)
        card["size_bytes"] = onnx_path.stat().st_size
        card["sha256"] = file_sha256(onnx_path)
        parse_card(card)  # the app's own parser must accept it before anything is installed
        return install_model(onnx_path, card, Path(args.out) / MODEL_ID)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(RUN_DIR / "model.keras"))
    parser.add_argument("--out", default=str(REPO_ROOT / "models"))
    parser.add_argument("--data-root", default=str(REPO_ROOT.parent / "shared" / "data"))
    parser.add_argument("--tolerance", type=float, default=PROBABILITY_TOLERANCE)
    return run_export(export, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
