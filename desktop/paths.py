"""One place that finds the shipped models and resources.

In a source checkout they sit at the repository root; in a PyInstaller bundle they are
unpacked under ``sys._MEIPASS``. Everything else asks this module, never ``__file__``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["bundle_root", "models_dir", "resources_dir", "samples_dir", "user_data_dir"]


def bundle_root() -> Path:
    """Folder that holds ``models/`` and ``resources/``."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Shipped models; ``XRAYDESK_MODELS_DIR`` overrides it (tests, site-specific models)."""
    override = os.environ.get("XRAYDESK_MODELS_DIR")
    return Path(override) if override else bundle_root() / "models"


def resources_dir() -> Path:
    return bundle_root() / "resources"


def samples_dir() -> Path:
    return resources_dir() / "samples"


def user_data_dir() -> Path:
    """Per-user writable folder for settings, records and logs (never inside the bundle)."""
    override = os.environ.get("XRAYDESK_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "XRayDesk"
