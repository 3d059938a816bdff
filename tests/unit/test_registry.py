"""Model discovery: which folders become usable models, and why the others are refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from desktop.core.files import file_sha256
from desktop.core.model_card import load_card
from desktop.inference.registry import ModelRegistry
from desktop.inference.session import ModelLoadError, ModelSession
from tests.fixtures.tiny_models import make_tiny_model_dir

KNEE_LABELS = ("KL0", "KL1", "KL2", "KL3", "KL4")


def _edit_card(folder: Path, **changes: object) -> None:
    card_path = folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card.update(changes)
    card_path.write_text(json.dumps(card), encoding="utf-8")


def _reason(registry: ModelRegistry, model_id: str) -> str:
    matches = [u.reason for u in registry.unavailable if u.model_id == model_id]
    assert matches, f"{model_id} should be unavailable; unavailable: {registry.unavailable}"
    assert model_id not in [m.id for m in registry.available]
    return matches[0]


def test_discovers_good_models_and_filters_by_body_part(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    make_tiny_model_dir(tmp_path, model_id="tiny_knee", body_part="knee", labels=KNEE_LABELS, task="ordinal")
    make_tiny_model_dir(tmp_path, model_id="tiny_tab", task="tabular", heatmap="none")
    (tmp_path / "notes").mkdir()  # neither card nor model: not a model folder, silently ignored

    registry = ModelRegistry.discover(tmp_path)

    assert [m.id for m in registry.available] == ["tiny_chest", "tiny_knee", "tiny_tab"]
    assert registry.unavailable == ()
    assert [m.id for m in registry.for_body_part("chest")] == ["tiny_chest"]
    # The tabular model is loaded but never offered for image runs.
    assert [m.id for m in registry.for_body_part("knee")] == ["tiny_knee"]
    assert registry.for_body_part("patient") == ()
    assert [m.id for m in registry.image_models] == ["tiny_chest", "tiny_knee"]
    assert registry.for_body_part("other_bone") == ()
    assert registry.get("tiny_tab").card.task == "tabular"
    assert registry.get("tiny_chest").folder == tmp_path / "tiny_chest"


def test_hash_mismatch_is_unavailable_with_reason(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="good")
    make_tiny_model_dir(tmp_path, model_id="tampered", corrupt_hash=True)
    registry = ModelRegistry.discover(tmp_path)
    assert [m.id for m in registry.available] == ["good"]
    assert _reason(registry, "tampered") == "model.onnx does not match the sha256 in its card (file changed or corrupted)"


def test_model_file_changed_after_card_is_detected(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="edited")
    with (folder / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    assert "sha256" in _reason(ModelRegistry.discover(tmp_path), "edited")


def test_renamed_output_is_unavailable(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="renamed", rename_output=True)
    reason = _reason(ModelRegistry.discover(tmp_path), "renamed")
    assert "'probabilities'" in reason and "probs_renamed" in reason


def test_card_naming_wrong_input_is_unavailable(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="wrong_input")
    _edit_card(folder, input={"name": "image", "shape": [None, 32, 32, 1]})
    assert "'image'" in _reason(ModelRegistry.discover(tmp_path), "wrong_input")


def test_cam_weights_that_do_not_fit_the_feature_map_are_refused(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="bad_cam")
    _edit_card(folder, heatmap={"method": "cam", "class_weights": [[1.0, 0.0]] * 3})
    assert "channels" in _reason(ModelRegistry.discover(tmp_path), "bad_cam")


def test_missing_card_is_unavailable(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="orphan")
    (folder / "model.json").unlink()
    assert "no model card" in _reason(ModelRegistry.discover(tmp_path), "orphan")


def test_missing_onnx_and_invalid_card_are_unavailable(tmp_path: Path) -> None:
    (make_tiny_model_dir(tmp_path, model_id="no_onnx") / "model.onnx").unlink()
    (make_tiny_model_dir(tmp_path, model_id="bad_json") / "model.json").write_text("{not json", encoding="utf-8")
    _edit_card(make_tiny_model_dir(tmp_path, model_id="moved"), id="other_name")
    registry = ModelRegistry.discover(tmp_path)
    assert "missing" in _reason(registry, "no_onnx")
    assert "model card is invalid" in _reason(registry, "bad_json")
    assert "does not match the folder name" in _reason(registry, "moved")
    assert registry.available == ()


def test_garbage_onnx_with_matching_hash_is_unavailable(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="garbage")
    payload = b"this is not an ONNX protobuf" * 10
    (folder / "model.onnx").write_bytes(payload)
    _edit_card(folder, sha256=hashlib.sha256(payload).hexdigest())
    assert _reason(ModelRegistry.discover(tmp_path), "garbage").startswith("ONNX Runtime cannot load model.onnx")


def test_get_explains_unknown_and_unavailable_ids(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="good")
    make_tiny_model_dir(tmp_path, model_id="tampered", corrupt_hash=True)
    registry = ModelRegistry.discover(tmp_path)
    with pytest.raises(KeyError) as unknown:
        registry.get("nope")
    assert "no model 'nope'" in unknown.value.args[0] and "good" in unknown.value.args[0]
    with pytest.raises(KeyError) as broken:
        registry.get("tampered")
    assert "unavailable" in broken.value.args[0] and "sha256" in broken.value.args[0]


def test_missing_folder_gives_empty_registry_and_env_sets_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = ModelRegistry.discover(tmp_path / "absent")
    assert empty.available == () and empty.unavailable == ()
    make_tiny_model_dir(tmp_path, model_id="from_env")
    monkeypatch.setenv("XRAYDESK_MODELS_DIR", str(tmp_path))
    assert [m.id for m in ModelRegistry.discover().available] == ["from_env"]


def test_session_returns_outputs_by_name_and_checks_names(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="tiny")
    card = load_card(folder / "model.json")
    assert file_sha256(folder / "model.onnx") == card.sha256
    session = ModelSession(folder / "model.onnx", card, threads=1)
    outputs = session.run(np.zeros((3, 32, 32, 1), dtype=np.float64))  # dtype is converted for the model
    assert set(outputs) == {"probabilities", "feature_map"}
    assert outputs["probabilities"].shape == (3, 2)
    assert outputs["feature_map"].shape == (3, 16, 16, 4)
    assert session.fixed_batch_size is None

    renamed = make_tiny_model_dir(tmp_path, model_id="renamed", rename_output=True)
    with pytest.raises(ModelLoadError, match="probabilities"):
        ModelSession(renamed / "model.onnx", load_card(renamed / "model.json"))


def test_readers_get_the_plain_language_limits_and_cards_without_them_all_limits(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    assert load_card(folder / "model.json").limits_for_readers == ("Hand-wired weights; detects bright blobs, not disease.",)
    _edit_card(folder, clinical_limitations=["Detects blobs, not disease."])
    card = load_card(folder / "model.json")
    assert card.limitations == ("Hand-wired weights; detects bright blobs, not disease.",)
    assert card.limits_for_readers == ("Detects blobs, not disease.",)
