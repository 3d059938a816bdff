"""``python -m desktop``: predict, evaluate, self-test and the GUI hand-off, on tiny models."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from desktop import cli, paths
from tests.fixtures.tiny_models import (
    blob_image,
    guard_image,
    make_tiny_model_dir,
    write_png,
)

REPO = Path(__file__).resolve().parents[2]
KNEE_LABELS = ("KL0", "KL1", "KL2", "KL3", "KL4")
OA = {"id": "oa", "name": "Radiographic osteoarthritis", "labels": ["Normal", "Osteoarthritis"],
      "positive_classes": ["KL2", "KL3", "KL4"]}
DARK = np.zeros((64, 64), dtype=np.float32)


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "models"
    make_tiny_model_dir(root, model_id="tiny_chest")
    make_tiny_model_dir(root, model_id="tiny_knee", body_part="knee", labels=KNEE_LABELS, task="ordinal", derived_outputs=[OA])
    make_tiny_model_dir(root, model_id="tiny_tab", task="tabular", heatmap="none")
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(root))
    return root


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, Path]:
    return {"blob": write_png(tmp_path / "in" / "blob.png", blob_image()),
            "dark": write_png(tmp_path / "in" / "dark.png", DARK)}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_predict_json_structure(models_dir: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "predict", "--json", str(images["blob"]), str(images["dark"]))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert set(record) == {"file", "sha256", "image", "predictions", "timing_ms", "study_type", "study_type_from_guard",
                           "body_part_check", "warnings", "knee_joints"}
    assert record["knee_joints"] == []  # no knee-joint model here: nobody looked for joints
    # No guard installed: nothing checked, nothing chosen, every image model runs as before.
    assert record["body_part_check"] is None and record["warnings"] == []
    assert record["study_type"] is None and record["study_type_from_guard"] is False
    assert record["file"] == str(images["blob"])
    assert record["sha256"] == hashlib.sha256(images["blob"].read_bytes()).hexdigest()
    assert record["image"] == {"width": 64, "height": 64, "format": "PNG"}
    assert set(record["timing_ms"]) == {"decode", "total"}
    by_id = {p["model_id"]: p for p in record["predictions"]}
    assert set(by_id) == {"tiny_chest", "tiny_knee"}  # all image models, never the tabular one
    chest = by_id["tiny_chest"]
    assert set(chest) == {"model_id", "model_version", "label", "probabilities", "threshold", "derived",
                          "calibrated", "warnings", "timing_ms", "region", "region_side"}
    assert chest["region"] is None and chest["region_side"] is None  # read the whole image
    assert chest["label"] == "PNEUMONIA" and chest["threshold"] == 0.5 and chest["calibrated"] is False
    assert sum(chest["probabilities"].values()) == pytest.approx(1.0)
    assert set(chest["timing_ms"]) == {"preprocess", "inference", "heatmap", "total"}
    knee = by_id["tiny_knee"]
    assert list(knee["probabilities"]) == list(KNEE_LABELS)
    assert knee["derived"]["oa"]["label"] == "Osteoarthritis"
    assert knee["derived"]["oa"]["probability"] == pytest.approx(sum(knee["probabilities"][k] for k in ("KL2", "KL3", "KL4")))
    assert json.loads(lines[1])["predictions"][0]["label"] == "NORMAL"


def test_predict_model_and_study_selection(models_dir: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "predict", "--json", "--model", "tiny_chest", "--no-heatmap", str(images["blob"]))
    assert code == 0 and [p["model_id"] for p in json.loads(out)["predictions"]] == ["tiny_chest"]
    code, out, _ = _run(capsys, "predict", "--json", "--study", "knee", str(images["blob"]))
    assert code == 0 and [p["model_id"] for p in json.loads(out)["predictions"]] == ["tiny_knee"]
    code, out, err = _run(capsys, "predict", "--model", "nope", str(images["blob"]))
    assert code == 2 and out == "" and len(err) == 1 and err[0].startswith("error: no model 'nope'")
    code, _, err = _run(capsys, "predict", "--model", "tiny_chest", "--study", "knee", str(images["blob"]))
    assert code == 2 and len(err) == 1


@pytest.fixture()
def guard_images(tmp_path: Path) -> dict[str, Path]:
    return {kind: write_png(tmp_path / "guard" / f"{kind}.png", guard_image(kind))
            for kind in ("knee", "chest", "not_xray", "unsure")}


def test_predict_guard_picks_study_type_and_warns(models_dir: Path, guard_images: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_tiny_model_dir(models_dir, model_id="body_part", role="body_part")
    files = [str(guard_images[k]) for k in ("knee", "not_xray", "unsure")]
    code, out, err = _run(capsys, "predict", "--json", "--no-heatmap", *files)
    assert code == 0, err
    knee, not_xray, unsure = (json.loads(line) for line in out.splitlines())

    assert knee["study_type"] == "knee" and knee["study_type_from_guard"] is True
    assert [p["model_id"] for p in knee["predictions"]] == ["tiny_knee"]  # the guard itself is never listed
    check = knee["body_part_check"]
    assert check["label"] == "knee" and check["confident"] is True and check["probability"] > 0.9
    assert list(check["probabilities"]) == ["knee", "chest", "other_bone", "not_xray"]
    assert check["model_id"] == "body_part" and check["verdict"].startswith("Looks like: knee X-ray (")
    assert knee["warnings"] == []

    # Not an X-ray and no model asked for: nothing runs, the warning says why, exit code 0.
    assert not_xray["predictions"] == [] and not_xray["study_type"] is None
    assert not_xray["warnings"] == ["This does not look like an X-ray (90%); no model here is valid for it."]

    # An unsure guard neither picks nor warns: every image model runs, as without a guard.
    assert unsure["body_part_check"]["confident"] is False and unsure["warnings"] == []
    assert {p["model_id"] for p in unsure["predictions"]} == {"tiny_chest", "tiny_knee"}


def test_predict_explicit_choice_runs_and_warns(models_dir: Path, guard_images: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    make_tiny_model_dir(models_dir, model_id="body_part", role="body_part")
    code, out, _ = _run(capsys, "predict", "--json", "--no-heatmap", "--study", "chest", str(guard_images["knee"]))
    record = json.loads(out)
    assert code == 0 and [p["model_id"] for p in record["predictions"]] == ["tiny_chest"]
    assert record["study_type"] == "chest" and record["study_type_from_guard"] is False
    assert record["warnings"] == ["This looks like a knee X-ray (95%); the chest models are not valid for it."]
    code, out, _ = _run(capsys, "predict", "--json", "--no-heatmap", "--model", "tiny_knee", str(guard_images["not_xray"]))
    record = json.loads(out)
    assert code == 0 and [p["model_id"] for p in record["predictions"]] == ["tiny_knee"]
    assert record["warnings"] == ["This does not look like an X-ray (90%); no model here is valid for it."]
    # The guard is a helper, not a diagnosis: asking for it by name is a usage error.
    code, _, err = _run(capsys, "predict", "--model", "body_part", str(guard_images["knee"]))
    assert code == 2 and "helper" in err[0]

    code, out, _ = _run(capsys, "predict", "--study", "chest", str(guard_images["knee"]))
    assert code == 0 and "Looks like: knee X-ray (95%)" in out
    assert "WARNING: This looks like a knee X-ray (95%); the chest models are not valid for it." in out


def test_predict_bad_file_reports_one_line_and_continues(models_dir: Path, images: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image", encoding="utf-8")
    code, out, err = _run(capsys, "predict", "--json", str(images["blob"]), str(bad), str(images["dark"]))
    assert code == 1
    assert len(out.splitlines()) == 2
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: ")


def test_predict_table_output(models_dir: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "predict", str(images["blob"]))
    assert code == 0
    assert "64 x 64 PNG" in out and "tiny_chest" in out and "PNEUMONIA" in out
    assert "Radiographic osteoarthritis: Osteoarthritis" in out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict"]) == 2
    assert cli.main(["evaluate", "--model", "x"]) == 2
    capsys.readouterr()


def _dataset(root: Path, layout: dict[str, list[np.ndarray]]) -> Path:
    for folder, pictures in layout.items():
        for i, pixels in enumerate(pictures):
            # Nest every other file to prove the walk is recursive.
            write_png(root / folder / ("sub" if i % 2 else "") / f"{i}.png", pixels)
    return root


def test_evaluate_binary_counts_and_metrics(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dataset(tmp_path / "data", {"NORMAL": [DARK, DARK, DARK, blob_image()], "pneumonia": [blob_image()] * 3})
    (data / "NORMAL" / "broken.png").write_bytes(b"\x89PNG broken")
    code, out, err = _run(capsys, "evaluate", "--model", "tiny_chest", "--data", str(data), "--batch-report")
    assert code == 0
    report = json.loads(out)
    assert report["model"] == "tiny_chest" and report["version"] == "1.0.0" and report["output"] is None
    assert report["n"] == 7 and report["n_skipped"] == 1
    assert sum("skipped" in line for line in err) == 1
    assert report["labels"] == ["NORMAL", "PNEUMONIA"]
    assert report["confusion_matrix"] == {"labels": ["NORMAL", "PNEUMONIA"], "matrix": [[3, 1], [0, 3]]}
    assert report["accuracy"] == pytest.approx(6 / 7)
    assert report["balanced_accuracy"] == pytest.approx((3 / 4 + 1) / 2)
    assert report["per_class_recall"] == {"NORMAL": 0.75, "PNEUMONIA": 1.0}
    # Three positives tie with one negative (identical blob images): (3*3 + 3*1*0.5) / (3*4).
    assert report["roc_auc"] == pytest.approx(10.5 / 12)
    assert report["quadratic_weighted_kappa"] is None
    assert len(report["files"]) == 7
    # No familiarity block in the card: nothing was checked, so nothing is counted.
    assert report["n_unfamiliar"] is None and {f["unfamiliar"] for f in report["files"]} == {None}


def test_evaluate_derived_output_and_ordinal_subset(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dataset(tmp_path / "oa", {"normal": [DARK, DARK], "Osteoarthritis": [blob_image(), blob_image(top=30)]})
    code, out, _ = _run(capsys, "evaluate", "--model", "tiny_knee", "--data", str(data), "--output", "oa")
    report = json.loads(out)
    assert code == 0 and report["output"] == "oa" and report["labels"] == ["Normal", "Osteoarthritis"]
    assert report["n"] == 4 and report["accuracy"] == 1.0 and report["roc_auc"] == 1.0
    assert report["quadratic_weighted_kappa"] is None

    grades = _dataset(tmp_path / "kl", {"kl0": [DARK, DARK], "KL4": [blob_image(), blob_image(top=30)]})
    code, out, _ = _run(capsys, "evaluate", "--model", "tiny_knee", "--data", str(grades))
    report = json.loads(out)
    assert code == 0 and report["labels"] == list(KNEE_LABELS)
    assert len(report["confusion_matrix"]["matrix"]) == 5
    assert report["accuracy"] == 1.0 and report["quadratic_weighted_kappa"] == 1.0
    assert report["roc_auc"] == 1.0  # P(KL4) / (P(KL0) + P(KL4)) separates the two folders
    assert report["per_class_recall"]["KL1"] is None


def test_evaluate_unknown_folder_is_usage_error(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dataset(tmp_path / "data", {"NORMAL": [DARK], "COVID": [DARK]})
    code, out, err = _run(capsys, "evaluate", "--model", "tiny_chest", "--data", str(data))
    assert code == 2 and out == "" and len(err) == 1 and "'COVID'" in err[0]
    code, _, err = _run(capsys, "evaluate", "--model", "tiny_chest", "--data", str(data), "--output", "oa")
    assert code == 2 and len(err) == 1


def test_self_test_passes_and_fails(models_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "self-test")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith("ok  ") for line in lines)
    assert any(line.startswith("ok  tiny_chest 1.0.0  ") and line.endswith(" ms") for line in lines)

    # A card that names a sample image runs on it; a missing sample is a failure.
    samples = tmp_path / "samples"
    write_png(samples / "chest.png", blob_image())
    monkeypatch.setattr(paths, "samples_dir", lambda: samples)
    card_path = models_dir / "tiny_chest" / "model.json"
    card = json.loads(card_path.read_text())
    card["sample_image"] = "chest.png"
    card_path.write_text(json.dumps(card))
    code, out, _ = _run(capsys, "self-test")
    assert code == 0 and "ok  tiny_chest 1.0.0  PNEUMONIA (" in out
    card["sample_image"] = "missing.png"
    card_path.write_text(json.dumps(card))
    code, out, _ = _run(capsys, "self-test")
    assert code == 1 and "FAIL tiny_chest" in out

    card["sample_image"] = "chest.png"
    card_path.write_text(json.dumps(card))
    make_tiny_model_dir(models_dir, model_id="tampered", corrupt_hash=True)
    code, out, _ = _run(capsys, "self-test")
    assert code == 1 and "FAIL tampered" in out and "sha256" in out


def test_self_test_fails_without_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(tmp_path))
    code, _, err = _run(capsys, "self-test")
    assert code == 1 and err and "no models" in err[0]


def test_files_and_no_arguments_open_the_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], bool]] = []
    fake = types.ModuleType("desktop.app")
    fake.run_gui = lambda files, *, exit_after_show: calls.append((files, exit_after_show)) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "desktop.app", fake)
    assert cli.main([]) == 7
    assert cli.main(["scan.dcm", "other.png", "--exit-after-show"]) == 7
    assert calls == [([], False), (["scan.dcm", "other.png"], True)]


def test_python_dash_m_desktop_predict(models_dir: Path, images: dict[str, Path]) -> None:
    env = {**os.environ, "XRAYDESK_MODELS_DIR": str(models_dir)}
    result = subprocess.run([sys.executable, "-m", "desktop", "predict", "--json", "--no-heatmap", str(images["blob"])],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["predictions"][0]["model_id"] == "tiny_chest"
