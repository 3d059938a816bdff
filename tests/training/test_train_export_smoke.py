"""One-step training on generated images, exported through the production code path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorflow", reason="training extras not installed")

from conversion import export_keras  # noqa: E402
from conversion.cards import load_template  # noqa: E402
from desktop.core.model_card import Preprocessing, load_card  # noqa: E402
from desktop.inference.registry import ModelRegistry  # noqa: E402
from training import tasks, train_image_model  # noqa: E402


def _write_dataset(root: Path, rng: np.random.Generator) -> None:
    """Pneumonia-style folders and names; 'PNEUMONIA' images carry a bright blob."""
    for subset in ("train", "val"):
        for label in ("NORMAL", "PNEUMONIA"):
            folder = root / "pneumonia" / subset / label
            folder.mkdir(parents=True)
            for i in range(12):
                pixels = rng.uniform(0, 90, size=(48, 40))
                if label == "PNEUMONIA":
                    pixels[10:30, 8:28] += 140
                stem = f"person{i + (0 if subset == 'train' else 100)}_bacteria_{i}" if label == "PNEUMONIA" else f"IM-{i + (0 if subset == 'train' else 100):04d}-0001"
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{stem}.jpeg", quality=95)


@pytest.fixture()
def tiny_task(monkeypatch: pytest.MonkeyPatch) -> tasks.ImageTask:
    small = dataclasses.replace(
        tasks.IMAGE_TASKS["pneumonia"],
        preprocessing=Preprocessing(size=(32, 32), resize="squash", clahe_clip_limit=2.0, clahe_tile_grid=(4, 4)),
        widths=(4, 4, 8, 8, 8),
        head_width=8,
        epochs=1,
        batch_size=8,
    )
    monkeypatch.setitem(tasks.IMAGE_TASKS, "pneumonia", small)
    return small


def test_train_then_export_produces_a_loadable_calibrated_model(tmp_path: Path, tiny_task: tasks.ImageTask) -> None:
    _write_dataset(tmp_path / "data", np.random.default_rng(0))
    run_dir = tmp_path / "run"
    report = train_image_model.train(
        tiny_task, data_root=tmp_path / "data", out_dir=run_dir, cache_dir=tmp_path / "cache", epochs=1, seed=1, max_images=48
    )
    assert (run_dir / "model.keras").exists()
    assert report["temperature"] > 0
    assert set(report["test"]) >= {"n", "accuracy", "roc_auc", "confusion_matrix", "expected_calibration_error"}
    splits = json.loads((run_dir / "pneumonia.json").read_text())["splits"]
    groups = {name: {group for _, group in rows} for name, rows in splits.items()}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["val"]

    models_dir = tmp_path / "models"
    assert export_keras.main(["--source", str(run_dir / "model.keras"), "--model-id", "pneumonia", "--out", str(models_dir)]) == 0
    card = load_card(models_dir / "pneumonia" / "model.json")
    assert card.heatmap.method == "cam" and card.feature_map_output
    assert card.calibration["temperature"] == report["temperature"]
    assert card.preprocessing.clahe_clip_limit == 2.0
    assert card.raw["conversion"]["parity"]["max_abs_diff_probabilities"] <= 1e-4
    # The plain-language limits a reader sees come from the card prose, like the full ones.
    assert card.clinical_limitations == tuple(load_template("pneumonia")["clinical_limitations"])

    registry = ModelRegistry.discover(models_dir)
    assert not registry.unavailable, registry.unavailable
    assert [m.card.id for m in registry.available] == ["pneumonia"]


def _write_knee_dataset(root: Path, rng: np.random.Generator) -> None:
    """KL-style folders 0-4; both knees of a patient share the id; grade shows as a bright band."""
    for subset in ("train", "val"):
        for grade in range(5):
            folder = root / "kl_grade" / subset / str(grade)
            folder.mkdir(parents=True)
            for i in range(6):
                pixels = rng.uniform(0, 60, size=(40, 40))
                pixels[:, : 6 + 6 * grade] += 150  # left-right asymmetric, so the mirror view differs
                patient = 9000000 + 100 * grade + i + (50 if subset == "val" else 0)
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{patient}{'LR'[i % 2]}.png")


def test_view_averaged_ordinal_run_is_recalibrated_from_its_weights_and_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = dataclasses.replace(
        tasks.IMAGE_TASKS["knee_kl"],
        preprocessing=Preprocessing(size=(32, 32), resize="squash", clahe_clip_limit=2.0, clahe_tile_grid=(4, 4)),
        widths=(4, 4, 8, 8, 8), head_width=8, epochs=1, batch_size=8,
    )
    monkeypatch.setitem(tasks.IMAGE_TASKS, "knee_kl", small)
    _write_knee_dataset(tmp_path / "data", np.random.default_rng(5))
    common = dict(data_root=tmp_path / "data", cache_dir=tmp_path / "cache", seed=1, max_images=60)
    first = train_image_model.train(small, out_dir=tmp_path / "first", epochs=1, **common)
    assert first["test_time_views"] == ["mirror"] and len(first["class_bias"]) == 5

    # --epochs 0 --init-from: the same weights, calibrated and reported again, with the whole path.
    again = train_image_model.train(small, out_dir=tmp_path / "again", epochs=0, init_from=tmp_path / "first" / "model.keras", **common)
    assert again["epochs_run"] == first["epochs_run"]
    assert again["command"].startswith(first["command"] + " && ") and "--epochs 0 --init-from" in again["command"]
    assert again["duration_s"] >= first["duration_s"]
    assert again["class_bias"] == pytest.approx(first["class_bias"], abs=1e-3)

    models_dir = tmp_path / "models"
    assert export_keras.main(["--source", str(tmp_path / "again" / "model.keras"), "--model-id", "knee_kl", "--out", str(models_dir)]) == 0
    card = load_card(models_dir / "knee_kl" / "model.json")
    assert card.raw["test_time_views"] == ["mirror"]
    assert card.calibration["class_bias"] == again["class_bias"]
    assert card.calibration["method"].endswith("averaged over the image and its re-oriented views (mirror)")
    registry = ModelRegistry.discover(models_dir)
    assert not registry.unavailable, registry.unavailable


def test_an_interrupted_run_resumes_from_its_last_epoch_when_run_again(
    tmp_path: Path, tiny_task: tasks.ImageTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_dataset(tmp_path / "data", np.random.default_rng(3))
    common = dict(data_root=tmp_path / "data", out_dir=tmp_path / "run", cache_dir=tmp_path / "cache", epochs=3, seed=1, max_images=48)
    csv_logger = train_image_model.keras.callbacks.CSVLogger
    log_epoch = csv_logger.on_epoch_end

    def end_sitting_after_second_epoch(self, epoch, logs=None) -> None:
        log_epoch(self, epoch, logs)  # the last callback: the backup of this epoch is written
        if epoch == 1:
            raise KeyboardInterrupt("the sitting ends")

    monkeypatch.setattr(csv_logger, "on_epoch_end", end_sitting_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_image_model.train(tiny_task, **common)
    assert (tmp_path / "run" / "interrupted_run_backup").is_dir()
    assert float((tmp_path / "run" / "interrupted_run_seconds.txt").read_text()) > 0

    monkeypatch.setattr(csv_logger, "on_epoch_end", log_epoch)
    report = train_image_model.train(tiny_task, **common)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1", "2"]  # only epoch 2 ran on resuming
    assert report["epochs_run"] == 3
    assert not (tmp_path / "run" / "interrupted_run_backup").exists()
    assert not (tmp_path / "run" / "interrupted_run_seconds.txt").exists()


def test_two_runs_joined_are_calibrated_exported_and_average_their_logits(tmp_path: Path, tiny_task: tasks.ImageTask) -> None:
    from training import ensemble
    from training.architectures import LOGITS_LAYER

    _write_dataset(tmp_path / "data", np.random.default_rng(4))
    common = dict(data_root=tmp_path / "data", cache_dir=tmp_path / "cache", epochs=1, seed=1, max_images=48)
    train_image_model.train(tiny_task, out_dir=tmp_path / "narrow", **common)
    train_image_model.train(dataclasses.replace(tiny_task, widths=(4, 6, 8, 12, 12), head_width=12), out_dir=tmp_path / "wide", **common)
    members = [tmp_path / "narrow" / "model.keras", tmp_path / "wide" / "model.keras"]
    assert ensemble.main(["--task", "pneumonia", "--members", *map(str, members), "--out", str(tmp_path / "pair")]) == 0

    keras = train_image_model.keras
    images = np.random.default_rng(0).random((3, 32, 32, 1)).astype(np.float32)
    logits = [keras.Model(m.inputs, m.get_layer(LOGITS_LAYER).output).predict(images, verbose=0) for m in map(keras.models.load_model, [*members, tmp_path / "pair" / "model.keras"])]
    np.testing.assert_allclose(logits[2], (logits[0] + logits[1]) / 2, atol=1e-5)

    report = train_image_model.train(tiny_task, out_dir=tmp_path / "calibrated", init_from=tmp_path / "pair" / "model.keras", **{**common, "epochs": 0})
    assert report["epochs_run"] == 2 and "training.ensemble" in report["command"]
    models_dir = tmp_path / "models"
    assert export_keras.main(["--source", str(tmp_path / "calibrated" / "model.keras"), "--model-id", "pneumonia", "--out", str(models_dir)]) == 0
    card = load_card(models_dir / "pneumonia" / "model.json")
    assert card.heatmap.method == "cam" and np.asarray(card.heatmap.class_weights).shape == (8 + 12, 2)
    assert not ModelRegistry.discover(models_dir).unavailable


def test_networks_that_cannot_be_averaged_are_refused(tmp_path: Path) -> None:
    from training import ensemble
    from training.architectures import build_cam_cnn

    small = build_cam_cnn(input_size=(32, 32), n_classes=2, widths=(4, 4, 8, 8, 8), head_width=8)
    other_size = build_cam_cnn(input_size=(48, 48), n_classes=2, widths=(4, 4, 8, 8, 8), head_width=8)
    with pytest.raises(ValueError, match="takes"):
        ensemble.joined_network([small, other_size], name="pair")
    with pytest.raises(ValueError, match="at least two"):
        ensemble.joined_network([small], name="alone")


def test_the_recorded_command_repeats_a_run_with_its_overrides() -> None:
    task = tasks.IMAGE_TASKS["knee_kl"]
    plain = train_image_model.rerun_command(task, task.epochs, None, task.learning_rate, train_image_model.REPO_ROOT / "runs" / "knee_kl")
    assert plain == "python -m training.train_image_model --task knee_kl"
    wider = dataclasses.replace(task, widths=(32, 48, 96, 160, 256), head_width=320, strip_band_rate=0.2, ordinal_weight=0.15)
    command = train_image_model.rerun_command(wider, 30, None, task.learning_rate, train_image_model.REPO_ROOT / "runs" / "knee_kl_wide")
    assert command == (
        "python -m training.train_image_model --task knee_kl --epochs 30 --widths 32 48 96 160 256 --head-width 320"
        " --strip-band-rate 0.2 --ordinal-weight 0.15 --out runs/knee_kl_wide"
    )


def test_a_member_without_its_training_report_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training import ensemble
    from training.architectures import build_cam_cnn

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        build_cam_cnn(input_size=(32, 32), n_classes=2, widths=(4, 4, 8, 8, 8), head_width=8).save(tmp_path / name / "model.keras")
    (tmp_path / "a" / "training_report.json").write_text('{"command": "x", "duration_s": 1, "epochs_run": 1}')
    members = [str(tmp_path / name / "model.keras") for name in ("a", "b")]
    assert ensemble.main(["--task", "pneumonia", "--members", *members, "--out", str(tmp_path / "pair")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "pair").exists()
