"""Clinic details for the report (name, address, logo, page size, doctor) and how the clinic's
knee films are displayed, kept in QSettings.

The logo is copied into the user data folder when chosen, so the report keeps working after
the original picture is moved or the USB stick it came from is gone.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from desktop import paths

__all__ = ["PAGE_SIZES", "ClinicSettings", "import_logo", "load_clinic_settings", "save_clinic_settings"]

log = logging.getLogger(__name__)

PAGE_SIZES = ("A4", "Letter")
_PREFIX = "clinic/"
_FIELDS = ("name", "address", "logo_path", "page_size", "doctor_name")
_STANDARD_KNEE_DISPLAY = "standard_knee_display"
BRANDING_FOLDER = "branding"


@dataclass(frozen=True)
class ClinicSettings:
    name: str = ""
    address: str = ""
    logo_path: str = ""  # a copy inside the user data folder, or ""
    page_size: str = "A4"
    doctor_name: str = ""  # the default for new studies
    # The clinic vouches that its knee films always show the patient's right on the image's
    # left, so a bilateral film without side headers gets its knees named (off: by place).
    standard_knee_display: bool = False


def load_clinic_settings(settings: QSettings) -> ClinicSettings:
    values = {field: str(settings.value(_PREFIX + field, "") or "") for field in _FIELDS}
    if values["page_size"] not in PAGE_SIZES:
        values["page_size"] = "A4"
    # An INI file gives the text "true" back, the native stores a bool: only an explicit yes counts.
    standard = str(settings.value(_PREFIX + _STANDARD_KNEE_DISPLAY, "") or "").lower() == "true"
    return ClinicSettings(**values, standard_knee_display=standard)


def save_clinic_settings(settings: QSettings, clinic: ClinicSettings) -> None:
    for field in _FIELDS:
        settings.setValue(_PREFIX + field, getattr(clinic, field))
    settings.setValue(_PREFIX + _STANDARD_KNEE_DISPLAY, "true" if clinic.standard_knee_display else "false")
    settings.sync()


def import_logo(source: str | Path) -> str:
    """Copy a logo picture into ``<user data>/branding/`` and return the copy's path.

    Named by content, so choosing the same file twice keeps one copy and a new logo never
    overwrites the one an open report is using.
    """
    source = Path(source)
    data = source.read_bytes()
    folder = paths.user_data_dir() / BRANDING_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"logo-{hashlib.sha256(data).hexdigest()[:16]}{source.suffix.lower() or '.png'}"
    if not target.exists():
        temp = target.with_suffix(target.suffix + ".partial")
        shutil.copyfile(source, temp)
        temp.replace(target)
    log.info("clinic logo copied to %s", target)
    return str(target)
