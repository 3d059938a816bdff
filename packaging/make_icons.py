"""Render the application icon from ``resources/icons/xraydesk.svg`` into the raster forms
the installers need, and write them next to the SVG:

    xraydesk.png       256 x 256 (Linux bundle, .deb hicolor/256x256, README)
    xraydesk-48.png    48 x 48   (.deb hicolor/48x48)
    xraydesk.ico       16-256 px in one file (Windows EXE resource, Inno Setup)
    xraydesk.icns      16-1024 px (macOS .app bundle)

    python packaging/make_icons.py [--check]

Qt renders the SVG (QSvgRenderer, the same renderer the app uses at run time), Pillow packs
the .ico and .icns. The outputs are committed, so a build never needs this script; run it
again after changing the SVG. ``--check`` exits 1 when a committed file is missing or no longer
matches the SVG (tests/packaging runs it, so the two cannot drift apart silently).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SVG = ICONS / "xraydesk.svg"
# Windows picks the nearest size per context (16 title bar, 32/48 Explorer, 256 large tiles).
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Pillow's ICNS writer takes the largest image and derives the standard members from it.
ICNS_MASTER = 1024
OUTPUTS = ("xraydesk.png", "xraydesk-48.png", "xraydesk.ico", "xraydesk.icns")
# Anti-aliasing may differ by a step or two between Qt builds; a changed drawing differs by far more.
PIXEL_TOLERANCE = 8


def render(size: int):
    """The SVG drawn into a transparent ``size`` x ``size`` PIL image (RGBA)."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"error: {SVG} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def _application():
    """Painting needs a QGuiApplication, even without a display (offscreen)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(sys.argv[:1])


def build() -> list[Path]:
    """Write every output; returns their paths."""
    _application()
    png256 = render(256)
    png256.save(ICONS / "xraydesk.png", optimize=True)
    render(48).save(ICONS / "xraydesk-48.png", optimize=True)
    # Each .ico member rendered at its own size (crisper than Pillow downscaling the 256 one).
    ico_images = [render(s) for s in ICO_SIZES]
    ico_images[-1].save(
        ICONS / "xraydesk.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=ico_images[:-1]
    )
    render(ICNS_MASTER).save(ICONS / "xraydesk.icns", format="ICNS")
    return [ICONS / name for name in OUTPUTS]


def check() -> list[str]:
    """Problems with the committed outputs: missing, or the 256 px PNG no longer what the SVG
    renders to (compared by pixels, so checkout times and PNG encoders do not matter)."""
    import numpy as np
    from PIL import Image

    problems = [f"{name} is missing" for name in OUTPUTS if not (ICONS / name).is_file()]
    if not problems:
        _application()
        committed = np.asarray(Image.open(ICONS / "xraydesk.png").convert("RGBA"), dtype=np.int16)
        fresh = np.asarray(render(256), dtype=np.int16)
        if committed.shape != fresh.shape or np.abs(committed - fresh).max() > PIXEL_TOLERANCE:
            problems.append(f"xraydesk.png differs from what {SVG.name} renders to")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the outputs exist and match the SVG")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(f"error: {problem}; run python packaging/make_icons.py", file=sys.stderr)
        return 1 if problems else 0
    for path in build():
        print(f"wrote {path.relative_to(ICONS.parent.parent)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
