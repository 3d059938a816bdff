"""XRayDesk: an offline desktop X-ray assistant."""

from __future__ import annotations

__all__ = ["APP_NAME", "__version__"]

APP_NAME = "XRayDesk"

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("xraydesk")
except PackageNotFoundError:  # a source tree that was never pip-installed
    import tomllib
    from pathlib import Path

    _pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        __version__ = tomllib.loads(_pyproject.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        __version__ = "unknown"
