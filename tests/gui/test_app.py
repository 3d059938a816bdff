"""The composition root: run_gui's smoke mode, in process and as ``python -m desktop``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop import APP_NAME, app as app_module
from tests.gui.helpers import positive_image

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_run_gui_exit_after_show(qapp, tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                 _user_data_dir: Path) -> None:
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("XRAYDESK_T0", repr(__import__("time").perf_counter()))
    # The user's list from a real session: a smoke run given several files neither reads it
    # nor replaces it with its own.
    kept = _user_data_dir / "worklist.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("the user's list", encoding="utf-8")
    files = [str(positive_image(tmp_path / name)) for name in ("a.png", "b.png")]
    code = app_module.run_gui(files, exit_after_show=True)
    assert code == 0
    assert kept.read_text(encoding="utf-8") == "the user's list"
    out = capsys.readouterr().out
    match = re.search(r"window shown after (\d+\.\d{3}) s", out)
    assert match and float(match.group(1)) < 30
    assert QApplication.applicationName() == APP_NAME
    assert QApplication.organizationName() == "XRayDesk"
    assert not QApplication.windowIcon().isNull()


def test_start_time_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("XRAYDESK_T0", str(time.time() - 2.0))  # epoch seconds from a launcher
    assert time.perf_counter() - app_module._start_time() == pytest.approx(2.0, abs=0.5)
    monkeypatch.setenv("XRAYDESK_T0", str(time.perf_counter() - 1.0))  # a perf_counter reading
    assert time.perf_counter() - app_module._start_time() == pytest.approx(1.0, abs=0.5)
    monkeypatch.delenv("XRAYDESK_T0")
    assert app_module._start_time() <= time.perf_counter()


def test_python_m_desktop_exit_after_show(tiny_models_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYDESK_MODELS_DIR=str(tiny_models_dir),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XRAYDESK_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--exit-after-show"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"window shown after \d+\.\d{3} s", result.stdout), result.stdout


def test_macos_file_open_events_open_the_file(qapp) -> None:
    from PySide6.QtGui import QFileOpenEvent

    from desktop.app import _FileOpenForwarder

    opened: list[list[str]] = []
    forwarder = _FileOpenForwarder(opened.append)
    assert forwarder.eventFilter(qapp, QFileOpenEvent("/tmp/scan.dcm")) is True
    assert opened == [["/tmp/scan.dcm"]]
