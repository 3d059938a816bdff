"""GUI-test guard (a callback that raised is a test failure, not just a log line) and the
records app most GUI tests drive."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _fail_on_callback_errors(caplog: pytest.LogCaptureFixture):
    # The task runners log (rather than raise) exceptions from callbacks so the event loop
    # survives in production; in tests such an exception must not pass unnoticed.
    caplog.set_level(logging.ERROR, logger="desktop.ui.task_runner")
    yield
    broken = [r for r in caplog.get_records("call") if r.name == "desktop.ui.task_runner" and r.levelno >= logging.ERROR]
    assert not broken, f"a task callback raised: {broken[0].getMessage()}\n{broken[0].exc_text or ''}"


@pytest.fixture()
def script():
    """Scripted answers to every question the app asks (see tests/fixtures/records_gui.py)."""
    from tests.fixtures.records_gui import ScriptedPrompts

    return ScriptedPrompts()


@pytest.fixture()
def records_app(qtbot, tiny_registry, settings, script):
    """The real window and services, records in the test's data folder, questions scripted."""
    from tests.fixtures.records_gui import make_records_app

    return make_records_app(qtbot, tiny_registry, settings, script)
