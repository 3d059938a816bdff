"""Menu actions and their shortcuts, built in one place so the main window only connects them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

__all__ = ["RecentMenu", "WindowActions", "build_actions"]


@dataclass(frozen=True)
class WindowActions:
    """Every action of the main window, reachable by name (tests trigger them directly)."""

    open: QAction
    open_folder: QAction
    next_in_worklist: QAction
    previous_in_worklist: QAction
    save_study: QAction
    save_and_next: QAction
    history: QAction
    compare_previous: QAction
    backup: QAction
    save_pdf: QAction
    print_report: QAction
    copy_report: QAction
    clinic_settings: QAction
    quit: QAction
    fit: QAction
    zoom_in: QAction
    zoom_out: QAction
    actual_size: QAction
    invert: QAction
    rotate: QAction
    reset_view: QAction
    measure: QAction
    measure_angle: QAction
    calibrate: QAction
    undo_measurement: QAction
    clear_measurements: QAction
    heatmap: QAction
    shortcuts_help: QAction
    about: QAction
    recent_menu: RecentMenu

    def all(self) -> list[QAction]:
        """Every action, in the order declared (menus and the shortcut help read them)."""
        return [value for value in vars(self).values() if isinstance(value, QAction)]


def _action(parent: QObject, text: str, *shortcuts: str | QKeySequence.StandardKey, tip: str = "", checkable: bool = False) -> QAction:
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(s) for s in shortcuts])
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
    return action


class RecentMenu(QMenu):
    """File > Open Recent: refilled from a list of paths, emits the chosen one."""

    chosen = Signal(str)
    clear_requested = Signal()

    def __init__(self, parent: QMainWindow) -> None:
        super().__init__("Open &Recent", parent)
        self.set_paths([])

    def set_paths(self, paths: list[str]) -> None:
        self.clear()
        for index, path in enumerate(paths, start=1):
            # Numbered entries give keyboard access (Alt+F, R, 1) like other desktop apps.
            label = f"&{index % 10}  {Path(path).name}" if index <= 10 else Path(path).name
            action = self.addAction(label)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.chosen.emit(p))
        if paths:
            self.addSeparator()
            self.addAction("Clear Menu").triggered.connect(self.clear_requested)
        else:
            self.addAction("No recent files").setEnabled(False)
        self.setEnabled(True)

    def paths(self) -> list[str]:
        return [a.statusTip() for a in self.actions() if a.statusTip()]


def build_actions(window: QMainWindow, *, panel_toggles: Sequence[QAction] = ()) -> WindowActions:
    """Create the actions and the File / View / Help menus on ``window``.

    ``panel_toggles``: show/hide actions of closable docks, so a closed panel can come back.
    """
    actions = WindowActions(
        open=_action(window, "&Open\u2026", QKeySequence.StandardKey.Open,
                     tip="Open an X-ray image or DICOM file (choose several to queue them in the worklist)"),
        open_folder=_action(window, "Open &Folder\u2026", "Ctrl+Shift+O",
                            tip="Queue every X-ray in a folder (and its sub-folders) in the worklist"),
        next_in_worklist=_action(window, "&Next in Worklist", "Ctrl+PgDown", tip="Open the next queued file"),
        previous_in_worklist=_action(window, "Pre&vious in Worklist", "Ctrl+PgUp", tip="Open the previous queued file"),
        save_study=_action(window, "&Save Study", QKeySequence.StandardKey.Save,
                           tip="Store the image, results, patient data and notes in the records"),
        save_and_next=_action(window, "Save and Ne&xt in Worklist", "Ctrl+Return", "Ctrl+Enter",
                              tip="Save the study, then open the next queued file"),
        history=_action(window, "Study &History\u2026", "Ctrl+Shift+H", tip="Find, reopen, compare, delete or export saved studies"),
        compare_previous=_action(window, "&Compare with Previous Study\u2026", "Ctrl+Shift+P",
                                 tip="Save this study, then show it beside the patient's latest earlier study"),
        backup=_action(window, "&Back Up Records\u2026",
                       tip="Copy every saved study and image into one checked zip file (for a USB stick)"),
        save_pdf=_action(window, "Save Report as P&DF\u2026", "Ctrl+Shift+S", tip="Save the study, then write its report as a PDF"),
        print_report=_action(window, "&Print Report\u2026", QKeySequence.StandardKey.Print, tip="Save the study, then print its report"),
        copy_report=_action(window, "Copy Report as &Text", "Ctrl+Shift+C",
                            tip="Save the study, then copy its report as plain text (for a clinic record or a letter)"),
        clinic_settings=_action(window, "Clinic &Settings\u2026", QKeySequence.StandardKey.Preferences, "Ctrl+,",
                                tip="Clinic name, address, logo, page size and doctor for reports"),
        quit=_action(window, "&Quit", QKeySequence.StandardKey.Quit),
        fit=_action(window, "&Fit to Window", "F", tip="Show the whole image"),
        zoom_in=_action(window, "Zoom &In", "+", "=", "Ctrl+=", QKeySequence.StandardKey.ZoomIn),
        zoom_out=_action(window, "Zoom &Out", "-", QKeySequence.StandardKey.ZoomOut),
        actual_size=_action(window, "&Actual Size", "1", tip="One image pixel per screen pixel"),
        invert=_action(window, "&Invert", "I", tip="Swap black and white", checkable=True),
        rotate=_action(window, "&Rotate 90\u00b0", "R", tip="Rotate clockwise"),
        reset_view=_action(window, "R&eset View", "0", tip="Fit, no rotation, no inversion, default window/level"),
        measure=_action(window, "&Measure Distance", "M", checkable=True,
                        tip="Drag on the image to measure (Shift+drag measures in any mode); mm when the scale is known"),
        measure_angle=_action(window, "Measure &Angle", "A", checkable=True,
                              tip="Drag two lines on the image (two bone axes, or the fragments of a fracture): the angle between them"),
        calibrate=_action(window, "Set &Scale from Last Line…", "Shift+C",
                          tip="Give the real length of the newest line (a ruler or marker on the film) to measure in mm"),
        undo_measurement=_action(window, "&Undo Last Measurement", QKeySequence.StandardKey.Undo,
                                 tip="Remove the newest measurement"),
        clear_measurements=_action(window, "&Clear Measurements", "Shift+M", tip="Remove every measurement from the image"),
        heatmap=_action(window, "Show &Heat Map", "H", tip="Show where the model looked", checkable=True),
        shortcuts_help=_action(window, "&Keyboard and Mouse\u2026", QKeySequence.StandardKey.HelpContents,
                               tip="Every shortcut and mouse gesture"),
        about=_action(window, "&About XRayDesk"),
        recent_menu=RecentMenu(window),
    )
    actions.heatmap.setChecked(True)
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.open)
    file_menu.addAction(actions.open_folder)
    file_menu.addMenu(actions.recent_menu)
    file_menu.addAction(actions.next_in_worklist)
    file_menu.addAction(actions.previous_in_worklist)
    file_menu.addSeparator()
    for action in (actions.save_study, actions.save_and_next, actions.history, actions.compare_previous):
        file_menu.addAction(action)
    file_menu.addSeparator()
    for action in (actions.save_pdf, actions.print_report, actions.copy_report):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(actions.backup)
    file_menu.addAction(actions.clinic_settings)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    view_menu = bar.addMenu("&View")
    for action in (actions.fit, actions.zoom_in, actions.zoom_out, actions.actual_size):
        view_menu.addAction(action)
    view_menu.addSeparator()
    for action in (actions.invert, actions.rotate, actions.reset_view):
        view_menu.addAction(action)
    view_menu.addSeparator()
    # At most one measure mode at a time; both off means a left drag pans.
    modes = QActionGroup(window)
    modes.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
    for action in (actions.measure, actions.measure_angle):
        modes.addAction(action)
    for action in (actions.measure, actions.measure_angle, actions.calibrate, actions.undo_measurement,
                   actions.clear_measurements):
        view_menu.addAction(action)
    view_menu.addSeparator()
    view_menu.addAction(actions.heatmap)
    if panel_toggles:
        view_menu.addSeparator()
        for action in panel_toggles:
            view_menu.addAction(action)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.shortcuts_help)
    help_menu.addAction(actions.about)
    return actions
