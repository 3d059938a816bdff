"""Composition root: builds the services, the controller and the window, and runs the GUI.

Nothing else creates services for the window; tests call :func:`build_app` with their own
registry, settings and (synchronous) task runner, and the CLI calls :func:`run_gui`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import shiboken6
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication

from desktop import APP_NAME, __version__, paths
from desktop.core.records import RecordError, RecordStore, open_store
from desktop.core.records.recovery import RecoveryFolder
from desktop.ui.controller import StudyController
from desktop.ui.main_window import MainWindow
from desktop.ui.patient_dock import build_patient_dock
from desktop.ui.patient_link import PatientLink
from desktop.ui.patient_lookup import PatientLookup
from desktop.ui.prompts import Prompts
from desktop.ui.recent_files import RecentFiles, app_settings
from desktop.ui.records_controller import RecordsController
from desktop.ui.report.fonts import apply_fallback_families, register_bundled_fonts
from desktop.ui.task_runner import Runner, TaskRunner
from desktop.ui.unsaved_keeper import UnsavedWorkKeeper, offer_unsaved_work
from desktop.ui.worklist_controller import WorklistController

__all__ = ["XRayDeskApp", "app_icon", "build_app", "create_application", "risk_from_dict", "run_gui"]

log = logging.getLogger(__name__)

# Fallback start time when neither the launcher nor the OS can tell us when the process began.
_IMPORTED_AT = time.perf_counter()
ORGANISATION = "XRayDesk"
# Decoding and inference each get a thread; more would only fight the models for the CPU.
WORKER_THREADS = 2
# --exit-after-show gives up after this long without an expose event (broken display).
SHOW_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class XRayDeskApp:
    """Everything the composition root built, for the event loop and for tests."""

    window: MainWindow
    controller: StudyController
    registry: Any
    service: Any
    runner: Runner
    recent: RecentFiles
    settings: QSettings
    records: RecordsController | None = None
    store: RecordStore | None = None
    keeper: UnsavedWorkKeeper | None = None  # None when the records are unavailable


def app_icon() -> QIcon:
    """The application icon from ``resources/icons`` (SVG preferred), or an empty icon."""
    folder = paths.resources_dir() / "icons"
    for name in ("xraydesk.svg", "xraydesk.png"):
        candidate = folder / name
        if candidate.is_file():
            return QIcon(str(candidate))
    return QIcon()


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (reused if one exists), named so QSettings finds its store."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationVersion(__version__)
    # Lets GNOME/Wayland match the window to the installed menu entry and its icon.
    app.setDesktopFileName("xraydesk")
    icon = app_icon()
    if not icon.isNull():
        app.setWindowIcon(icon)
    register_bundled_fonts()  # names in every bundled script print, whatever the PC has installed
    # The window too: patient names and signs such as >= must not turn into boxes on a PC
    # whose fonts lack them.
    app.setFont(apply_fallback_families(app.font()))
    return app


def build_app(
    *,
    registry: Any | None = None,
    service: Any | None = None,
    runner: Runner | None = None,
    settings: QSettings | None = None,
    store: RecordStore | None = None,
    prompts: Prompts | None = None,
    keep_worklist: bool = True,
) -> XRayDeskApp:
    """Discover models, build the analysis service, controller and window, and wire them.

    ``store`` defaults to the SQLite records in the user data folder; if that cannot be
    opened the app still starts (viewing and analysis work) and says why records are off.
    ``prompts`` replaces the save/discard, confirm, file and print dialogs (tests).
    ``keep_worklist`` False: the last session's worklist is neither brought back nor
    overwritten (a smoke run must leave the user's list as it was).
    """
    # Imported here so a broken inference stack is reported by the caller, not at import time.
    from desktop.inference.analysis import AnalysisService
    from desktop.inference.registry import ModelRegistry

    if registry is None:
        registry = ModelRegistry.discover()
    if service is None:
        service = AnalysisService(registry)
    if runner is None:
        runner = TaskRunner(max_threads=WORKER_THREADS)
    if settings is None:
        settings = app_settings()
    recent = RecentFiles(settings)
    controller = StudyController(service, runner=runner, registry=registry, recent=recent)
    risk_service, risk_reason = _risk_service(registry)
    patient_dock = build_patient_dock(service=risk_service, runner=runner, unavailable_reason=risk_reason)
    prompts = prompts or Prompts()
    kept_at = paths.user_data_dir() / "worklist.json" if keep_worklist else None
    worklist = WorklistController(controller, service, prompts=prompts, kept_at=kept_at)
    window = MainWindow(controller, worklist=worklist, recent=recent, settings=settings, registry=registry,
                        patient_dock=patient_dock, prompts=prompts)
    store_reason = ""
    if store is None:
        try:
            store = open_store()
        except RecordError as exc:
            log.error("records disabled: %s", exc)
            store_reason = str(exc).rstrip(".")
    records = RecordsController(
        store=store, study=controller, notes=window.panel.report, patient=PatientLink(patient_dock.widget(), decode_risk=risk_from_dict),
        settings=settings, registry=registry, prompts=prompts, dialog_parent=window, unavailable_reason=store_reason,
        measurements=window.view.measure_tool,
    )
    window.attach_records(records)
    worklist.restore()
    keeper = None
    if store is not None:
        PatientLookup(store, patient_dock.widget().form, parent=window)
        # Dies with the window: its timer reads the window's fields.
        keeper = UnsavedWorkKeeper(records, RecoveryFolder(paths.user_data_dir() / "recovery"), parent=window)
    return XRayDeskApp(window, controller, registry, service, runner, recent, settings, records, store, keeper)


def risk_from_dict(data: Mapping[str, Any]) -> Any:
    """A stored risk assessment (``dataclasses.asdict`` form) as the risk panel's value object.

    Lives in the composition root because the UI may not import the inference layer; raises
    when the stored shape no longer fits (the panel then shows the stored numbers as text).
    """
    import dataclasses

    from desktop.inference.risk import Contribution, OstComparison, RiskAssessment

    def build(cls: type, values: Mapping[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}
        # NaN was stored as null (JSON has no NaN); the unknown-intercept fields want it back.
        return cls(**{k: (float("nan") if v is None and k in ("intercept", "logit") else v)
                      for k, v in values.items() if k in names})

    values = dict(data)
    values["contributions"] = tuple(build(Contribution, c) for c in data.get("contributions", []))
    values["ost"] = build(OstComparison, data["ost"])
    for key in ("what_the_model_cannot_know", "warnings"):
        values[key] = tuple(data.get(key, ()))
    return build(RiskAssessment, values)


def _risk_service(registry: Any) -> tuple[Any | None, str]:
    """The osteoporosis risk model, or None and the reason (the form still works without it)."""
    from desktop.inference.risk import RiskModel

    try:
        return RiskModel.from_registry(registry), ""
    except Exception as exc:  # noqa: BLE001 - any broken risk model only disables the estimate
        log.warning("risk model unavailable: %s", exc)
        return None, str(exc).rstrip(".")


def _start_time() -> float:
    """Process start on the ``time.perf_counter`` clock.

    ``XRAYDESK_T0`` wins when set: seconds since the epoch (``date +%s.%N`` in a launcher
    script) or a ``perf_counter`` reading taken earlier in this process. Next comes ``T0`` of
    ``desktop.__main__``, then the OS's record of when the process started (Linux), and last
    the moment this module was imported.
    """
    raw = os.environ.get("XRAYDESK_T0")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            log.warning("ignoring XRAYDESK_T0=%r: not a number", raw)
        else:
            # perf_counter counts from boot, so only wall-clock epochs exceed a billion seconds.
            return time.perf_counter() - (time.time() - value) if value > 1e9 else value
    main_t0 = getattr(sys.modules.get("desktop.__main__"), "T0", None)
    if isinstance(main_t0, float):
        return main_t0
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start, in ticks since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started_s
        return time.perf_counter() - age
    except (OSError, IndexError, ValueError, AttributeError):
        return _IMPORTED_AT


class _ShownReporter(QObject):
    """Prints the startup time once the window is really on screen, then quits."""

    def __init__(self, app: QApplication, t0: float) -> None:
        super().__init__()
        self._app = app
        self._t0 = t0
        self.reported = False
        # A timer we own (not a bare singleShot) so it dies with us and cannot quit a later loop.
        self._give_up = QTimer(self)
        self._give_up.setSingleShot(True)
        self._give_up.timeout.connect(lambda: app.exit(1))
        self._give_up.start(SHOW_TIMEOUT_MS)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Expose and getattr(watched, "isExposed", lambda: False)():
            self.report()
        return False

    def report(self) -> None:
        if self.reported:
            return
        self.reported = True
        self._give_up.stop()
        # The CLI contract: one line on stdout, parsed by the packaging smoke test.
        print(f"window shown after {time.perf_counter() - self._t0:.3f} s", flush=True)
        # exit(), not quit(): Qt 6's quit() also closes the windows, and the close arriving
        # after the loop has ended would leave the next event loop in this process dead.
        QTimer.singleShot(0, self, lambda: self._app.exit(0))


def _close_quietly(app: QApplication, window: MainWindow) -> None:
    """Close and destroy the window after the event loop ended, without a late quit.

    Closing or destroying the last window asks Qt to quit; asked while no event loop runs,
    that leaves Qt's quit flag set, and every later loop in the process (a second run_gui, a
    test's wait) would return at once. So destroy it now, with that behaviour switched off.
    """
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    try:
        window.close()  # saves geometry and dock layout
        shiboken6.delete(window)
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)


class _FileOpenForwarder(QObject):
    """macOS sends files double-clicked in Finder while the app runs as FileOpen events."""

    def __init__(self, open_files: Callable[[list[str]], object]) -> None:
        super().__init__()
        self._open_files = open_files

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent) and event.file():
            self._open_files([event.file()])
            return True
        return False


def run_gui(files: list[str], *, exit_after_show: bool = False) -> int:
    """Open the main window and ``files`` (one opens; several, or a folder, fill the worklist); return the exit code.

    With ``exit_after_show`` the app prints ``window shown after X.XXX s`` once the window is
    exposed and exits with 0 (1 if it never appears), which packaging tests use as a smoke run.
    """
    t0 = _start_time()
    app = create_application()
    # A smoke run neither reads the user's kept worklist (and its files) nor writes over it.
    parts = build_app(keep_worklist=not exit_after_show)
    window = parts.window
    reporter: _ShownReporter | None = None
    if exit_after_show:
        reporter = _ShownReporter(app, t0)
        window.winId()  # create the native window now so the filter sees its first expose
        window.windowHandle().installEventFilter(reporter)
    window.show()
    if reporter is not None and window.windowHandle().isExposed():
        reporter.report()
    if parts.keeper is not None and reporter is None:  # a smoke run neither asks nor clears
        offer_unsaved_work(parts.keeper, parts.records, parts.window.prompts, window)
        app.aboutToQuit.connect(parts.keeper.forget)
    app.aboutToQuit.connect(parts.window.worklist.keep_pending)  # a change in its last half second too
    if files:
        parts.window.worklist.take_files(files)
    file_open = _FileOpenForwarder(parts.window.worklist.take_files)
    app.installEventFilter(file_open)
    code = app.exec()
    app.removeEventFilter(file_open)
    parts.runner.shutdown()
    _close_quietly(app, window)
    if parts.store is not None:
        parts.store.close()
    if reporter is not None:
        reporter.deleteLater()
        return 0 if reporter.reported else 1
    return int(code)
