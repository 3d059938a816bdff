"""The main window: lays out the viewer, the analysis panel and the menus, and wires them.

Deliberately thin. Workflow logic lives in :class:`~desktop.ui.controller.StudyController`,
drawing in :class:`~desktop.ui.image_view.ImageView`, read-outs in the panels; this class only
connects signals to slots and persists window state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QWidget

from desktop import APP_NAME
from desktop.core.imaging import SUPPORTED_SUFFIXES
from desktop.core.joint_regions import NO_JOINT_NOTICE
from desktop.ui.about import show_about
from desktop.ui.shortcuts_help import show_shortcuts
from desktop.ui.actions import build_actions
from desktop.ui.clinic_settings import load_clinic_settings, save_clinic_settings
from desktop.ui.file_drop import FileDropFilter
from desktop.ui.backup_command import back_up_records
from desktop.ui.compare_dialog import CompareDialog, compare_with_previous
from desktop.ui.history_dialog import HistoryDialog
from desktop.ui.image_view import ImageView
from desktop.ui.measure_commands import connect_measure_actions
from desktop.ui.prompts import Prompts
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.side_panel import AnalysisPanel
from desktop.ui.status_bar import AppStatusBar
from desktop.ui.worklist_controller import worklist_dock

if TYPE_CHECKING:
    from desktop.core.imaging import XRayImage
    from desktop.core.records import StudyRecord
    from desktop.ui.controller import AnalysisOutcome, StudyController
    from desktop.ui.recent_files import RecentFiles
    from desktop.ui.records_controller import RecordsController
    from desktop.ui.worklist_controller import WorklistController

__all__ = ["MainWindow", "open_file_filter"]


_BODY_PART_KEY = "study/body_part"
_GEOMETRY_KEY = "window/geometry"
_STATE_KEY = "window/state"
_NOT_XRAY_EMPTY_TEXT = "No model was run on this image. To run one anyway, choose its study type and press Analyse."


def open_file_filter() -> str:
    """File-dialog filter; "All files" stays because DICOM files often have no extension."""
    def globs(*suffixes: str) -> str:
        return " ".join(f"*{s}" for s in suffixes)

    supported = globs(*SUPPORTED_SUFFIXES)
    return ";;".join([
        f"X-ray images ({supported})",
        "PNG (*.png)",
        "JPEG (*.jpg *.jpeg)",
        "BMP (*.bmp)",
        "TIFF (*.tif *.tiff)",
        "DICOM (*.dcm *.dicom)",
        "All files (*)",
    ])


class MainWindow(QMainWindow):
    """XRayDesk's single window."""

    def __init__(
        self,
        controller: StudyController,
        *,
        worklist: WorklistController,
        recent: RecentFiles,
        settings: QSettings,
        registry: Any | None = None,
        patient_dock: QDockWidget | None = None,
        prompts: Prompts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.prompts = prompts or Prompts()
        self.records: RecordsController | None = None
        self.history: HistoryDialog | None = None
        self.comparison: CompareDialog | None = None
        self.recent = recent
        self._settings = settings
        self._registry = registry
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")

        self.view = ImageView(self)
        self.setCentralWidget(self.view)
        self.panel = AnalysisPanel()
        self.dock = QDockWidget("Analysis", self)
        self.dock.setObjectName("analysisDock")
        self.dock.setWidget(self.panel)
        # Closable docks get lost; the panel holds the disclaimer, so it must always be there.
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.patient_dock = patient_dock
        if patient_dock is not None:
            # Tabbed with the analysis: both need the full height, and neither may get lost.
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, patient_dock)
            self.tabifyDockWidget(self.dock, patient_dock)
            self.dock.raise_()
        self.worklist = worklist
        self.worklist_dock = worklist_dock(self, worklist)
        self.status = AppStatusBar(self)
        self.setStatusBar(self.status)
        toggles = [d.toggleViewAction() for d in (patient_dock, self.worklist_dock) if d is not None]
        self.actions = build_actions(self, panel_toggles=toggles)
        self.drops = FileDropFilter(self)
        self.drops.watch(self)
        self.drops.watch(self.view.viewport())

        self._wire_view()
        self._wire_workflow()
        # Before any file is analysed (a worklist brought back included): the clinic's display.
        self.controller.set_standard_knee_display(load_clinic_settings(self._settings).standard_knee_display)
        self._restore_state()
        self.status.set_zoom(self.view.zoom)
        self.status.set_window_level(self.view.window_level)
        self.status.show_message("Ready. Drop an X-ray on the window or press Ctrl+O.")

    # ---------------------------------------------------------------- wiring
    def _wire_view(self) -> None:
        a, view = self.actions, self.view
        a.open.triggered.connect(self.choose_file)
        a.quit.triggered.connect(self.close)
        a.about.triggered.connect(lambda: show_about(self, self._registry))
        a.shortcuts_help.triggered.connect(lambda: show_shortcuts(self, a.all()))
        a.fit.triggered.connect(view.fit_to_window)
        a.zoom_in.triggered.connect(view.zoom_in)
        a.zoom_out.triggered.connect(view.zoom_out)
        a.actual_size.triggered.connect(view.actual_size)
        a.rotate.triggered.connect(view.rotate_90)
        a.reset_view.triggered.connect(view.reset_view)
        a.invert.toggled.connect(view.set_inverted)
        view.inverted_changed.connect(a.invert.setChecked)
        connect_measure_actions(a, view, prompts=self.prompts, status=self.status, parent=self)
        # The menu action and the panel's check box are two handles on one setting.
        a.heatmap.toggled.connect(self.panel.heatmap_check.setChecked)
        self.panel.heatmap_check.toggled.connect(a.heatmap.setChecked)
        a.heatmap.toggled.connect(view.set_heatmap_visible)
        self.panel.heatmap_opacity_changed.connect(view.set_heatmap_opacity)
        view.set_heatmap_opacity(self.panel.heatmap_opacity)
        self.panel.heatmap_model_changed.connect(self._show_heatmap)
        self.panel.results.result_selected.connect(self.panel.select_heatmap_source)
        view.zoom_changed.connect(self.status.set_zoom)
        view.probe_changed.connect(self.status.set_probe)
        view.window_level_changed.connect(self.status.set_window_level)

    def _wire_workflow(self) -> None:
        c = self.controller
        # Several files or a folder go to the worklist; one file opens as it is.
        self.drops.files_dropped.connect(self.worklist.take_files)
        a = self.actions
        a.open_folder.triggered.connect(self.choose_folder)
        a.next_in_worklist.triggered.connect(self.worklist.step_forward)
        a.previous_in_worklist.triggered.connect(self.worklist.step_back)
        self.worklist.message.connect(self.status.show_message)
        self.actions.recent_menu.chosen.connect(c.open_file)
        self.actions.recent_menu.clear_requested.connect(self.recent.clear)
        self.recent.changed.connect(self._refresh_recent)
        self._refresh_recent()
        self.panel.study_type_changed.connect(self._study_type_changed)
        self.panel.analyse_requested.connect(c.analyse_chosen_type)
        c.image_loaded.connect(self._image_loaded)
        c.load_failed.connect(self.show_error)
        c.analysis_started.connect(self._analysis_started)
        c.study_type_detected.connect(self.panel.set_body_part)
        c.analysis_finished.connect(self._analysis_finished)
        c.knee_sides_changed.connect(self._knee_sides_changed)
        self.panel.knee_sides.chosen.connect(c.set_knee_sides)
        c.analysis_failed.connect(self._analysis_failed)
        c.busy_changed.connect(self._busy_changed)
        c.message.connect(self.status.show_message)

    def attach_records(self, records: RecordsController) -> None:
        """Connect the records workflow (save, history, report, settings, unsaved guard)."""
        self.records = records
        a = self.actions
        a.save_study.triggered.connect(records.save)
        a.save_and_next.triggered.connect(self.worklist.save_and_next)
        a.save_pdf.triggered.connect(lambda: records.reports.export_pdf())
        a.print_report.triggered.connect(records.reports.print)
        a.copy_report.triggered.connect(records.reports.copy_text)
        a.history.triggered.connect(self.show_history)
        a.compare_previous.triggered.connect(self.compare_with_previous)
        a.backup.triggered.connect(self.back_up_records)
        a.clinic_settings.triggered.connect(self.edit_clinic_settings)
        for action in (a.save_study, a.save_and_next, a.history, a.compare_previous, a.save_pdf, a.print_report,
                       a.copy_report, a.backup):
            action.setEnabled(records.available)
        records.failed.connect(self.show_error)
        records.message.connect(self.status.show_message)
        records.dirty_changed.connect(self.setWindowModified)
        records.restored.connect(self._study_restored)
        self.worklist.attach_records(records)

    # ----------------------------------------------------------------- slots
    def show_history(self) -> HistoryDialog | None:
        """File > Study History…: window-modal, so the study behind it cannot change meanwhile."""
        if self.records is None or self.records.store is None:
            return None
        self.history = HistoryDialog(self.records.store, prompts=self.records.prompts, output=self.records.output, parent=self)
        self.history.open_requested.connect(self._open_from_history)
        self.history.open()
        return self.history

    def compare_with_previous(self) -> CompareDialog | None:
        """File > Compare with Previous Study (kept open beside the main window)."""
        if self.records is not None:
            self.comparison = compare_with_previous(self.records, self)
        return self.comparison

    def back_up_records(self) -> bool:
        """File > Back Up Records…"""
        if self.records is None or self.records.store is None:
            return False
        return back_up_records(self.records.store, prompts=self.prompts, runner=self.controller.runner, parent=self,
                               message=self.status.show_message, error=self.show_error)

    def _open_from_history(self, study_key: int) -> None:
        if self.records is not None and self.records.reopen(study_key) and self.history is not None:
            self.history.accept()

    def edit_clinic_settings(self) -> None:
        dialog = SettingsDialog(load_clinic_settings(self._settings), parent=self)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            clinic = dialog.result_settings()
            save_clinic_settings(self._settings, clinic)
            self.controller.set_standard_knee_display(clinic.standard_knee_display)
            if self.records is not None:
                self.records.clinic_changed()
            self.status.show_message("Clinic settings saved.")

    def _study_restored(self, record: StudyRecord) -> None:
        self.panel.set_body_part(record.body_part)  # the controller already has it: no re-analysis
        who = record.patient.details.name or record.report_id
        self.setWindowTitle(f"{record.original_file_name} \u2014 {who}[*] \u2014 {APP_NAME}")

    def _start_folder(self) -> str:
        recent = self.recent.paths()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def choose_file(self) -> None:
        """File > Open…: a native dialog, starting where the last file came from; several
        files chosen together are queued in the worklist."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Open X-ray", self._start_folder(), open_file_filter())
        if paths:
            self.worklist.take_files(paths)

    def choose_folder(self) -> None:
        """File > Open Folder…: queue every X-ray under a folder."""
        folder = self.prompts.choose_folder(self, "Open a folder of X-rays", self._start_folder())
        if folder:
            self.worklist.take_files([folder])

    def show_error(self, text: str) -> None:
        """Inline, non-modal: the doctor keeps working while the message is visible."""
        self.panel.show_error(text)
        self.status.show_message(text)

    def _refresh_recent(self) -> None:
        self.actions.recent_menu.set_paths(self.recent.paths())

    def _study_type_changed(self, part: str) -> None:
        self._settings.setValue(_BODY_PART_KEY, part)
        self.controller.set_body_part(part)
        self.panel.set_model_names(self.controller.model_names(part))

    def _image_loaded(self, image: XRayImage) -> None:
        self.view.set_image(image.pixels, pixel_spacing_mm=image.pixel_spacing_mm)
        self.panel.info.set_image(image)
        self.panel.clear_error()
        self.panel.show_body_part_check("")
        self.panel.set_heatmap_sources([])
        self.setWindowTitle(f"{Path(image.source_path).name}[*] \u2014 {APP_NAME}")

    def _analysis_started(self, _part: str) -> None:
        self.panel.results.show_busy()
        self.panel.show_body_part_check("")  # recomputed for the new run
        self.panel.set_heatmap_sources([])
        self.view.set_heatmap(None)
        self.view.set_joints(())
        self.panel.knee_sides.show_joints(())

    def _analysis_finished(self, outcome: AnalysisOutcome) -> None:
        self.panel.clear_error()
        empty = _NOT_XRAY_EMPTY_TEXT if outcome.skipped else NO_JOINT_NOTICE if outcome.no_joint_found else None
        self.panel.results.show_results(
            outcome.pairs, body_part=outcome.body_part, unavailable=outcome.unavailable, empty_text=empty,
            joints=outcome.joints,
        )
        # The no-joint notice rides with the guard's warnings: the same amber banner.
        self.panel.show_body_part_check(outcome.check.verdict() if outcome.check else "", outcome.warnings)
        self.view.set_joints(outcome.joints or ())
        self.panel.knee_sides.show_joints(outcome.joints)
        sources = outcome.heatmap_sources()
        self.panel.set_heatmap_sources(sources)
        self._show_heatmap(sources[0][0] if sources else None)

    def _knee_sides_changed(self, outcome: AnalysisOutcome) -> None:
        """The same results with the knees named anew: redrawn, the shown heat map kept."""
        shown = self.panel.heatmap_model_id
        self._analysis_finished(outcome)
        self.panel.select_heatmap_source(shown)

    def _analysis_failed(self, text: str) -> None:
        self.panel.results.show_placeholder("No results: the analysis did not complete.")
        self.show_error(text)

    def _show_heatmap(self, key: str | None) -> None:
        """The heat map of one result (a model id, or "model@side" for one knee joint)."""
        outcome = self.controller.outcome
        prediction = outcome.heatmap_prediction(key) if outcome is not None and key is not None else None
        if prediction is None:
            self.view.set_heatmap(None)
            self.view.highlight_joint(None)
            self.panel.results.set_selected_key(None)
            return
        self.view.set_heatmap(prediction.heatmap, region=prediction.region)
        self.view.highlight_joint(prediction.region_side)
        self.panel.results.set_selected_key(prediction.result_key)

    def _busy_changed(self, busy: bool, text: str) -> None:
        self.panel.set_busy(busy, text)
        self.status.set_busy(busy, text)
        self.panel.set_can_analyse(not busy and self.controller.image is not None)

    # ----------------------------------------------------------- persistence
    def _restore_state(self) -> None:
        part = self._settings.value(_BODY_PART_KEY) or self.controller.body_part
        self.panel.set_body_part(str(part))  # emits study_type_changed -> controller
        if self.panel.body_part != self.controller.body_part:  # unknown saved value
            self.controller.set_body_part(self.panel.body_part)
        self.panel.set_model_names(self.controller.model_names())
        geometry = self._settings.value(_GEOMETRY_KEY)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 880)
        state = self._settings.value(_STATE_KEY)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Only a window the user sees asks: the hidden one closed again at shutdown already did.
        if self.isVisible() and self.records is not None and not self.records.may_discard():
            event.ignore()  # unsaved patient data: the user chose to stay
            return
        self._settings.setValue(_GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(_STATE_KEY, self.saveState())
        self._settings.sync()
        super().closeEvent(event)
