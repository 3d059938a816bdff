"""The body-part guard in the window: it preselects the study type and warns on a mismatch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from desktop.core.records import StudyQuery
from desktop.ui.clinic_settings import ClinicSettings
from desktop.ui.report.content import report_content
from tests.fixtures.records_gui import ScriptedPrompts, make_records_app
from tests.fixtures.tiny_models import guard_image, write_png
from tests.gui.helpers import DeferredTaskRunner, drop_on, make_app

KNEE_IS_NOT_CHEST = "This looks like a knee X-ray (95%); the chest models are not valid for it."
NOT_XRAY = "This does not look like an X-ray (90%); no model here is valid for it."


def _picture(tmp_path: Path, kind: str) -> Path:
    return write_png(tmp_path / f"{kind}.png", guard_image(kind, size=96))


def _choose(app, part: str) -> None:
    """What a click in the study-type box does."""
    box = app.window.panel.study_type
    box.setCurrentIndex(box.findData(part))


def _model_ids(app) -> list[str]:
    return [card.prediction.model_id for card in app.window.panel.results.cards()]


@pytest.fixture()
def app(qtbot, guarded_registry, settings):
    return make_app(qtbot, guarded_registry, settings)


def test_dropped_knee_image_preselects_knee(app, tmp_path: Path) -> None:
    panel = app.window.panel
    assert panel.body_part == "chest"  # the default before any image
    enter_ok, drop_ok = drop_on(app.window.view.viewport(), paths=[_picture(tmp_path, "knee")])
    assert enter_ok and drop_ok
    assert panel.body_part == "knee" and app.controller.body_part == "knee"
    assert not app.controller.study_type_pinned
    assert _model_ids(app) == ["tiny_knee"]
    assert panel.guard_text == "Looks like: knee X-ray (95%)"
    assert panel.body_part_warning_text == "" and not panel.body_part_banner.isVisible()
    assert "tiny knee" in panel.models_hint.text().lower()


def test_pinned_wrong_type_shows_the_warning_and_clears_when_fixed(app, tmp_path: Path) -> None:
    panel = app.window.panel
    app.controller.open_file(_picture(tmp_path, "knee"))
    _choose(app, "chest")  # the user insists on chest models
    assert app.controller.study_type_pinned
    assert _model_ids(app) == ["tiny_chest"]
    assert panel.body_part_banner.isVisible() and panel.body_part_banner.kind == "warning"
    banner = panel.body_part_banner.grab().toImage()
    inside = banner.pixelColor(5, banner.height() // 2)  # left margin: background, not text
    assert (inside.red(), inside.green(), inside.blue()) == (0xFF, 0xF0, 0xCC), "the amber warning style is applied"
    assert panel.body_part_warning_text == f"Warning: {KNEE_IS_NOT_CHEST}"
    assert app.controller.outcome.warnings == (KNEE_IS_NOT_CHEST,)
    assert panel.guard_text == "Looks like: knee X-ray (95%)"

    _choose(app, "knee")  # the warning is recomputed for the new choice
    assert _model_ids(app) == ["tiny_knee"]
    assert panel.body_part_warning_text == "" and not panel.body_part_banner.isVisible()
    panel.analyse_button.click()  # a re-run keeps the user's type
    assert panel.body_part == "knee" and _model_ids(app) == ["tiny_knee"]


def test_a_new_image_is_guarded_afresh(app, tmp_path: Path) -> None:
    app.controller.open_file(_picture(tmp_path, "knee"))
    _choose(app, "knee")
    _choose(app, "chest")  # pinned to chest for the knee image
    app.controller.open_file(_picture(tmp_path, "chest"))
    assert not app.controller.study_type_pinned
    assert app.window.panel.body_part == "chest" and _model_ids(app) == ["tiny_chest"]
    assert app.window.panel.body_part_warning_text == ""
    app.controller.open_file(_picture(tmp_path, "knee"))  # the pin to chest was for the other image
    assert app.window.panel.body_part == "knee" and _model_ids(app) == ["tiny_knee"]


def test_not_an_xray_runs_nothing_until_the_user_asks(app, tmp_path: Path) -> None:
    panel = app.window.panel
    app.controller.open_file(_picture(tmp_path, "not_xray"))
    assert _model_ids(app) == [] and app.controller.outcome.skipped
    assert panel.results.status_text.startswith("No model was run on this image.")
    assert panel.body_part_warning_text == f"Warning: {NOT_XRAY}"
    assert panel.guard_text == "Looks like: not an X-ray (90%)"
    panel.analyse_button.click()  # "run the shown study type anyway"
    assert _model_ids(app) == ["tiny_chest"]
    assert panel.body_part_warning_text == f"Warning: {NOT_XRAY}"  # still warned, with results


def test_unsure_guard_keeps_the_chosen_type_and_stays_quiet(app, tmp_path: Path) -> None:
    panel = app.window.panel
    _choose(app, "knee")  # no image open: this is only the default, not a pin
    app.controller.open_file(_picture(tmp_path, "unsure"))
    assert panel.body_part == "knee" and _model_ids(app) == ["tiny_knee"]
    assert panel.guard_text.startswith("Looks like: unsure (")
    assert panel.body_part_warning_text == ""


def test_guard_runs_off_the_gui_thread_with_the_models(qtbot, guarded_registry, settings, tmp_path: Path) -> None:
    runner = DeferredTaskRunner()
    app = make_app(qtbot, guarded_registry, settings, runner=runner)
    app.controller.open_file(_picture(tmp_path, "knee"))
    runner.run()  # decode
    assert len(runner.queue) == 1  # guard and models: one worker task
    assert app.window.panel.body_part == "chest"  # nothing decided on the GUI thread yet
    result = runner.run()
    assert result.chosen_by_guard and result.check.label == "knee"
    assert app.window.panel.body_part == "knee" and _model_ids(app) == ["tiny_knee"]


def test_warning_is_stored_reopened_and_printed(qtbot, guarded_registry, settings, tmp_path: Path) -> None:
    script = ScriptedPrompts()
    app = make_records_app(qtbot, guarded_registry, settings, script)
    app.controller.open_file(_picture(tmp_path, "knee"))
    _choose(app, "chest")
    record = app.records.save()
    assert record.warnings == (KNEE_IS_NOT_CHEST,)
    assert record.body_part_check.label == "knee" and record.body_part == "chest"
    content = report_content(record, clinic=ClinicSettings(), generated_at=record.created_at)
    assert content.warnings == (KNEE_IS_NOT_CHEST,)
    assert dict(content.study_rows)["Image check"] == "Looks like: knee X-ray (95%)"

    app.controller.open_file(_picture(tmp_path, "chest"))  # another study replaces it...
    assert app.window.panel.body_part_warning_text == ""
    [summary] = [s for s in app.store.search_studies(StudyQuery()) if s.key == record.key]
    assert app.records.reopen(summary.key)  # ...and reopening shows the stored warning again
    assert app.window.panel.body_part_warning_text == f"Warning: {KNEE_IS_NOT_CHEST}"
    assert app.window.panel.guard_text == "Looks like: knee X-ray (95%)"

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("poppler-utils not installed")
    script.paths.append(str(tmp_path / "report.pdf"))
    target = app.records.reports.export_pdf()
    text = subprocess.run([pdftotext, str(target), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert f"Warning: {KNEE_IS_NOT_CHEST}" in flat
    # Under the Findings heading, above the findings table (its "Decision rule" column header).
    assert flat.index("Findings") < flat.index("Warning: This looks like") < flat.index("Decision rule")
