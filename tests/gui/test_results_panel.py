"""Results panel wording and the Qt-free formatting helpers behind it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from desktop.core.familiarity import UNFAMILIAR_WARNING, fit_familiarity
from desktop.core.model_card import load_card
from desktop.core.prediction import DerivedPrediction, Prediction
from desktop.ui.formatting import counted, metric_lines, percent, probe_text
from desktop.ui.image_view import PixelProbe
from desktop.ui.results_panel import ResultsPanel


def _prediction(**overrides) -> Prediction:
    fields = dict(
        model_id="chest_pneumonia",
        model_version="2.1.0",
        model_name="Pneumonia (chest X-ray)",
        body_part="chest",
        labels=("NORMAL", "PNEUMONIA"),
        probabilities=(0.27, 0.73),
        label="PNEUMONIA",
        threshold=0.42,
        positive_label="PNEUMONIA",
        calibrated=True,
        card_sha256="0" * 64,
        heatmap=np.zeros((4, 4), dtype=np.float32),
        heatmap_method="cam",
        heatmap_label="PNEUMONIA",
        warnings=("Image is smaller than the model was trained on.",),
    )
    fields.update(overrides)
    return Prediction(**fields)


@pytest.fixture()
def panel(qtbot) -> ResultsPanel:
    widget = ResultsPanel()
    qtbot.addWidget(widget)
    return widget


def _texts(widget) -> str:
    from PySide6.QtWidgets import QLabel, QProgressBar

    labels = [w.text() for w in widget.findChildren(QLabel)]
    bars = [w.text() for w in widget.findChildren(QProgressBar)]
    return "\n".join(labels + bars)


def test_binary_card_shows_everything(panel: ResultsPanel, tiny_models_dir) -> None:
    card = load_card(tiny_models_dir / "tiny_chest" / "model.json")
    panel.show_results([(_prediction(), card)], body_part="chest", unavailable=[("old_knee", "model.onnx is missing")])
    (widget,) = panel.cards()
    text = _texts(widget)
    assert widget.label_widget.text() == "PNEUMONIA"
    assert widget.bars["PNEUMONIA"].text() == "73.0%" and widget.bars["NORMAL"].text() == "27.0%"
    assert widget.bars["PNEUMONIA"].value() == 730
    assert "chest_pneumonia \u00b7 version 2.1.0" in text
    assert "Decision threshold: PNEUMONIA when P(PNEUMONIA) \u2265 0.42" in text
    assert "Calibrated probabilities" in text
    assert "Heat map: evidence for PNEUMONIA (CAM)" in text
    assert "\u26a0 Image is smaller" in text
    # The warning sits right under the answer, before the probability bars.
    layout = widget.layout()
    assert layout.indexOf(widget.warning_widgets[0]) == layout.indexOf(widget.label_widget) + 1
    assert "Internal test (n=120): accuracy 90.0%, balanced accuracy 88.0%" in text
    assert "old_knee: model.onnx is missing" in panel.unavailable_text


def test_ordinal_card_with_derived_output(panel: ResultsPanel, tiny_models_dir) -> None:
    card = load_card(tiny_models_dir / "tiny_knee" / "model.json")
    prediction = _prediction(
        model_id="knee_kl",
        labels=("0", "1", "2", "3", "4"),
        probabilities=(0.05, 0.22, 0.4, 0.23, 0.1),
        label="2",
        threshold=None,
        positive_label=None,
        calibrated=False,
        warnings=(),
        derived=(DerivedPrediction("oa", "Radiographic osteoarthritis (KL \u2265 2)", "Osteoarthritis", 0.73, 0.5, ("Normal", "Osteoarthritis")),),
    )
    panel.show_results([(prediction, card)], body_part="knee")
    (widget,) = panel.cards()
    text = _texts(widget)
    assert widget.label_widget.text() == "Grade 2"
    assert len(widget.bars) == 5
    assert "Radiographic osteoarthritis (KL \u2265 2): 73.0% \u2192 Osteoarthritis" in text
    assert "Decision threshold" not in text
    assert "Uncalibrated" in text


def test_empty_state(panel: ResultsPanel) -> None:
    assert "Open an X-ray" in panel.status_text
    panel.show_results([], body_part="other_bone")
    assert panel.status_text.startswith("No models are installed for Other bone studies")


def test_error_banner_is_dismissable(qtbot) -> None:
    from desktop.ui.side_panel import AnalysisPanel

    side = AnalysisPanel()
    qtbot.addWidget(side)
    side.show_error("'x.png' is not a PNG, JPEG, BMP, TIFF or DICOM image.")
    assert side.error_text.startswith("'x.png'")
    side.banner.dismiss()
    assert side.error_text == ""
    assert "not a diagnosis" in side.disclaimer.text()


def test_metric_lines_generic() -> None:
    flat = metric_lines({"n": 812, "accuracy": 0.931, "roc_auc": 0.9712, "confusion_matrix": [[1]]})
    assert flat == ["Held-out test (n=812): accuracy 93.1%, ROC AUC 0.971"]
    cross_validated = metric_lines({"split": "grouped 5-fold cross-validation, out-of-fold", "n": 533, "roc_auc": 0.859})
    assert cross_validated == ["Cross-validated (n=533): ROC AUC 0.859"]
    nested = metric_lines({
        "val": {"n": 100, "accuracy": 0.8},
        "test": {
            "n": 624,
            "balanced_accuracy": 0.9,
            "quadratic_weighted_kappa": 0.81,
            "oa": {"name": "Radiographic OA", "roc_auc": 0.9},
        },
        "split": "by patient",
    })
    assert nested[0] == "Internal test (n=624): balanced accuracy 90.0%, quadratic weighted \u03ba 0.810"
    assert nested[1] == "\u2003Radiographic OA: ROC AUC 0.900"
    assert nested[2] == "Validation (n=100): accuracy 80.0%"
    assert metric_lines({}) == []
    assert percent(float("nan")) == "n/a"


def test_counted_nouns() -> None:
    assert (counted(1, "file"), counted(0, "file"), counted(3, "file")) == ("1 file", "0 files", "3 files")
    assert (counted(1, "study", "studies"), counted(2, "study", "studies")) == ("1 study", "2 studies")


def test_probe_text() -> None:
    assert probe_text(None) == ""
    assert probe_text(PixelProbe(3, 4, 0.5)) == "x 3, y 4  value 0.500"
    assert probe_text(PixelProbe(3, 4, 0.5, 1.25, 2.5)).endswith("(1.2, 2.5 mm)")


def test_long_model_names_do_not_widen_the_panel_past_its_minimum(qtbot) -> None:
    """Two explained models put their full names in the heat-map chooser; the panel must
    still fit its minimum width, or result cards get clipped on the right."""
    from desktop.ui.side_panel import AnalysisPanel

    side = AnalysisPanel()
    qtbot.addWidget(side)
    side.set_heatmap_sources([
        ("knee_kl", "Knee osteoarthritis severity (Kellgren-Lawrence grade)"),
        ("knee_osteoporosis", "Knee X-ray: osteoporosis, read from every located joint of the film"),
    ])
    side.show()
    assert side.heatmap_model.isVisible()
    assert side.heatmap_model.minimumSizeHint().width() < 200
    assert side.minimumSizeHint().width() <= side.minimumWidth()


def test_unfamiliar_warning_explains_itself_with_the_cards_figures(panel: ResultsPanel, tiny_models_dir) -> None:
    card = load_card(tiny_models_dir / "tiny_chest" / "model.json")
    rows = np.random.default_rng(0).normal(size=(50, 4))
    card = dataclasses.replace(card, familiarity=fit_familiarity(rows, components=2).with_threshold(3.0, {"held_out_flagged": 0.0127}))
    panel.show_results([(_prediction(warnings=(UNFAMILIAR_WARNING, "Image is small.")), card)], body_part="chest")
    (widget,) = panel.cards()
    unfamiliar, small = widget.warning_widgets
    assert "flagged 1.3% of the time" in unfamiliar.toolTip() and small.toolTip() == ""


def test_a_referenced_heat_map_says_what_it_is_compared_with(panel: ResultsPanel, tiny_models_dir) -> None:
    card = dataclasses.replace(load_card(tiny_models_dir / "tiny_chest" / "model.json"), heatmap_compared_with="NORMAL films")
    panel.show_results([(_prediction(), card)], body_part="chest")
    assert "Heat map: evidence for PNEUMONIA compared with NORMAL films (CAM)" in _texts(panel.cards()[0])
