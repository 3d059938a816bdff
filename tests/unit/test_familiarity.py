"""The familiarity check: the distance formula, the card block, and the warning it raises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conversion.common import card_text
from desktop import cli
from conversion.familiarity import fold_of, held_out_distances, image_features
from desktop.core.familiarity import UNFAMILIAR_WARNING, fit_familiarity, parse_familiarity, unfamiliar_explanation
from desktop.core.model_card import CardError, load_card
from desktop.inference.predictor import feature_vector, predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry
from tests.fixtures.tiny_models import blob_image, make_tiny_model_dir, write_png


def _reference(n: int = 400, d: int = 12, seed: int = 0) -> np.ndarray:
    mixing = np.random.default_rng(100 + d).normal(size=(d, d))  # one distribution per d
    return np.random.default_rng(seed).normal(size=(n, d)) @ mixing + 5.0


def test_reference_points_sit_near_one_and_outliers_far() -> None:
    reference = _reference()
    summary = fit_familiarity(reference, components=4)
    typical = summary.distance(_reference(seed=1))
    assert 1.1 < np.median(typical) < 1.7  # sqrt(1 + 1)
    shifted = _reference(seed=2)[:50] + 10.0 * reference.std(axis=0)
    assert summary.distance(shifted).min() > 3 * np.percentile(typical, 99)


def test_a_direction_the_reference_never_varies_in_counts() -> None:
    # Four features vary together along one direction only: leaving that line is unusual even
    # when every single feature stays inside its usual range.
    t = np.random.default_rng(3).normal(size=(300, 1))
    reference = np.hstack([t, t, t, t]) + 1e-3 * np.random.default_rng(4).normal(size=(300, 4))
    summary = fit_familiarity(reference, components=1)
    on_line = summary.distance(np.array([[1.0, 1.0, 1.0, 1.0]]))[0]
    off_line = summary.distance(np.array([[1.0, -1.0, 1.0, -1.0]]))[0]
    assert off_line > 20 * on_line


def test_card_block_round_trips_and_is_checked() -> None:
    summary = fit_familiarity(_reference(), components=4).with_threshold(2.5, {"images": "synthetic"})
    block = json.loads(json.dumps(summary.to_dict()))
    parsed = parse_familiarity(block, n_features=12)
    points = _reference(seed=5)[:20]
    assert np.allclose(parsed.distance(points), summary.distance(points), rtol=1e-4)
    assert parsed.threshold == 2.5 and parsed.reference == {"images": "synthetic"}
    assert parse_familiarity(None, n_features=12) is None
    with pytest.raises(ValueError, match="feature map has 8"):
        parse_familiarity(block, n_features=8)
    with pytest.raises(ValueError, match="disagree"):
        parse_familiarity({**block, "scale": block["scale"][:-1]}, n_features=None)
    with pytest.raises(ValueError, match="positive"):
        parse_familiarity({**block, "threshold": 0.0}, n_features=None)
    with pytest.raises(ValueError, match="method"):
        parse_familiarity({**block, "method": "knn"}, n_features=None)


def test_held_out_distances_keep_each_group_on_one_side() -> None:
    features = _reference(n=200)
    groups = np.repeat(np.arange(50), 4).astype(str)
    folds = fold_of(groups)
    assert all(len(set(folds[groups == g])) == 1 for g in set(groups))
    distances = held_out_distances(features, groups, components=4)
    in_sample = fit_familiarity(features, components=4).distance(features)
    assert distances.min() > 0 and np.median(distances) > np.median(in_sample)  # held out sits further away


def _dark_images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [np.clip(rng.uniform(0.05, 0.3) + 0.05 * rng.normal(size=(64, 64)), 0, 1).astype(np.float32) for _ in range(n)]


def _familiar_with_dark_images(root: Path) -> LoadedModel:
    """A tiny model whose familiarity block was fitted on dim noise images."""
    folder = make_tiny_model_dir(root, model_id="tiny")
    model = ModelRegistry.discover(root).get("tiny")
    reference = np.array([feature_vector(model, image) for image in _dark_images(40)])
    summary = fit_familiarity(reference, components=2)
    threshold = float(summary.distance(reference).max()) * 1.5
    card = json.loads((folder / "model.json").read_text())
    card["familiarity"] = summary.with_threshold(threshold).to_dict()
    (folder / "model.json").write_text(card_text(card))
    return ModelRegistry.discover(root).get("tiny")


def test_unfamiliar_image_is_answered_with_a_warning(tmp_path: Path) -> None:
    model = _familiar_with_dark_images(tmp_path)

    assert model.card.familiarity is not None
    assert UNFAMILIAR_WARNING not in predict_image(model, _dark_images(41)[-1]).warnings
    bright = predict_image(model, blob_image(64, blob=40))
    assert UNFAMILIAR_WARNING in bright.warnings
    assert bright.label in model.card.labels  # the answer is kept, only flagged


def test_evaluate_counts_unfamiliar_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _familiar_with_dark_images(tmp_path / "models")
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(tmp_path / "models"))
    for i, image in enumerate(_dark_images(43)[-3:]):
        write_png(tmp_path / "data" / "NORMAL" / f"{i}.png", image)
    write_png(tmp_path / "data" / "PNEUMONIA" / "blob.png", blob_image(64, blob=40))
    assert cli.main(["evaluate", "--model", "tiny", "--data", str(tmp_path / "data"), "--batch-report"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 4 and report["n_unfamiliar"] == 1
    assert [f["unfamiliar"] for f in report["files"]] == [False, False, False, True]


def test_familiarity_needs_a_feature_map(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="tiny", heatmap="occlusion")
    card = json.loads((folder / "model.json").read_text())
    card["familiarity"] = fit_familiarity(_reference(d=4), components=2).with_threshold(2.0).to_dict()
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(CardError, match="feature_map"):
        load_card(folder / "model.json")


def test_card_text_puts_number_lists_on_one_line() -> None:
    card = {"id": "x", "weights": [[0.5, -1e-05], [2, 3]], "labels": ["a", "b"], "empty": []}
    text = card_text(card)
    assert json.loads(text) == card
    assert "[0.5, -1e-05]" in text and '"labels": [\n' in text


def test_explanation_quotes_the_cards_measured_flag_rate() -> None:
    summary = fit_familiarity(_reference(), components=4).with_threshold(2.5, {"held_out_flagged": 0.0116})
    assert "flagged 1.2% of the time" in unfamiliar_explanation(summary)
    assert "99 in 100" in unfamiliar_explanation(None) and "flagged" not in unfamiliar_explanation(None)


def test_reference_reads_every_turn_of_a_model_that_answers_every_turn(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path / "models", model_id="tiny")
    files = [(write_png(tmp_path / f"{i}.png", image), f"g{i}") for i, image in enumerate(_dark_images(2))]
    upright = ModelRegistry.discover(tmp_path / "models").get("tiny")
    features, groups = image_features(upright, None, files)
    assert features.shape == (2, 4) and list(groups) == ["g0", "g1"]
    card = json.loads((folder / "model.json").read_text())
    card["test_time_views"] = ["mirror", "upside_down", "quarter_turn"]
    (folder / "model.json").write_text(json.dumps(card))
    any_turn = ModelRegistry.discover(tmp_path / "models").get("tiny")
    features, groups = image_features(any_turn, None, files)
    assert features.shape == (8, 4) and list(groups) == ["g0"] * 4 + ["g1"] * 4
