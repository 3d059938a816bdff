"""What every exporter does the same way: install the checked files and report failures."""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["card_text", "install_model", "run_export"]

log = logging.getLogger("conversion")
# A JSON list of plain numbers as json.dumps(indent=2) writes it: one number per line.
_NUMBER_LIST = re.compile(r"\[(\s*-?[0-9][0-9.eE+-]*(?:,\s*-?[0-9][0-9.eE+-]*)*\s*)\]")


def card_text(card: dict[str, Any]) -> str:
    """The card as indented JSON with every list of numbers on one line: weight matrices and
    the familiarity summary would otherwise take one line per number."""
    text = json.dumps(card, indent=2, ensure_ascii=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text) + "\n"


def install_model(onnx_path: Path, card: dict[str, Any], target: Path) -> Path:
    """Copy a model that passed its parity check into ``target`` with its card beside it."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, target / "model.onnx")
    (target / "model.json").write_text(card_text(card), encoding="utf-8")
    log.info("wrote %s (%.1f kB)", target, (target / "model.onnx").stat().st_size / 1024)
    return target


def run_export(export: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    """Run an exporter as a command: one ``export failed:`` line and exit 1 on any known failure."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        export(args)
    except (RuntimeError, ValueError, OSError) as exc:  # converters raise RuntimeError subclasses
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    return 0
