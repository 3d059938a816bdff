"""Compose ``models/<id>/model.json`` from the export, the training report and card prose."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

from desktop.core.model_card import parse_card
from desktop.core.files import file_sha256  # the app checks cards with this very hash

__all__ = ["build_image_card", "file_sha256", "load_template", "preprocessing_dict"]

TEMPLATES = Path(__file__).resolve().parent / "cards"


def load_template(model_id: str, explicit: str | None = None) -> dict[str, Any]:
    """Card prose written by people (intended use, limits, data); empty for ad-hoc exports."""
    path = Path(explicit) if explicit else TEMPLATES / f"{model_id}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def preprocessing_dict(spec) -> dict[str, Any]:
    data = dataclasses.asdict(spec)
    clip = data.pop("clahe_clip_limit")
    grid = data.pop("clahe_tile_grid")
    data["size"] = list(data["size"])
    data["clahe"] = {"clip_limit": clip, "tile_grid": list(grid)} if clip is not None else None
    data["scale"] = "pixel values in [0, 1], then (x - mean) / std"
    return data


def _image_task(model_id: str):
    try:
        from training.tasks import IMAGE_TASKS
    except ImportError:  # conversion used without the training package
        return None
    return IMAGE_TASKS.get(model_id)


def calibration_entry(report: dict[str, Any]) -> dict[str, Any]:
    """What the training run fitted on its validation split to make probabilities honest."""
    if "temperature" not in report:
        return {}
    fitted_on = report.get("calibration_data", "the validation split")
    entry: dict[str, Any] = {"method": f"temperature scaling on {fitted_on}", "temperature": report["temperature"]}
    if report.get("class_bias") is not None:
        entry["method"] = f"temperature scaling and per-class logit offsets, fitted on the log-likelihood of {fitted_on}"
        entry["class_bias"] = report["class_bias"]
    if report.get("test_time_views"):
        views = ", ".join(v.replace("_", " ") for v in report["test_time_views"])
        entry["method"] += f"; logits averaged over the image and its re-oriented views ({views})"
    entry["expected_calibration_error"] = report.get("ece", {})
    return entry


def build_image_card(
    *,
    args: argparse.Namespace,
    graph,
    output_names: dict[str, str],
    input_name: str,
    report: dict[str, Any],
    parity: dict[str, float],
    sha256: str,
    size_bytes: int,
) -> dict[str, Any]:
    """The full card; validated with the app's own parser before it is returned."""
    template = load_template(args.model_id, args.template)
    task = _image_task(args.model_id)
    spec = task.preprocessing if task else graph.preprocessing
    if task and tuple(spec.size) != tuple(graph.preprocessing.size):
        raise ValueError(f"task {task.id} expects input {spec.size}, the model takes {graph.preprocessing.size}")
    labels = list(task.labels) if task else (args.labels.split(",") if args.labels else [str(i) for i in range(graph.n_classes)])
    if len(labels) != graph.n_classes:
        raise ValueError(f"{len(labels)} labels given for a model with {graph.n_classes} outputs")
    task_type = task.task if task else (args.task_type or ("binary" if len(labels) == 2 else "multiclass"))
    positive = (task.positive_label if task else None) or (labels[1] if task_type == "binary" else None)
    threshold = report.get("threshold")
    decision: dict[str, Any] = {}
    if task_type == "binary":
        decision = {
            "positive_label": positive,
            "threshold": threshold if threshold is not None else 0.5,
            "rationale": template.get("threshold_rationale")
            or ("Chosen on the validation split to maximise balanced accuracy." if threshold is not None else "Default 0.5: no validation data was given."),
        }
    card: dict[str, Any] = {
        "id": args.model_id,
        "version": template.get("version", args.version),
        "name": template.get("name", task.name if task else args.model_id),
        "task": task_type,
        "role": task.role if task else "diagnosis",
        "body_part": task.body_part if task else (args.body_part or template.get("body_part") or "other_bone"),
        "labels": labels,
        "decision": decision,
        "derived_outputs": list(task.derived_outputs) if task else [],
        "input": {"name": input_name, "shape": [None, *spec.size, spec.channels], "dtype": "float32", "layout": "NHWC"},
        "preprocessing": preprocessing_dict(spec),
        "outputs": output_names,
        "heatmap": graph.heatmap,
        "head": graph.head,
        "calibration": calibration_entry(report),
        # Inside the graph: the app runs the model as it would without it.
        "test_time_views": list(report.get("test_time_views", [])),
        # How much answers move when an already enhanced image gets the contrast step again.
        "contrast_stability": report.get("contrast_stability"),
        "metrics": {"split": report.get("metrics_split", "internal test set, grouped by patient, never used for training or tuning"), **report["test"]} if "test" in report else {},
        "validation_metrics": report.get("val", {}),
        "cross_validation": report.get("cross_validation"),
        "training": {
            "data": template.get("data", ""),
            "split_method": template.get("split_method", ""),
            "split_file": report.get("split_file"),
            "split_counts": report.get("split_counts"),
            "split_groups": report.get("split_groups"),
            "command": report.get("command"),
            "duration_s": report.get("duration_s"),
            "epochs_run": report.get("epochs_run"),
            "hardware": template.get("hardware", "2-core x86-64 CPU"),
        },
        "conversion": {
            "tool": "tf2onnx.convert.from_keras",
            "opset": 17,
            "parity": parity,
            "exported_on": date.today().isoformat(),
            "notes": graph.notes,
        },
        "sample_image": template.get("sample_image"),
        # Knee models read one located joint; how per-joint answers combine for a whole film.
        **{key: template[key] for key in ("region", "film_aggregation", "label_scheme") if key in template},
        "intended_use": template.get("intended_use", ""),
        "limitations": template.get("limitations", []),
        # Plain-language limits for the result tooltip and the report (the app falls back to the above).
        **({"clinical_limitations": template["clinical_limitations"]} if "clinical_limitations" in template else {}),
        "size_bytes": size_bytes,
        "sha256": sha256,
    }
    parse_card(card)  # the app must be able to load what we write
    return card
