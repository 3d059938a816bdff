"""One call to put the patient form and the risk panel into a window.

    dock = build_patient_dock(service=RiskModel.from_registry(registry), parent=window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

The dock takes a service (anything with ``assess(record)``, or a plain callable), never the
main window, so the window stays thin and tests pass a fake. One assessment (logistic regression on
one row, with its contributions) took about 0.2 ms on the 2-core development machine, so without a
runner it is called on the GUI thread; pass the app's :class:`~desktop.ui.task_runner.TaskRunner`
to move it off anyway.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from desktop.ui.patient_form import PatientForm
from desktop.ui.risk_panel import RiskPanel

if TYPE_CHECKING:
    from desktop.core.patient import PatientRecord
    from desktop.inference.risk import RiskAssessment
    from desktop.ui.task_runner import Runner

__all__ = ["PatientRiskWidget", "RiskService", "build_patient_dock"]

log = logging.getLogger(__name__)


class RiskService(Protocol):
    def assess(self, record: PatientRecord) -> RiskAssessment: ...


def _scrolled(widget: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


def _assess_function(service: RiskService | Callable[[PatientRecord], RiskAssessment] | None):
    if service is None:
        return None
    return service.assess if hasattr(service, "assess") else service


def _model_note(service: Any) -> str:
    """The card's one-line comparison with OST, when the service exposes its card."""
    card = getattr(service, "card", None)
    raw = getattr(card, "raw", None) or {}
    return str(raw.get("comparison_with_ost", {}).get("summary", ""))


class PatientRiskWidget(QWidget):
    """Form above, panel below (each scrolls); Estimate runs the service and shows the answer."""

    def __init__(
        self,
        *,
        service: RiskService | Callable[[PatientRecord], RiskAssessment] | None,
        runner: Runner | None = None,
        unavailable_reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._assess = _assess_function(service)
        self._runner = runner
        self.form = PatientForm()
        self.panel = RiskPanel(model_note=_model_note(service))
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(_scrolled(self.form))
        self.panel_scroll = _scrolled(self.panel)
        splitter.addWidget(self.panel_scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        if self._assess is None:
            reason = unavailable_reason or "no osteoporosis risk model is installed"
            self.panel.show_placeholder(f"The risk model is not available: {reason}. The form and the WHO rule still work.")
        self.form.assess_requested.connect(self._on_assess)

    def _on_assess(self, record: PatientRecord) -> None:
        if self._assess is None:
            return
        if self._runner is None:
            try:
                self.panel.show_assessment(self._assess(record))
            except Exception as exc:  # noqa: BLE001 - the form must survive any model failure
                log.warning("risk assessment failed: %s", exc, exc_info=True)
                self.panel.show_error(str(exc))
            return
        self.panel.show_placeholder("Estimating\u2026")
        assess = self._assess
        self._runner.submit(lambda: assess(record), on_result=self.panel.show_assessment,
                            on_error=lambda exc: self.panel.show_error(str(exc)))


def build_patient_dock(
    *,
    service: RiskService | Callable[[PatientRecord], RiskAssessment] | None,
    parent: QWidget | None = None,
    runner: Runner | None = None,
    unavailable_reason: str = "",
    title: str = "Patient and osteoporosis risk",
) -> QDockWidget:
    """A dock holding a :class:`PatientRiskWidget`; its ``.widget()`` gives form and panel."""
    dock = QDockWidget(title, parent)
    dock.setObjectName("patientRiskDock")  # stable name so saveState/restoreState remember it
    dock.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
    dock.setWidget(PatientRiskWidget(service=service, runner=runner, unavailable_reason=unavailable_reason))
    dock.setMinimumWidth(380)
    return dock
