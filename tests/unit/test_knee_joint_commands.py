"""``predict`` and ``evaluate`` on whole knee films: per-joint answers and one answer per film."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from desktop import cli
from desktop.commands.evaluate import evaluate
from desktop.commands.predict import predict
from desktop.core.film_aggregation import decide_row, film_answer, severity
from desktop.core.imaging import load_image
from desktop.core.joint_regions import NO_LOCATOR_WARNING
from desktop.core.model_card import parse_card
from desktop.inference import regional
from desktop.inference.analysis import AnalysisService
from desktop.inference.knee_joints import crop_joint
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from tests.fixtures.fake_locator import ScriptedJoints, bilateral_film, halves, with_locator
from tests.fixtures.tiny_models import make_tiny_model_dir, write_png

KNEE_LABELS = ("0", "1", "2", "3", "4")
OA = {"id": "oa", "name": "Radiographic OA", "labels": ["Normal", "Osteoarthritis"], "positive_classes": ["2", "3", "4"]}

BLACK = np.zeros((64, 160), dtype=np.float32)  # the scripted locator finds no joint here


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    root = tmp_path_factory.mktemp("film_models")
    make_tiny_model_dir(root, model_id="tiny_chest")
    for model_id, aggregation in (("knee_worst", "worst_joint"), ("knee_mean", "mean")):
        make_tiny_model_dir(root, model_id=model_id, body_part="knee", labels=KNEE_LABELS, task="ordinal",
                            derived_outputs=[OA], region="knee_joint", film_aggregation=aggregation)
    return ModelRegistry.discover(root)


@pytest.fixture(autouse=True)
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedJoints:
    joints = ScriptedJoints(halves)
    monkeypatch.setattr(regional, "locate_knee_joints", joints)
    return joints


def _joint_oa(registry: ModelRegistry, model_id: str, file: Path) -> list[float]:
    """P(OA) of each joint of the film in ``file``, computed without the film-level code."""
    model = registry.get(model_id)
    film = load_image(file).pixels
    return [predict_image(model, crop_joint(film, j), with_heatmap=False).derived[0].probability for j in halves(film)]


# ------------------------------------------------------------------------------ predict
def test_predict_json_lists_joints_and_each_answer_s_region(registry: ModelRegistry, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    film = write_png(tmp_path / "film.png", bilateral_film())
    args = argparse.Namespace(files=[str(film)], study="knee", models=["knee_worst"], json=True, no_heatmap=True)
    assert predict(args, AnalysisService(with_locator(registry))) == 0
    record = json.loads(capsys.readouterr().out)
    unnamed = {"patient_side": None, "sided_by": None}  # a PNG's header says nothing about sides
    assert record["knee_joints"] == [{"box": [0, 0, 64, 64], "score": 0.9, "side": "image_left", "turn": 0, **unnamed},
                                     {"box": [0, 96, 64, 64], "score": 0.8, "side": "image_right", "turn": 0, **unnamed}]
    assert [(p["region"], p["region_side"]) for p in record["predictions"]] == [
        ([0, 0, 64, 64], "image_left"), ([0, 96, 64, 64], "image_right")]
    assert record["predictions"][0]["derived"]["oa"]["label"] == "Osteoarthritis"
    assert record["predictions"][1]["derived"]["oa"]["label"] == "Normal"
    assert record["warnings"] == []

    args.json = False
    assert predict(args, AnalysisService(with_locator(registry))) == 0
    table = capsys.readouterr().out
    assert "Knee on image left: box top 0, left 0, 64 x 64 px" in table and "[Knee on image right]" in table


def test_predict_names_the_knees_by_the_standard_display_when_asked(registry: ModelRegistry, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    film = write_png(tmp_path / "film.png", bilateral_film())
    monkeypatch.setattr(cli, "ModelRegistry", SimpleNamespace(discover=lambda: with_locator(registry)))
    code = cli.main(["predict", "--json", "--no-heatmap", "--study", "knee", "--standard-knee-display", str(film)])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert [(j["side"], j["patient_side"], j["sided_by"]) for j in record["knee_joints"]] == [
        ("image_left", "right", "clinic"), ("image_right", "left", "clinic")]


def test_predict_json_on_a_film_without_joints(registry: ModelRegistry, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    black = write_png(tmp_path / "black.png", BLACK)
    args = argparse.Namespace(files=[str(black)], study="knee", models=None, json=True, no_heatmap=True)
    assert predict(args, AnalysisService(with_locator(registry))) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["predictions"] == [] and record["knee_joints"] == []
    assert record["warnings"] == ["No knee joint was found on this image, so the knee models were not run."]


# ----------------------------------------------------------------------------- evaluate
def _films(root: Path, layout: dict[str, list[np.ndarray]]) -> Path:
    for folder, pictures in layout.items():
        for i, pixels in enumerate(pictures):
            write_png(root / folder / f"{i}.png", pixels)
    return root


def _evaluate(registry: ModelRegistry, model_id: str, data: Path, capsys: pytest.CaptureFixture[str],
              output: str | None = "oa") -> tuple[int, dict, list[str]]:
    args = argparse.Namespace(model=model_id, data=data, output=output, batch_report=True)
    code = evaluate(args, registry)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err.splitlines()


@pytest.fixture()
def films(tmp_path: Path) -> Path:
    # OA in one knee only, on either side; a film without any joint; two normal films.
    return _films(tmp_path / "films", {
        "Normal": [bilateral_film(left_blob=False), bilateral_film(left_blob=False)],
        "Osteoarthritis": [bilateral_film(), bilateral_film(left_blob=False, right_blob=True), BLACK],
    })


def test_evaluate_worst_joint_counts_a_film_as_oa_when_either_knee_is(registry: ModelRegistry, films: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = _evaluate(with_locator(registry), "knee_worst", films, capsys)
    assert code == 0, err
    assert report["n"] == 4 and report["n_no_joint"] == 1 and report["n_skipped"] == 0
    assert report["film_aggregation"] == "worst_joint" and report["joint_locator"] == "fake_knee_joint_locator"
    assert report["accuracy"] == 1.0 and report["confusion_matrix"]["matrix"] == [[2, 0], [0, 2]]
    assert err == [f"warning: no knee joint found in {films / 'Osteoarthritis' / '2.png'}"]
    by_file = {Path(f["file"]).relative_to(films).as_posix(): f for f in report["files"]}
    assert "Osteoarthritis/2.png" not in by_file  # not scored
    for name in ("Osteoarthritis/0.png", "Osteoarthritis/1.png"):
        joints = _joint_oa(registry, "knee_worst", films / name)
        assert min(joints) < 0.5 < max(joints)  # one knee each way
        assert by_file[name]["probabilities"]["Osteoarthritis"] == pytest.approx(max(joints), abs=1e-6)
        assert by_file[name]["predicted"] == "Osteoarthritis" and by_file[name]["joints"] == ["image_left", "image_right"]


def test_evaluate_mean_averages_the_joints(registry: ModelRegistry, films: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = _evaluate(with_locator(registry), "knee_mean", films, capsys)
    assert code == 0 and report["film_aggregation"] == "mean" and report["n_no_joint"] == 1
    by_file = {Path(f["file"]).relative_to(films).as_posix(): f for f in report["files"]}
    joints = _joint_oa(registry, "knee_mean", films / "Osteoarthritis" / "0.png")
    mean = float(np.mean(joints))
    assert by_file["Osteoarthritis/0.png"]["probabilities"]["Osteoarthritis"] == pytest.approx(mean, abs=1e-6)
    assert by_file["Osteoarthritis/0.png"]["predicted"] == ("Osteoarthritis" if mean >= 0.5 else "Normal")
    # The grades themselves, averaged over the joints, without a derived output.
    code, grades, _ = _evaluate(with_locator(registry), "knee_mean", _films(films.parent / "grades", {
        "0": [bilateral_film(left_blob=False)], "4": [bilateral_film(right_blob=True)]}), capsys, output=None)
    assert code == 0 and grades["n"] == 2 and grades["labels"] == list(KNEE_LABELS)


def test_evaluate_when_no_film_has_a_joint_fails_cleanly(registry: ModelRegistry, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = _films(tmp_path / "black", {"Normal": [BLACK], "Osteoarthritis": [BLACK]})
    code, report, err = _evaluate(with_locator(registry), "knee_worst", data, capsys)
    assert code == 1 and report == {}
    assert sum(line.startswith("warning: no knee joint found in ") for line in err) == 2
    assert err[-1] == f"error: no readable images under {data} (0 skipped, 2 without a knee joint)"


def test_evaluate_without_locator_grades_whole_films_and_warns_once(registry: ModelRegistry, films: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = _evaluate(registry, "knee_worst", films, capsys)
    assert code == 0 and report["n"] == 5 and report["n_no_joint"] == 0 and report["joint_locator"] is None
    assert err == [f"warning: {NO_LOCATOR_WARNING}"]
    assert all("joints" in f and f["joints"] == [] for f in report["files"])


def test_evaluate_of_a_whole_image_model_is_unchanged(registry: ModelRegistry, films: Path,
                                                      capsys: pytest.CaptureFixture[str], scripted: ScriptedJoints) -> None:
    data = _films(films.parent / "chest", {"NORMAL": [BLACK], "PNEUMONIA": [bilateral_film()]})
    code, report, err = _evaluate(with_locator(registry), "tiny_chest", data, capsys, output=None)
    assert code == 0 and err == [] and report["n"] == 2 and scripted.calls == 0
    assert not {"n_no_joint", "film_aggregation", "joint_locator"} & set(report)
    assert all("joints" not in f for f in report["files"])


# ---------------------------------------------------------------------- the aggregation rule
def _card(task: str, labels: list[str], **extra) -> object:
    data = {"id": "m", "version": "1", "task": task, "body_part": "knee", "labels": labels, "input": {"name": "input"},
            "outputs": {"probabilities": "p"}, "sha256": "0" * 64, "region": "knee_joint", **extra}
    return parse_card(data)


def test_worst_joint_uses_the_expected_grade_and_the_positive_probability() -> None:
    ordinal = _card("ordinal", ["0", "1", "2", "3", "4"])
    # Argmax says grade 2 for both; the second knee leans far more towards 3 and 4.
    mild, severe = [0.1, 0.3, 0.4, 0.1, 0.1], [0.0, 0.0, 0.4, 0.3, 0.3]
    assert severity(severe, card=ordinal, derived=None) > severity(mild, card=ordinal, derived=None)
    assert film_answer([(2, mild), (2, severe)], card=ordinal, derived=None) == (2, severe)
    binary = _card("binary", ["NORMAL", "OA"], decision={"positive_label": "OA", "threshold": 0.3})
    assert film_answer([(0, [0.8, 0.2]), (1, [0.6, 0.4])], card=binary, derived=None) == (1, [0.6, 0.4])
    derived_card = _card("ordinal", ["0", "1", "2", "3", "4"], derived_outputs=[{**OA}])
    derived = derived_card.derived("oa")
    assert film_answer([(0, [0.7, 0.3]), (1, [0.2, 0.8])], card=derived_card, derived=derived) == (1, [0.2, 0.8])


def test_mean_decides_by_the_card_s_own_rule() -> None:
    binary = _card("binary", ["NORMAL", "OA"], decision={"positive_label": "OA", "threshold": 0.3},
                   film_aggregation="mean")
    index, row = film_answer([(0, [0.9, 0.1]), (1, [0.5, 0.5])], card=binary, derived=None)
    assert row == pytest.approx([0.7, 0.3]) and index == 1  # 0.3 reaches the card's threshold
    assert decide_row([0.75, 0.25], card=binary, derived=None) == 0
    with pytest.raises(ValueError):
        film_answer([], card=binary, derived=None)
