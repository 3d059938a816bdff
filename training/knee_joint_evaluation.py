"""Measure the installed knee joint locator on images it never saw, and pick its threshold.

    python -m training.knee_joint_evaluation [--models models] [--out runs/knee_joint_locator]

* Synthetic films with known boxes, composed from KL crops of held-out patients only (the
  KL validation split picks the threshold, the KL test split measures): bare KL crops,
  padded crops, single-knee portrait films, bilateral landscape films, 640-pixel-wide strips
  cut through both joints, and 2000 x 2500 portrait films. A detection counts when its box
  overlaps a true joint with IoU >= 0.5.
* Real knee films without boxes: all Gobara films and the held-out stevepython films,
  scored against the number of knees counted by eye on their thumbnails, plus contact
  sheets with the boxes drawn for a human to judge.
* Chest and other-bone radiographs of held-out groups: any detection there is false.

Runs the app's detector (ONNX Runtime, one thread) and writes evaluation.json, which the
exporter copies into the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from desktop.inference.knee_joints import (
    KneeJoint,
    joint_candidates,
    locator_settings,
    select_joints,
)
from desktop.inference.registry import ModelRegistry
from training.knee_joint_canvas import CanvasPlan, compose_canvas
from training.knee_joint_data import (
    KLCrops,
    load_films,
    load_kl_crops,
    negative_films,
    osteoporosis_films,
)
from training.knee_joint_review import contact_sheet, knees_on_film

log = logging.getLogger("training.knee_joint_evaluation")
REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("kl_crop", "padded_crop", "single_film", "bilateral_film", "strip", "large_portrait")
# Scores saturate near 1 on clear joints, so the grid is finest at the top.
THRESHOLDS = tuple(round(float(t), 4) for t in [*np.arange(0.30, 0.951, 0.05), *np.arange(0.96, 0.991, 0.01),
                                                  0.995, 0.998, 0.999, 0.9995, 0.9999])
MATCH_IOU = 0.5


def synthetic_case(rng: np.random.Generator, kind: str, crops: KLCrops, members: list[int]):
    """One held-out test image of a kind, with its true joint boxes."""
    images = [crops.images[i] for i in members]
    if kind == "kl_crop":
        return images[0].astype(np.float32) / 255.0, [(0.0, 0.0, 224.0, 224.0)]
    if kind == "padded_crop":
        plan = CanvasPlan("single", 224, float(rng.uniform(0.45, 0.8)), float(rng.uniform(0.7, 1.4)), str(rng.choice(["dark", "shaft"])))
    elif kind == "single_film":
        plan = CanvasPlan("single", int(rng.integers(120, 300)), float(rng.uniform(0.2, 0.45)), float(rng.uniform(0.5, 0.85)), "shaft")
    elif kind == "bilateral_film":
        plan = CanvasPlan("bilateral", int(rng.integers(90, 260)), float(rng.uniform(0.16, 0.35)), float(rng.uniform(1.1, 1.6)), "shaft")
    elif kind == "strip":
        joint = int(rng.integers(200, 290))
        plan = CanvasPlan("bilateral", joint, joint / 161, 640 / 161, "dark")
    else:  # large_portrait: about 2000 x 2500, one or both knees
        joint = int(rng.integers(350, 600))
        plan = CanvasPlan(str(rng.choice(["single", "bilateral"])), joint, joint / 2000, 0.8, "shaft")
    return compose_canvas(rng, plan, images)


def _iou(a, b) -> float:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def score_case(found: list[KneeJoint], truth) -> dict:
    unmatched = list(truth)
    ious = []
    for joint in found:
        best = max(unmatched, key=lambda box: _iou(joint.box, box), default=None)
        if best is not None and _iou(joint.box, best) >= MATCH_IOU:
            ious.append(_iou(joint.box, best))
            unmatched.remove(best)
    return {"joints": len(truth), "found": len(found), "matched": len(ious), "ious": ious,
            "correct": len(found) == len(truth) == len(ious)}


def summarise(scores: list[dict]) -> dict:
    joints = sum(s["joints"] for s in scores)
    found = sum(s["found"] for s in scores)
    matched = sum(s["matched"] for s in scores)
    ious = [v for s in scores for v in s["ious"]]
    return {
        "n_images": len(scores), "n_joints": joints,
        "recall_iou50": round(matched / joints, 4) if joints else None,
        "precision_iou50": round(matched / found, 4) if found else None,
        "count_accuracy": round(float(np.mean([s["found"] == s["joints"] for s in scores])), 4),
        "all_correct_rate": round(float(np.mean([s["correct"] for s in scores])), 4),
        "mean_iou_of_matches": round(float(np.mean(ious)), 4) if ious else None,
    }


def synthetic_set(model, crops: KLCrops, *, per_kind: int, seed: int) -> list[dict]:
    """Candidates for every case, computed once so that threshold sweeps are cheap."""
    rng = np.random.default_rng(seed)
    pairs = crops.pairs()
    cases = []
    for kind in KINDS:
        for index in rng.permutation(len(pairs))[:per_kind]:
            image, truth = synthetic_case(rng, kind, crops, pairs[int(index)])
            started = time.perf_counter()
            candidates = joint_candidates(model, image)
            cases.append({"kind": kind, "shape": image.shape, "truth": truth, "candidates": candidates,
                          "seconds": time.perf_counter() - started})
    return cases


def evaluate_synthetic(cases: list[dict], settings, threshold: float) -> dict:
    by_kind: dict[str, list[dict]] = {}
    for case in cases:
        found = select_joints(case["candidates"], settings, threshold=threshold)
        by_kind.setdefault(case["kind"], []).append(score_case(found, case["truth"]))
    result = {kind: summarise(scores) for kind, scores in by_kind.items()}
    result["all"] = summarise([s for scores in by_kind.values() for s in scores])
    return result


def negative_set(model, films) -> list[dict]:
    return [{"film": f.name, "candidates": joint_candidates(model, f.pixels)} for f in films]


def false_detection_rate(cases: list[dict], settings, threshold: float) -> dict:
    hits = [c["film"] for c in cases if select_joints(c["candidates"], settings, threshold=threshold)]
    by_source = {}
    for prefix in ("pneumonia/", "fracture/"):
        members = [c for c in cases if c["film"].startswith(prefix)]
        by_source[prefix.rstrip("/")] = {
            "n_images": len(members),
            "false_detection_rate": round(sum(h.startswith(prefix) for h in hits) / max(1, len(members)), 4),
        }
    return {"n_images": len(cases), "false_detection_rate": round(len(hits) / max(1, len(cases)), 4),
            "by_source": by_source, "films_with_detections": hits}


def choose_threshold(cases, negatives, settings) -> tuple[float, list]:
    """Best mean of (synthetic images fully right) and (radiographs without a knee left empty);
    within 0.002 of the best, the middle threshold of that plateau."""
    sweep = []
    for threshold in THRESHOLDS:
        synthetic = evaluate_synthetic(cases, settings, threshold)["all"]["all_correct_rate"]
        clean = 1.0 - false_detection_rate(negatives, settings, threshold)["false_detection_rate"]
        sweep.append((threshold, synthetic, clean, 0.5 * (synthetic + clean)))
    # Several thresholds often tie: take the middle of the best plateau, not either edge of it.
    best = max(row[3] for row in sweep)
    plateau = [row[0] for row in sweep if row[3] >= best - 0.002]
    return plateau[len(plateau) // 2], sweep


def film_counts(model, films, settings, threshold: float) -> tuple[dict, list]:
    """Real films against the knee count seen by eye: exactly right, and one joint per half."""
    rows = []
    for film in films:
        found = select_joints(joint_candidates(model, film.pixels), settings, threshold=threshold)
        expected = knees_on_film(film.name)
        width = film.pixels.shape[1]
        halves = expected == 2 and len(found) == 2 and (
            found[0].box[1] + found[0].box[3] / 2 < width / 2 < found[1].box[1] + found[1].box[3] / 2
        )
        rows.append({"film": film.name, "expected": expected, "found": [list(j.box) + [round(j.score, 3)] for j in found],
                     "count_right": len(found) == expected, "one_per_half": bool(halves)})
    bilateral = [r for r in rows if r["expected"] == 2]
    single = [r for r in rows if r["expected"] == 1]
    summary = {
        "n_films": len(rows), "n_bilateral": len(bilateral), "n_single": len(single),
        "exact_count_rate": round(float(np.mean([r["count_right"] for r in rows])), 4) if rows else None,
        "bilateral_two_found_one_per_half": round(float(np.mean([r["one_per_half"] for r in bilateral])), 4) if bilateral else None,
        "single_one_found": round(float(np.mean([r["count_right"] for r in single])), 4) if single else None,
        "none_found_rate": round(float(np.mean([not r["found"] for r in rows])), 4) if rows else None,
        "found_count_histogram": {str(k): sum(len(r["found"]) == k for r in rows) for k in range(3)},
    }
    return summary, rows


def _split_negatives(films):
    """Held-out radiographs halved by group: one half tunes the threshold, the other measures."""
    is_val = [hashlib.sha256(("threshold:" + f.group).encode()).digest()[0] < 128 for f in films]
    return [f for f, v in zip(films, is_val) if v], [f for f, v in zip(films, is_val) if not v]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "knee_joint_locator")
    parser.add_argument("--per-kind", type=int, nargs=2, default=(50, 80), metavar=("VAL", "TEST"))
    parser.add_argument("--sheet", type=Path, default=Path("/tmp/joints_gobara.png"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    registry = ModelRegistry.discover(args.models, threads=1)
    model = registry.helper("joint_locator")
    if model is None:
        raise SystemExit(f"no joint_locator model available in {args.models}: export it first")
    settings = locator_settings(model.card)

    val_cases = synthetic_set(model, load_kl_crops("val"), per_kind=args.per_kind[0], seed=101)
    val_negatives, test_negatives = _split_negatives(negative_films(held=True, chest_limit=400))
    val_negative_cases = negative_set(model, val_negatives)
    threshold, sweep = choose_threshold(val_cases, val_negative_cases, settings)
    log.info("threshold %.2f chosen on validation", threshold)

    test_cases = synthetic_set(model, load_kl_crops("test"), per_kind=args.per_kind[1], seed=202)
    synthetic = evaluate_synthetic(test_cases, settings, threshold)
    negatives = false_detection_rate(negative_set(model, test_negatives), settings, threshold)
    films = osteoporosis_films()
    gobara = load_films(films["gobara"])
    gobara_summary, gobara_rows = film_counts(model, gobara, settings, threshold)
    steve = load_films(films["steve_held"])
    steve_summary, steve_rows = film_counts(model, steve, settings, threshold)
    contact_sheet(gobara, gobara_rows, args.sheet)
    contact_sheet(gobara, gobara_rows, args.out / "joints_gobara.png")
    contact_sheet(steve, steve_rows, args.out / "joints_stevepython_held.png")
    large = [c["seconds"] for c in test_cases if c["kind"] == "large_portrait"]

    evaluation = {
        "threshold": {
            "value": threshold,
            "rationale": (
                "Chosen on validation data only: the threshold maximising the mean of (synthetic films from KL "
                "validation patients with every joint found at IoU >= 0.5 and nothing else) and (held-out chest "
                "and other-bone radiographs of the validation half with no detection); the middle of the "
                "plateau within 0.002 of the best."
            ),
            "sweep": [{"threshold": t, "synthetic_all_correct": round(s, 4), "negatives_clean": round(c, 4)} for t, s, c, _ in sweep],
        },
        "validation": {"synthetic_kl_val": evaluate_synthetic(val_cases, settings, threshold)["all"]},
        "test": {
            "match_rule": "a detection matches a true joint at IoU >= 0.5; at most one match per joint",
            "synthetic_kl_test_patients": synthetic,
            "real_films_gobara": gobara_summary,
            "real_films_stevepython_held_out": steve_summary,
            "radiographs_without_knee": {k: v for k, v in negatives.items() if k != "films_with_detections"},
            "seconds_per_2000x2500_film_one_thread": {"median": round(float(np.median(large)), 3), "max": round(float(np.max(large)), 3)},
        },
        "details": {"gobara": gobara_rows, "stevepython_held": steve_rows, "negatives_with_detections": negatives["films_with_detections"]},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evaluation.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    log.info("test: %s", json.dumps(evaluation["test"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
