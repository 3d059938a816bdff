"""Size and start-up time of the frozen app (the PyInstaller one-folder bundle).

    python benchmarks/bundle.py [--bundle dist/XRayDesk] [--runs 7] [--self-test-runs 3] [--top 10] [--json]

Build first: ``pyinstaller --noconfirm build.spec``. Prints

- size: total MB (10^6 bytes, symlinks not counted), file count, the biggest files;
- start-up: ``XRayDesk --exit-after-show`` with Qt offscreen, N runs. "window" is what the app
  reports (process start, as the OS records it on Linux, to the first expose of the main
  window); "process" is the wall time of the whole run, exit included. The first run is shown
  apart: it is the coldest the file cache gets without root (``--drop-caches`` tries to empty
  the Linux page cache before it, which needs root);
- self-test: wall time of ``XRayDesk self-test`` (load and hash-check every model, run each on
  its sample image), median of M runs.

Settings and records go to a temporary folder, never to the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHOWN = re.compile(r"window shown after (\d+(?:\.\d+)?) s")


def executable(bundle: Path) -> Path:
    """The executable that prints to a console (on Windows the console twin)."""
    return bundle / ("xraydesk-cli.exe" if sys.platform == "win32" else "XRayDesk")


def bundle_size(bundle: Path, top: int) -> dict:
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    sizes = sorted(((p.stat().st_size, p.relative_to(bundle).as_posix()) for p in files), reverse=True)
    return {
        "total_mb": round(sum(s for s, _ in sizes) / 1e6, 1),
        "files": len(files),
        "biggest": [{"mb": round(s / 1e6, 2), "path": name} for s, name in sizes[:top]],
    }


def _env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XRAYDESK_MODELS"))}
    env.update(QT_QPA_PLATFORM="offscreen", XRAYDESK_DATA_DIR=str(scratch / "data"),
               XDG_CONFIG_HOME=str(scratch / "config"))
    return env


def drop_page_cache() -> bool:
    """Empty the Linux page cache (root only); False where that is not possible."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def startup_once(exe: Path, env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    result = subprocess.run([str(exe), "--exit-after-show"], capture_output=True, text=True, env=env, timeout=120)
    process_s = time.perf_counter() - started
    match = SHOWN.search(result.stdout)
    if result.returncode != 0 or not match:
        raise SystemExit(f"error: {exe} --exit-after-show failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return float(match.group(1)), process_s


def self_test_once(exe: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(exe), "self-test"], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"error: {exe} self-test failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return elapsed


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "XRayDesk")
    parser.add_argument("--runs", type=int, default=7, help="start-ups after the first (default 7)")
    parser.add_argument("--self-test-runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=10, help="how many of the biggest files to list")
    parser.add_argument("--drop-caches", action="store_true", help="Linux, root: empty the page cache first")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    exe = executable(args.bundle)
    if not exe.is_file():
        print(f"error: {exe} not found; build it with: pyinstaller --noconfirm build.spec", file=sys.stderr)
        return 2
    report: dict = {"bundle": str(args.bundle), "platform": sys.platform, "size": bundle_size(args.bundle, args.top)}
    with tempfile.TemporaryDirectory(prefix="xraydesk-bench-") as scratch:
        env = _env(Path(scratch))
        dropped = drop_page_cache() if args.drop_caches else False
        first_window, first_process = startup_once(exe, env)
        windows, processes = zip(*(startup_once(exe, env) for _ in range(args.runs))) if args.runs else ((), ())
        report["startup_s"] = {
            "first": {"window": round(first_window, 3), "process": round(first_process, 3), "page_cache_dropped": dropped},
            "runs": args.runs,
            "window": _summary(list(windows)) if windows else None,
            "process": _summary(list(processes)) if processes else None,
        }
        tests = [self_test_once(exe, env) for _ in range(args.self_test_runs)]
        report["self_test_s"] = _summary(tests) if tests else None

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    size = report["size"]
    print(f"bundle      {report['bundle']}  ({report['platform']})")
    print(f"size        {size['total_mb']:.1f} MB in {size['files']} files; biggest:")
    for item in size["biggest"]:
        print(f"  {item['mb']:7.2f} MB  {item['path']}")
    first = report["startup_s"]["first"]
    cold = " (page cache dropped)" if first["page_cache_dropped"] else ""
    print(f"start-up    first run{cold}: window {first['window']:.3f} s, process {first['process']:.3f} s")
    if report["startup_s"]["window"]:
        w, p = report["startup_s"]["window"], report["startup_s"]["process"]
        print(f"            {args.runs} runs: window median {w['median']:.3f} s (min {w['min']:.3f}, max {w['max']:.3f}),"
              f" process median {p['median']:.3f} s")
    if report["self_test_s"]:
        s = report["self_test_s"]
        print(f"self-test   median {s['median']:.3f} s over {args.self_test_runs} runs (min {s['min']:.3f}, max {s['max']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
