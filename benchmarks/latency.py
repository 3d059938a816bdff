"""Per-model latency for one image and app start-up time, printed as a table.

    python benchmarks/latency.py [--repeats 30] [--startup-runs 5] [--image FILE]

Latency covers what the user waits for after dropping a file: decode + preprocess +
inference + heat map, measured end to end per model on the model's own sample image (or
``--image``). Start-up is the wall time of ``python -m desktop --exit-after-show`` (Qt
offscreen) until the window is shown, as reported by the app, plus the whole process time.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from desktop.core.imaging import load_image  # noqa: E402
from desktop.inference.analysis import AnalysisService  # noqa: E402
from desktop.inference.predictor import predict_image  # noqa: E402
from desktop.inference.registry import ModelRegistry  # noqa: E402
from desktop.paths import samples_dir  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def model_latencies(repeats: int, image_override: Path | None) -> list[tuple[str, str, float, float, float]]:
    registry = ModelRegistry.discover()
    rows = []
    for model in registry.image_models:
        sample = image_override or (samples_dir() / model.card.raw["sample_image"] if model.card.raw.get("sample_image") else None)
        if sample is None:
            continue
        totals, inference_only = [], []
        for attempt in range(repeats + 3):
            started = time.perf_counter()
            image = load_image(sample)
            prediction = predict_image(model, image.pixels, with_heatmap=True)
            elapsed = (time.perf_counter() - started) * 1000
            if attempt >= 3:  # the first runs warm caches and thread pools
                totals.append(elapsed)
                inference_only.append(prediction.timings_ms.get("inference", float("nan")))
        rows.append((model.card.id, sample.name, percentile(totals, 50), percentile(totals, 95), statistics.median(inference_only)))
    for missing in registry.unavailable:
        print(f"unavailable: {missing.model_id}: {missing.reason}", file=sys.stderr)
    return rows


def whole_analysis_latency(repeats: int, files: list[Path]) -> list[tuple[str, str, float, float, float]]:
    """What the app does per dropped file: decode, body-part check, joint location when a
    knee model runs, every model of the chosen study type with heat maps."""
    service = AnalysisService(ModelRegistry.discover())
    rows = []
    for path in files:
        totals = []
        for attempt in range(repeats + 2):
            started = time.perf_counter()
            result = service.analyse_guarded(service.load(path), default_body_part=None, with_heatmap=True)
            if attempt >= 2:
                totals.append((time.perf_counter() - started) * 1000)
        models = "+".join(sorted({p.model_id for p in result.predictions})) or "none"
        rows.append((f"all ({len(result.predictions)} results)", path.name, percentile(totals, 50), percentile(totals, 95), float("nan")))
        print(f"  {path.name}: {models}", file=sys.stderr)
    return rows


def startup_times(runs: int) -> list[tuple[float, float]]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "desktop", "--exit-after-show"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        wall = time.perf_counter() - started
        match = re.search(r"window shown after ([0-9.]+) s", done.stdout)
        if done.returncode != 0 or not match:
            raise SystemExit(f"start-up run failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        results.append((float(match.group(1)), wall))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--image", type=Path, help="measure every model on this file instead of its sample")
    parser.add_argument("--film", type=Path, action="append", default=[],
                        help="also time the whole analysis of this file as the app runs it (repeatable)")
    args = parser.parse_args()
    print(f"{'model':<22}{'image':<34}{'p50 ms':>9}{'p95 ms':>9}{'ORT ms':>9}")
    for model_id, image_name, p50, p95, ort_ms in model_latencies(args.repeats, args.image):
        print(f"{model_id:<22}{image_name:<34}{p50:>9.1f}{p95:>9.1f}{ort_ms:>9.1f}")
    for label, image_name, p50, p95, _ in whole_analysis_latency(args.repeats, args.film):
        print(f"{label:<22}{image_name:<34}{p50:>9.1f}{p95:>9.1f}{'':>9}")
    if args.startup_runs:
        runs = startup_times(args.startup_runs)
        shown = [r[0] for r in runs]
        wall = [r[1] for r in runs]
        print(f"\nstart-up to shown window ({len(runs)} runs, offscreen): median {statistics.median(shown):.2f} s, "
              f"max {max(shown):.2f} s; whole process incl. exit: median {statistics.median(wall):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
