"""GUI-test guard: a callback that raised is a test failure, not just a log line."""

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
