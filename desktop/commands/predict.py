"""``python -m desktop predict``: classify image files and print the results (table or JSON).

The body-part guard, when installed, runs first on every file. Without ``--model`` or
``--study`` its answer picks the study type; a file it is confident is not an X-ray gets no
model at all (an empty ``predictions`` list, the warning, exit code 0: the file was read and
answered, the answer is "nothing here applies"). With ``--model`` or ``--study`` the chosen
models always run and the guard only adds warnings. An unsure or missing guard changes
nothing: every image model runs, as before the guard existed.

Knee models whose card names the ``knee_joint`` region read each knee joint the locator finds:
one prediction per joint, with its ``region`` box (top, left, height, width in image pixels)
and ``region_side``; the joints themselves are listed under ``knee_joints``, each with the
patient's side (``patient_side``) when a DICOM header tells it (``sided_by``: "header") or,
with ``--standard-knee-display``, for the two knees of a film without side headers
(``sided_by``: "clinic").
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from desktop.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, error
from desktop.core.body_part import GuardedAnalysis
from desktop.core.imaging import ImageLoadError, XRayImage
from desktop.core.joint_regions import joint_heading, patient_sides
from desktop.core.prediction import Prediction
from desktop.inference.analysis import AnalysisService
from desktop.inference.predictor import PredictionError

__all__ = ["PREDICT_EPILOG", "guarded_json", "predict", "prediction_json"]

PREDICT_EPILOG = (
    "Body-part guard: when the body_part model is installed it runs first on each file. Without "
    "--model/--study it picks the study type; a file it is confident is not an X-ray runs no "
    "model (empty predictions, a warning, exit code 0). With --model/--study the chosen models "
    "always run and the guard only warns. JSON lines carry body_part_check and warnings. "
    "Knee-joint models run once per knee joint found (region, region_side; knee_joints lists "
    "the joints, with patient_side when a DICOM header tells it or, with --standard-knee-display, "
    "on a two-knee film without side headers); with no joint found they do not run and a warning says so."
)


def prediction_json(prediction: Prediction) -> dict[str, Any]:
    """The JSON form of one prediction, as ``predict --json`` prints it."""
    return {
        "model_id": prediction.model_id,
        "model_version": prediction.model_version,
        "label": prediction.label,
        "probabilities": dict(zip(prediction.labels, prediction.probabilities)),
        "threshold": prediction.threshold,
        "derived": {
            d.id: {"label": d.label, "probability": d.probability, "threshold": d.threshold} for d in prediction.derived
        },
        "calibrated": prediction.calibrated,
        "warnings": list(prediction.warnings),
        "timing_ms": {k: round(v, 3) for k, v in prediction.timings_ms.items()},
        "region": list(prediction.region) if prediction.region is not None else None,
        "region_side": prediction.region_side,
    }


def guarded_json(result: GuardedAnalysis) -> dict[str, Any]:
    """The guard-related fields of one ``predict --json`` line."""
    check = result.check
    return {
        "study_type": result.body_part,
        "study_type_from_guard": result.chosen_by_guard,
        "body_part_check": {**check.to_dict(), "verdict": check.verdict()} if check is not None else None,
        "predictions": [prediction_json(p) for p in result.predictions],
        "warnings": list(result.warnings),
        "knee_joints": [joint.to_dict() for joint in result.joints or ()],
    }


def _print_table(file: str, image: XRayImage, result: GuardedAnalysis) -> None:
    print(f"{file}  ({image.width} x {image.height} {image.format})")
    if result.check is not None:
        print(f"  {result.check.verdict()}")
    for warning in result.warnings:
        print(f"  WARNING: {warning}")
    for joint in result.joints or ():
        top, left, height, width = joint.box
        print(f"  {joint_heading(joint.side, joint.patient_side)}: box top {top}, left {left}, {width} x {height} px (score {joint.score:.2f})")
    if not result.predictions:
        if result.skipped or result.joints == ():  # the warning above says why
            print("  no model was run")
        elif result.body_part is not None:
            print(f"  no models installed for {result.body_part} studies")
        else:
            print("  no models selected")
    sides = patient_sides(result.joints)
    for p in result.predictions:
        probs = "  ".join(f"{label} {prob:.3f}" for label, prob in zip(p.labels, p.probabilities))
        threshold = f"  (threshold {p.threshold:.2f})" if p.threshold is not None else ""
        calibrated = "" if p.calibrated else "  [uncalibrated]"
        where = f"  [{joint_heading(p.region_side, sides.get(p.region_side))}]" if p.region_side else ""
        print(f"  {p.model_id:<24} {p.model_version:<8} {p.label:<16} {probs}{threshold}{calibrated}{where}")
        for d in p.derived:
            print(f"      {d.name}: {d.label} ({d.probability:.3f}, threshold {d.threshold:.2f})")
        for warning in p.warnings:
            print(f"      warning: {warning}")


def _check_selection(args: argparse.Namespace, service: AnalysisService) -> int | None:
    """An exit code when the model options cannot work for any file, else None."""
    try:
        models = service.select(body_part=args.study, model_ids=args.models)
    except KeyError as exc:
        error(exc.args[0])
        return EXIT_USAGE
    except ValueError as exc:
        error(str(exc))
        return EXIT_USAGE
    if not models:
        where = f" for {args.study} studies" if args.study else ""
        error(f"no image models available{where} in {service.registry.models_dir}")
        return EXIT_FAILURE
    return None


def predict(args: argparse.Namespace, service: AnalysisService) -> int:
    """Run ``predict`` for every file; returns the exit code (1 if any file failed)."""
    refused = _check_selection(args, service)
    if refused is not None:
        return refused
    status = EXIT_OK
    for file in args.files:
        start = time.perf_counter()
        try:
            image = service.load(file)
            decoded = time.perf_counter()
            result = service.analyse_guarded(
                image, body_part=args.study, model_ids=args.models, with_heatmap=not args.no_heatmap
            )
        except (ImageLoadError, PredictionError) as exc:
            error(f"{file}: {exc}")
            status = EXIT_FAILURE
            continue
        finished = time.perf_counter()
        if args.json:
            record = {
                "file": file,
                "sha256": image.sha256,
                "image": {"width": image.width, "height": image.height, "format": image.format},
                **guarded_json(result),
                "timing_ms": {
                    "decode": round((decoded - start) * 1000, 3),
                    "total": round((finished - start) * 1000, 3),
                },
            }
            print(json.dumps(record), flush=True)
        else:
            _print_table(file, image, result)
    return status
