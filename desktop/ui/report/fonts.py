"""The bundled report fonts (Noto, SIL OFL) and the family fallback list that uses them.

A clinic PC may have no font for Arabic or Devanagari, and a name drawn as empty boxes on a
signed report is worse than useless; so the fonts ship with the app (``resources/fonts``) and
are registered with Qt at start. One family per script, listed in fallback order: Qt picks,
for each run of text, the first family that has its glyphs.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase

from desktop import paths

__all__ = ["REPORT_FAMILIES", "apply_fallback_families", "css_font_family", "register_bundled_fonts"]

log = logging.getLogger(__name__)

# Latin, Greek and Cyrillic; Arabic; Devanagari; then the signs the app writes (>=, arrows,
# check marks) that the text fonts lack. Generic sans-serif last, for anything else.
REPORT_FAMILIES: tuple[str, ...] = (
    "Noto Sans", "Noto Sans Arabic", "Noto Sans Devanagari", "Noto Sans Math", "Noto Sans Symbols2",
)
_registered: list[str] | None = None


def register_bundled_fonts() -> list[str]:
    """Add every TTF/OTF under ``resources/fonts`` to Qt (once per process); return the families."""
    global _registered
    if _registered is not None:
        return list(_registered)
    families: list[str] = []
    folder = paths.resources_dir() / "fonts"
    for path in sorted(folder.glob("*.[ot]tf")) if folder.is_dir() else []:
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id < 0:
            log.warning("could not load bundled font %s", path.name)
            continue
        families.extend(f for f in QFontDatabase.applicationFontFamilies(font_id) if f not in families)
    missing = [f for f in REPORT_FAMILIES if f not in families]
    if missing:
        log.warning("bundled report fonts missing: %s; names in those scripts may not print", ", ".join(missing))
    _registered = families
    return list(families)


def css_font_family() -> str:
    """The fallback list for a style sheet."""
    return ", ".join(f"'{family}'" for family in REPORT_FAMILIES) + ", sans-serif"


def apply_fallback_families(font: QFont) -> QFont:
    """The same font with the bundled families appended as fallbacks (the user's font first)."""
    fallback = QFont(font)
    fallback.setFamilies([font.family(), *[f for f in REPORT_FAMILIES if f != font.family()]])
    return fallback
