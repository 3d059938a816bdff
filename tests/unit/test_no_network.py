"""The app is offline: importing it, discovering models and predicting open no socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import cli
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from tests.fixtures.network import refuse_network
from tests.fixtures.tiny_models import blob_image, make_tiny_model_dir, write_png

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter so that module imports themselves are covered. Sockets are
# disabled before the first desktop import; every attempt is recorded and refused.
_SCRIPT = r"""
import json, pkgutil, importlib, socket, sys
calls = []
def deny(name):
    def refuse(*args, **kwargs):
        calls.append(name)
        raise OSError("network disabled by test: " + name)
    return refuse
socket.socket.connect = deny("connect")
socket.socket.connect_ex = deny("connect_ex")
socket.create_connection = deny("create_connection")
socket.getaddrinfo = deny("getaddrinfo")
import desktop
imported = []
def walk(path, prefix):
    # Qt modules are covered by the GUI variant of this test; desktop.app needs a display.
    # pkgutil.walk_packages would import desktop.ui sub-packages just to list them.
    for info in pkgutil.iter_modules(path, prefix):
        if info.name.startswith("desktop.ui") or info.name in ("desktop.app", "desktop.__main__"):
            continue
        module = importlib.import_module(info.name)
        imported.append(info.name)
        if info.ispkg:
            walk(module.__path__, info.name + ".")
walk(desktop.__path__, "desktop.")
from desktop import cli
code = cli.main(["predict", "--json", sys.argv[2]])
with open(sys.argv[1], "w") as handle:
    json.dump({"calls": calls, "code": code, "imported": imported, "qt": "PySide6" in sys.modules}, handle)
"""


@pytest.fixture()
def socket_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return refuse_network(monkeypatch)


def test_guard_records_connection_attempts(socket_calls: list[str]) -> None:
    """The guard itself works, so an empty record below means something."""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with pytest.raises(OSError), socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))
    assert socket_calls == ["create_connection", "connect"]


def test_discover_predict_and_cli_open_no_socket(socket_calls: list[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    make_tiny_model_dir(models, model_id="tiny_chest")
    make_tiny_model_dir(models, model_id="tiny_occ", heatmap="occlusion")
    registry = ModelRegistry.discover(models)
    for model in registry.available:
        predict_image(model, blob_image())
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(models))
    image = write_png(tmp_path / "scan.png", blob_image())
    assert cli.main(["predict", "--json", str(image)]) == 0
    assert cli.main(["self-test"]) == 0
    capsys.readouterr()
    assert socket_calls == []


def test_fresh_import_and_cli_predict_open_no_socket(tmp_path: Path) -> None:
    models = tmp_path / "models"
    make_tiny_model_dir(models, model_id="tiny_chest")
    image = write_png(tmp_path / "scan.png", blob_image())
    report = tmp_path / "report.json"
    env = {**os.environ, "XRAYDESK_MODELS_DIR": str(models)}
    result = subprocess.run([sys.executable, "-c", _SCRIPT, str(report), str(image)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(report.read_text())
    assert outcome["code"] == 0
    assert outcome["calls"] == []
    assert {"desktop.cli", "desktop.inference.registry", "desktop.core.imaging"} <= set(outcome["imported"])
    assert outcome["qt"] is False  # the command line never pulls in Qt
