"""The window never touches the network: building it, opening an image and analysing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.network import refuse_network
from tests.gui.helpers import make_app, positive_image


@pytest.fixture()
def network_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return refuse_network(monkeypatch)


def test_window_open_and_analyse_without_network(network_calls, qtbot, tiny_models_dir: Path, settings, tmp_path: Path) -> None:
    from desktop.inference.registry import ModelRegistry
    from desktop.ui.task_runner import TaskRunner

    # Fresh discovery inside the guarded block, with the real threaded runner.
    runner = TaskRunner()
    parts = make_app(qtbot, ModelRegistry.discover(tiny_models_dir), settings, runner=runner)
    parts.controller.open_file(positive_image(tmp_path / "a.png"))
    qtbot.waitUntil(lambda: len(parts.window.panel.results.cards()) == 1, timeout=10_000)
    parts.window.panel.set_body_part("knee")
    qtbot.waitUntil(lambda: parts.controller.outcome is not None and parts.controller.outcome.body_part == "knee", timeout=10_000)
    runner.shutdown()
    assert network_calls == []
