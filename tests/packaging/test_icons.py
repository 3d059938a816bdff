"""The raster icons the installers use (resources/icons/*.png, .ico, .icns) match the SVG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
ICONS = REPO / "resources" / "icons"


def test_icons_are_rendered_from_the_current_svg() -> None:
    # A separate process: the script makes its own QGuiApplication.
    result = subprocess.run([sys.executable, str(REPO / "packaging" / "make_icons.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_icon_files_hold_the_sizes_each_platform_asks_for() -> None:
    assert Image.open(ICONS / "xraydesk.png").size == (256, 256)
    assert Image.open(ICONS / "xraydesk-48.png").size == (48, 48)
    ico = Image.open(ICONS / "xraydesk.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    assert Image.open(ICONS / "xraydesk.icns").size == (1024, 1024)
