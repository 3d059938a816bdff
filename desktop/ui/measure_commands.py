"""The View menu's measurement commands: the two measure modes, the scale from a reference
line, taking back the newest measurement and clearing them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.core.measurement import Distance
from desktop.ui.measure_overlay import ANGLE, DISTANCE, PAN, MeasureTool

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from desktop.ui.actions import WindowActions
    from desktop.ui.image_view import ImageView
    from desktop.ui.prompts import Prompts
    from desktop.ui.status_bar import AppStatusBar

__all__ = ["connect_measure_actions", "set_scale_from_last_line"]

NO_REFERENCE_LINE = ("To set the scale, first measure a line over something of known length "
                     "(a ruler or a marker on the film).")


def set_scale_from_last_line(tool: MeasureTool, *, prompts: Prompts, status: AppStatusBar, parent: QWidget) -> None:
    """Ask the real length of the newest line and measure every length against it."""
    if not any(isinstance(item, Distance) for item in tool.measurements):
        status.show_message(NO_REFERENCE_LINE)
        return
    length = prompts.real_length_mm(parent)
    if length is not None and tool.calibrate(length):
        status.show_message(f"Scale set: the newest line is {length:.1f} mm; every length is measured against it.")


def connect_measure_actions(actions: WindowActions, view: ImageView, *, prompts: Prompts, status: AppStatusBar,
                            parent: QWidget) -> None:
    tool = view.measure_tool

    def apply_mode() -> None:
        # The two modes are exclusive in the menu; both off means a left drag pans.
        view.set_measure_mode(ANGLE if actions.measure_angle.isChecked() else DISTANCE if actions.measure.isChecked() else PAN)

    actions.measure.toggled.connect(apply_mode)
    actions.measure_angle.toggled.connect(apply_mode)
    actions.calibrate.triggered.connect(lambda: set_scale_from_last_line(tool, prompts=prompts, status=status, parent=parent))
    actions.undo_measurement.triggered.connect(tool.remove_last)
    actions.clear_measurements.triggered.connect(tool.clear)
