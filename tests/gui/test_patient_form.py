"""Patient form and risk panel, offscreen: what the user sees and what reaches the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDockWidget, QLineEdit

from desktop.core.patient import PatientRecord
from desktop.inference.risk import Contribution, OstComparison, RiskAssessment, RiskModel
from desktop.ui.patient_dock import PatientRiskWidget, build_patient_dock
from desktop.ui.patient_form import PatientForm

MODELS = Path(__file__).resolve().parents[2] / "models"
WOMAN = {"gender": "female", "age": "72", "height_m": "1.55", "weight_kg": "52", "menopause_age": "48", "pregnancies": "4"}


@pytest.fixture()
def form(qtbot) -> PatientForm:
    widget = PatientForm()
    qtbot.addWidget(widget)
    return widget


def _type(qtbot, form: PatientForm, name: str, text: str) -> None:
    editor = form.editors[name]
    assert isinstance(editor, QLineEdit)
    editor.clear()
    qtbot.keyClicks(editor, text)


def _choose(form: PatientForm, name: str, text: str) -> None:
    editor = form.editors[name]
    assert isinstance(editor, QComboBox)
    editor.setCurrentIndex(editor.findText(text))


def _assessment(**overrides) -> RiskAssessment:
    fields = dict(
        model_id="osteoporosis_risk", model_version="1.0.0", card_sha256="0" * 64, probability=0.73, label="osteoporosis",
        positive_label="osteoporosis", threshold=0.42, logit=0.99, intercept=-2.0,
        contributions=(
            Contribution(name="age", label="Age", unit="years", kind="number", value=72.0, used_value=72.0, log_odds=2.5),
            Contribution(name="estrogen_use", label="Estrogen use", unit="", kind="binary", value=1.0, used_value=1.0, log_odds=-0.4),
            Contribution(name="smoker", label="Smoker", unit="", kind="binary", value=None, used_value=0.2, log_odds=0.0),
        ),
        ost=OstComparison(value=-4.0, category="moderate"), who_category="osteoporosis",
        what_the_model_cannot_know=("Bone density: it never sees a densitometry result.",),
        warnings=("Not answered, so counted as average: Smoker.",),
    )
    fields.update(overrides)
    return RiskAssessment(**fields)


def test_women_only_fields_disable_for_men_and_are_not_sent(form: PatientForm) -> None:
    form.set_values({**WOMAN})
    women_only = ("postmenopausal", "menopause_age", "pregnancies", "estrogen_use")
    assert all(form.editors[n].isEnabled() for n in women_only)
    _choose(form, "gender", "Male")
    assert not any(form.editors[n].isEnabled() for n in women_only)
    values = form.values()
    assert all(values[n] is None for n in women_only)
    assert form.submit() is not None  # the typed pregnancies no longer block a man's record


def test_bmi_and_obesity_update_live(qtbot, form: PatientForm) -> None:
    _type(qtbot, form, "height_m", "1.6")
    _type(qtbot, form, "weight_kg", "64")
    assert form.bmi_label.text() == "25.0 kg/m\u00b2"
    assert form.obesity_label.text().startswith("No")
    _type(qtbot, form, "weight_kg", "80")
    assert form.bmi_label.text() == "31.2 kg/m\u00b2"
    assert form.obesity_label.text().startswith("Yes")
    form.obesity_override.setChecked(True)
    form.obesity_choice.setCurrentText("No")
    assert "set by you" in form.obesity_label.text()
    assert form.values()["obesity_override"] is False


def test_who_category_is_shown_live_as_a_rule(qtbot, form: PatientForm) -> None:
    _type(qtbot, form, "t_score", "-2.5")
    assert form.who_label.text() == "Osteoporosis (WHO rule, not a model)"
    _type(qtbot, form, "t_score", "-1")
    assert form.who_label.text().startswith("Normal")


def test_impossible_value_shows_a_message_and_no_assess_signal(qtbot, form: PatientForm) -> None:
    form.set_values({**WOMAN, "age": "130"})
    assert form.message_for("age") == "Must be between 0 and 120 years."
    _type(qtbot, form, "age", "45")  # now the menopause age (48) is above the age
    assert form.message_for("menopause_age") == "Menopause age cannot be above the age."
    with qtbot.assertNotEmitted(form.assess_requested):
        form.estimate_button.click()
    assert "correct 1 field" in form.summary.text()


def test_required_messages_wait_for_the_first_estimate(form: PatientForm) -> None:
    assert form.message_for("gender") == ""
    form.submit()
    assert form.message_for("gender") == "Gender is required."


def test_enter_triggers_assess_but_not_in_the_history_box(qtbot, form: PatientForm) -> None:
    form.set_values(WOMAN)
    with qtbot.assertNotEmitted(form.assess_requested):
        qtbot.keyClick(form.history, Qt.Key.Key_Return)
    with qtbot.waitSignal(form.assess_requested, timeout=1000) as blocker:
        qtbot.keyClick(form.editors["weight_kg"], Qt.Key.Key_Return)
    record = blocker.args[0]
    assert isinstance(record, PatientRecord) and record.age == 72 and record.postmenopausal is True
    with qtbot.waitSignal(form.assess_requested, timeout=1000):
        qtbot.keyClick(form.editors["smoker"], Qt.Key.Key_Enter)  # combo boxes pass Enter up too


def test_fake_service_prediction_is_shown_in_the_panel(qtbot) -> None:
    seen: list[PatientRecord] = []

    def service(record: PatientRecord) -> RiskAssessment:
        seen.append(record)
        return _assessment()

    widget = PatientRiskWidget(service=service)
    qtbot.addWidget(widget)
    widget.form.set_values(WOMAN)
    widget.form.submit()
    assert len(seen) == 1
    panel = widget.panel
    assert panel.bar.value() == 730 and "73.0%" in panel.bar.text()
    assert panel.factor_lines == ["\u25b2 Age 72 years: raises risk", "\u25bc Estrogen use (yes): lowers risk"]
    text = panel.text
    assert "Flagged: osteoporosis" in text and "threshold 42.0%" in text
    assert "OST -4.0: moderate risk band" in text
    assert "WHO rule, not a model" in text
    assert "What the model cannot know" in text and "Bone density" in text


def test_service_failure_is_shown_not_raised(qtbot) -> None:
    def broken(record: PatientRecord) -> RiskAssessment:
        raise RuntimeError("model file vanished")

    widget = PatientRiskWidget(service=broken)
    qtbot.addWidget(widget)
    widget.form.set_values(WOMAN)
    widget.form.submit()
    assert "model file vanished" in widget.panel.text


def test_dock_with_the_shipped_model_shows_a_real_estimate(qtbot) -> None:
    model = RiskModel.from_models_dir(MODELS)
    dock = build_patient_dock(service=model)
    qtbot.addWidget(dock)
    assert isinstance(dock, QDockWidget)
    widget = dock.widget()
    assert isinstance(widget, PatientRiskWidget)
    widget.form.set_values({**WOMAN, "smoker": "no"})
    qtbot.keyClick(widget.form.editors["age"], Qt.Key.Key_Return)
    result = widget.panel.assessment
    assert result is not None and result.model_id == "osteoporosis_risk"
    assert widget.panel.bar.value() == round(result.probability * 1000)
    assert widget.panel.factor_lines and all(("raises risk" in line) or ("lowers risk" in line) for line in widget.panel.factor_lines)
    assert "OST" in widget.panel.text and "cannot know" in widget.panel.text


def test_dock_without_a_model_says_so(qtbot) -> None:
    dock = build_patient_dock(service=None, unavailable_reason="its model file is missing")
    qtbot.addWidget(dock)
    assert "not available: its model file is missing" in dock.widget().panel.text


def test_dock_runs_the_service_through_a_runner(qtbot) -> None:
    from desktop.ui.task_runner import SynchronousTaskRunner

    runner = SynchronousTaskRunner()
    widget = PatientRiskWidget(service=lambda record: _assessment(probability=0.2, label="no osteoporosis"), runner=runner)
    qtbot.addWidget(widget)
    widget.form.set_values(WOMAN)
    widget.form.submit()
    assert runner.submitted == 1
    assert "Not flagged (no osteoporosis)" in widget.panel.text and "< threshold 42.0%" in widget.panel.text
