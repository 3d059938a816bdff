"""Off-thread work: the threaded runner, the synchronous one, and stale results being dropped."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QThread

from desktop.ui.task_runner import SynchronousTaskRunner, TaskRunner
from tests.gui.helpers import DeferredTaskRunner, make_app, plain_image, positive_image


def test_threaded_runner_reports_on_the_gui_thread(qtbot) -> None:
    runner = TaskRunner(max_threads=2)
    gui_thread = QThread.currentThread()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread() is not threading.main_thread()
        return 42

    def on_result(value: int) -> None:
        seen["value"] = value
        seen["on_gui_thread"] = QThread.currentThread() is gui_thread

    runner.submit(work, on_result=on_result, on_error=lambda exc: seen.setdefault("error", exc))
    qtbot.waitUntil(lambda: "value" in seen, timeout=5000)
    assert seen == {"worker": True, "value": 42, "on_gui_thread": True}
    assert runner.pending == 0
    assert runner.shutdown(timeout_ms=1000)


def test_threaded_runner_reports_errors(qtbot) -> None:
    runner = TaskRunner()
    errors: list[BaseException] = []

    def boom() -> None:
        raise RuntimeError("decoder exploded")

    runner.submit(boom, on_result=lambda _v: None, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], RuntimeError) and str(errors[0]) == "decoder exploded"
    runner.shutdown()


def test_synchronous_runner_same_interface() -> None:
    runner = SynchronousTaskRunner()
    got: list[object] = []
    runner.submit(lambda: "ok", on_result=got.append, on_error=got.append)
    runner.submit(lambda: 1 / 0, on_result=got.append, on_error=got.append)
    assert got[0] == "ok" and isinstance(got[1], ZeroDivisionError)
    assert runner.shutdown()


def test_full_app_with_threaded_runner(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    runner = TaskRunner(max_threads=2)
    parts = make_app(qtbot, tiny_registry, settings, runner=runner)
    window = parts.window
    busy_states: list[bool] = []
    parts.controller.busy_changed.connect(lambda busy, _text: busy_states.append(busy))
    parts.controller.open_file(positive_image(tmp_path / "threaded.png"))
    # The call returns at once; decoding happens on the pool while the window stays live.
    assert window.status.is_busy and not window.panel.analyse_button.isEnabled()
    qtbot.waitUntil(lambda: len(window.panel.results.cards()) == 1, timeout=10_000)
    assert window.panel.results.cards()[0].label_widget.text() == "PNEUMONIA"
    assert not window.status.is_busy and window.panel.analyse_button.isEnabled()
    assert busy_states[0] is True and busy_states[-1] is False
    # While analysing, the panel says so.
    parts.controller.analyse()
    assert window.panel.busy_label.text() == "Analysing\u2026"
    assert window.panel.results.status_text == "Analysing\u2026"
    qtbot.waitUntil(lambda: not parts.controller.is_busy, timeout=10_000)
    assert runner.shutdown(timeout_ms=5000)


def test_stale_analysis_of_previous_image_is_ignored(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    runner = DeferredTaskRunner()
    parts = make_app(qtbot, tiny_registry, settings, runner=runner)
    controller, panel = parts.controller, parts.window.panel
    image_a = positive_image(tmp_path / "a.png")
    image_b = plain_image(tmp_path / "b.png")

    controller.open_file(image_a)
    runner.run()  # decode A -> queues the analysis of A
    assert len(runner.queue) == 1
    controller.open_file(image_b)  # the user opens B while A is still being analysed
    runner.run(1)  # decode B -> queues the analysis of B
    assert Path(controller.image.source_path).name == "b.png"
    stale = runner.run(0)  # A's analysis finishes late...
    assert stale.predictions[0].label == "PNEUMONIA"
    assert controller.outcome is None  # ...and is not shown for B
    assert panel.results.cards() == []
    assert controller.is_busy
    fresh = runner.run(0)
    assert controller.outcome.predictions == fresh.predictions
    assert controller.outcome.image is controller.image
    assert panel.results.cards()[0].label_widget.text() == "NORMAL"
    assert not controller.is_busy


def test_stale_decode_is_ignored(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    runner = DeferredTaskRunner()
    parts = make_app(qtbot, tiny_registry, settings, runner=runner)
    controller = parts.controller
    controller.open_file(positive_image(tmp_path / "slow_big.png"))
    controller.open_file(plain_image(tmp_path / "quick.png"))
    runner.run(1)  # the second file decodes first
    runner.run(0)  # the first, slower one arrives later and must not replace it
    assert Path(controller.image.source_path).name == "quick.png"
    runner.run_all()
    assert parts.window.panel.results.cards()[0].label_widget.text() == "NORMAL"


def test_changing_study_type_during_analysis_keeps_only_the_latest(qtbot, tiny_registry, settings, tmp_path: Path) -> None:
    runner = DeferredTaskRunner()
    parts = make_app(qtbot, tiny_registry, settings, runner=runner)
    parts.controller.open_file(positive_image(tmp_path / "a.png"))
    runner.run()  # decode; chest analysis queued
    parts.window.panel.set_body_part("knee")  # knee analysis queued
    runner.run(1)  # knee answers first
    runner.run(0)  # chest answers late: stale
    cards = parts.window.panel.results.cards()
    assert [c.prediction.model_id for c in cards] == ["tiny_knee"]


def test_analysis_error_is_shown_not_raised(qtbot, tiny_registry, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_app(qtbot, tiny_registry, settings)
    parts.controller.open_file(positive_image(tmp_path / "a.png"))

    def broken(*_args, **_kwargs):
        raise RuntimeError("onnxruntime ran out of memory")

    monkeypatch.setattr(parts.service, "run_models", broken)  # the step that runs the models
    parts.controller.analyse()
    panel = parts.window.panel
    assert "Analysis failed: onnxruntime ran out of memory." == panel.error_text
    assert panel.results.cards() == []
    assert parts.window.view.has_image
    assert panel.analyse_button.isEnabled()  # the user can try again
