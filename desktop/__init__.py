"""XRayDesk: an offline desktop X-ray assistant."""

from __future__ import annotations

__all__ = ["APP_NAME", "__version__"]

APP_NAME = "XRayDesk"

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("xraydesk")
except PackageNotFoundError:  # running from a source tree or a frozen bundle without metadata
    __version__ = "0.1.0"
