"""The one way the UI runs slow work (decoding, inference) off the GUI thread.

:class:`TaskRunner` hands a callable to a ``QThreadPool`` and delivers its result or exception
back on the GUI thread through a queued signal. :class:`SynchronousTaskRunner` has the same
interface but runs the callable at once, so tests are deterministic (Picard's test pool).
Controllers depend only on the :class:`Runner` protocol and never create threads themselves.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Qt, Signal, Slot

__all__ = ["ErrorCallback", "ResultCallback", "Runner", "SynchronousTaskRunner", "TaskRunner"]

log = logging.getLogger(__name__)

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class Runner(Protocol):
    """What controllers need from a task runner."""

    def submit(self, fn: Callable[[], Any], *, on_result: ResultCallback, on_error: ErrorCallback) -> int:
        """Run ``fn``; call ``on_result(value)`` or ``on_error(exc)`` on the GUI thread."""
        ...

    def shutdown(self, *, timeout_ms: int = ...) -> bool:
        """Wait for running tasks; True when all finished in time."""
        ...


class _Job(QRunnable):
    """Runs one callable on a pool thread and reports through the runner's signal."""

    def __init__(self, task_id: int, fn: Callable[[], Any], report: Signal) -> None:
        super().__init__()
        self._task_id = task_id
        self._fn = fn
        self._report = report
        # autoDelete stays on: the pool owns the job once started (PySide transfers ownership).

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI as a message
            log.debug("task %d failed", self._task_id, exc_info=True)
            self._report.emit(self._task_id, False, exc)
        else:
            self._report.emit(self._task_id, True, value)


class TaskRunner(QObject):
    """Runs callables in a ``QThreadPool`` and calls back on the GUI thread.

    The runner must live in the GUI thread: its ``_finished`` signal is connected to its own
    slot with a queued connection, so callbacks always run in the thread that owns the
    runner, whichever pool thread emitted.
    """

    _finished = Signal(int, bool, object)

    def __init__(self, *, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads is not None:
            self._pool.setMaxThreadCount(max(1, max_threads))
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[ResultCallback, ErrorCallback]] = {}
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(self, fn: Callable[[], Any], *, on_result: ResultCallback, on_error: ErrorCallback) -> int:
        """Queue ``fn`` on the pool; returns a task id (for logging only)."""
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_result, on_error)
        self._pool.start(_Job(task_id, fn, self._finished))
        return task_id

    @property
    def pending(self) -> int:
        """Tasks submitted whose callback has not run yet."""
        return len(self._callbacks)

    def shutdown(self, *, timeout_ms: int = 30_000) -> bool:
        """Stop accepting callbacks and wait for running tasks (call before the app exits)."""
        self._pool.clear()
        done = self._pool.waitForDone(timeout_ms)
        self._callbacks.clear()
        return bool(done)

    @Slot(int, bool, object)
    def _deliver(self, task_id: int, ok: bool, payload: object) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:  # shut down meanwhile
            return
        on_result, on_error = callbacks
        _invoke(on_result if ok else on_error, payload, task_id)


class SynchronousTaskRunner:
    """Same interface as :class:`TaskRunner`, but runs each callable immediately.

    For tests: results arrive before :meth:`submit` returns, so no waiting is needed.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.submitted = 0

    def submit(self, fn: Callable[[], Any], *, on_result: ResultCallback, on_error: ErrorCallback) -> int:
        task_id = next(self._ids)
        self.submitted += 1
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - mirror TaskRunner: failures become callbacks
            _invoke(on_error, exc, task_id)
        else:
            _invoke(on_result, value, task_id)
        return task_id

    @property
    def pending(self) -> int:
        return 0

    def shutdown(self, *, timeout_ms: int = 0) -> bool:
        return True


def _invoke(callback: Callable[[Any], None], payload: Any, task_id: int) -> None:
    # A bug in a callback must not take the event loop down with it; log it loudly instead.
    try:
        callback(payload)
    except Exception:  # noqa: BLE001
        log.exception("callback of task %d raised", task_id)
