"""Shared test set-up: headless Qt, isolated user folders and settings, tiny models.

Qt itself is imported only by the fixtures that need it, so the Qt-free unit tests stay
Qt-free. pytest-qt's session-wide ``qapp`` is the one QApplication.
"""

from __future__ import annotations

import os

# Before anything can import Qt: no display needed, and nothing pops up on a developer's desk.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# Qt and any child process (python -m desktop) read config from here, never from ~/.config.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="xraydesk-tests-"))
os.environ["XDG_CONFIG_HOME"] = str(_SESSION_HOME / "config")
os.environ.setdefault("XRAYDESK_DATA_DIR", str(_SESSION_HOME / "data"))

KNEE_DERIVED = (
    {
        "id": "oa",
        "name": "Radiographic osteoarthritis (KL \u2265 2)",
        "labels": ["Normal", "Osteoarthritis"],
        "positive_classes": ["2", "3", "4"],
    },
)


def _isolate_qsettings(folder: Path) -> None:
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))


def _write_chest_and_knee_models(root: Path) -> None:
    from tests.fixtures.tiny_models import make_tiny_model_dir

    make_tiny_model_dir(root, model_id="tiny_chest", body_part="chest", labels=("NORMAL", "PNEUMONIA"), task="binary")
    make_tiny_model_dir(
        root, model_id="tiny_knee", body_part="knee", labels=("0", "1", "2", "3", "4"), task="ordinal",
        derived_outputs=KNEE_DERIVED,
    )


@pytest.fixture(scope="session", autouse=True)
def _isolated_qt_settings() -> None:
    """Even code that builds ``QSettings("XRayDesk", "XRayDesk")`` itself writes to a temp folder."""
    if "PySide6.QtCore" in sys.modules:
        _isolate_qsettings(_SESSION_HOME / "qsettings")


@pytest.fixture(autouse=True)
def _user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Records, logs and settings of the app go to this test's temp folder."""
    folder = tmp_path / "user_data"
    monkeypatch.setenv("XRAYDESK_DATA_DIR", str(folder))
    return folder


@pytest.fixture()
def settings(tmp_path: Path):
    """A QSettings store private to one test (pass it to build_app / RecentFiles)."""
    from PySide6.QtCore import QSettings

    _isolate_qsettings(tmp_path / "qsettings")
    return QSettings(str(tmp_path / "xraydesk.ini"), QSettings.Format.IniFormat)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chest binary CAM model and a knee 5-grade ordinal model with the OA derived output."""

    root = tmp_path_factory.mktemp("models")
    _write_chest_and_knee_models(root)
    return root


@pytest.fixture(scope="session")
def tiny_registry(tiny_models_dir: Path):
    """Discovered once per session: sessions are read-only and safe to share."""
    from desktop.inference.registry import ModelRegistry

    return ModelRegistry.discover(tiny_models_dir)


@pytest.fixture(scope="session")
def guarded_registry(tmp_path_factory: pytest.TempPathFactory):
    """The tiny chest and knee models plus a tiny body-part guard (see ``guard_image``)."""
    from desktop.inference.registry import ModelRegistry
    from tests.fixtures.tiny_models import make_tiny_model_dir

    root = tmp_path_factory.mktemp("guarded_models")
    _write_chest_and_knee_models(root)
    make_tiny_model_dir(root, model_id="body_part", role="body_part")
    return ModelRegistry.discover(root)
