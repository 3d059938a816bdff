"""Heat-map references: what every film shows at a place is measured once and left out of the map."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from conversion import card_blocks, heatmap_reference
from desktop.core.model_card import CardError, load_card, parse_card
from desktop.core.records.values import CardSummary
from desktop.inference.heatmap import class_activation_map
from desktop.inference.predictor import predict_image
from desktop.inference.registry import ModelRegistry
from desktop.inference.session import ModelLoadError, ModelSession
from tests.fixtures.fake_locator import ScriptedJoints, bilateral_film, halves
from tests.fixtures.tiny_models import blob_image, make_tiny_model_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def _frame_and_blob(blob_strength: float) -> np.ndarray:
    """(8, 8, 2) features: channel 0 a frame one cell inside the edge, channel 1 a blob."""
    features = np.zeros((8, 8, 2))
    features[1, 1:7, 0] = features[6, 1:7, 0] = features[1:7, 1, 0] = features[1:7, 6, 0] = 2.0
    features[4, 4, 1] = blob_strength
    return features


def test_a_reference_leaves_out_what_every_film_shows() -> None:
    weights = np.array([[0.0, 1.0], [0.0, 1.0]])  # both channels argue for class 1
    film = _frame_and_blob(1.5)
    intact = _frame_and_blob(0.0)
    without = class_activation_map(film, weights, class_index=1, binary_positive_vs=0)
    assert np.unravel_index(np.argmax(without), without.shape) != (4, 4)  # the frame wins

    reference = intact @ (weights[:, 1] - weights[:, 0])
    with_reference = class_activation_map(film, weights, class_index=1, binary_positive_vs=0, reference=reference)
    assert np.unravel_index(np.argmax(with_reference), with_reference.shape) == (4, 4)
    assert with_reference[1, 1:7].max() == 0.0

    with pytest.raises(ValueError, match="reference map"):
        class_activation_map(film, weights, class_index=1, binary_positive_vs=0, reference=np.zeros((7, 8)))


def test_content_and_edge_cells_follow_the_padded_film() -> None:
    # A 448 x 224 film padded into 448 x 448: the middle half of the columns holds it.
    content = heatmap_reference.content_cells((28, 28), (448, 448), (0, 112, 448, 224))
    assert content.sum() == 28 * 14 and content[:, 7:21].all() and not content[:, :7].any()
    edge = heatmap_reference.edge_cells(content)
    assert edge[:, 7:9].all() and edge[:, 19:21].all() and edge[:2, 7:21].all()
    assert not edge[2:26, 9:19].any()


def test_the_edge_check_skips_a_sliver_that_covers_no_cell() -> None:
    sliver = heatmap_reference.content_cells((28, 28), (448, 448), (220, 0, 6, 448))  # a 448 x 6 strip
    assert not sliver.any()
    whole = np.ones((28, 28), dtype=bool)
    negatives = [{"group": f"n{i}", "finding": False, "views": [(np.zeros((2, 28, 28)), whole)]} for i in range(20)]
    positives = [{"group": "p0", "finding": True, "views": [], "as_given": [(np.ones((2, 28, 28)), sliver)]}]
    check = heatmap_reference.edge_check(negatives + positives, explained=1)
    assert check["maps"] == 0 and check["hottest_cell_on_film_edge_with_reference"] is None


def test_the_reference_averages_only_the_cells_a_film_covers() -> None:
    ones, twos = np.ones((1, 2, 2)), np.full((1, 2, 2), 2.0)
    left_only = np.array([[True, False], [True, False]])
    films = [{"views": [(ones, np.ones((2, 2), bool))]}, {"views": [(twos, left_only)]}]
    np.testing.assert_allclose(heatmap_reference.reference_maps(films), [[[1.5, 1.0], [1.5, 1.0]]])


def _write_films(folder: Path) -> list[tuple[Path, str, bool]]:
    films = []
    for index in range(24):
        finding = index % 2 == 0
        pixels = blob_image(64, top=30, left=30) if finding else np.full((64, 64), 0.2, dtype=np.float32)
        pixels = np.clip(pixels + np.random.default_rng(index).normal(0, 0.02, pixels.shape), 0, 1)
        path = folder / f"film_{index}.png"
        Image.fromarray((pixels * 255).astype(np.uint8)).save(path)
        films.append((path, f"patient{index}", finding))
    return films


def test_the_command_writes_a_reference_the_app_then_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    make_tiny_model_dir(models, model_id="tiny_chest")
    films = _write_films(tmp_path)
    monkeypatch.setitem(heatmap_reference.SOURCES, "tiny_chest", lambda root: films)

    assert heatmap_reference.main(["--model-id", "tiny_chest", "--models", str(models)]) == 0
    block = json.loads((models / "tiny_chest" / "model.json").read_text(encoding="utf-8"))["heatmap"]["reference"]
    assert block["images"].startswith("12 NORMAL films") and block["edge_check"]["maps"] == 12
    maps = np.asarray(block["maps"])
    assert maps.shape == (2, 16, 16)
    np.testing.assert_allclose(maps[0], -maps[1], atol=1e-3)  # binary: one direction, both signs

    model = ModelRegistry.discover(models).get("tiny_chest")
    assert len(model.card.heatmap.reference_maps) == 2
    assert model.card.heatmap_compared_with == "NORMAL films"  # what the results and the report say
    assert CardSummary.from_card(model.card).heatmap_compared_with == "NORMAL films"  # kept with a saved study
    prediction = predict_image(model, blob_image(64, top=30, left=30))
    assert prediction.heatmap is not None
    y, x = np.unravel_index(np.argmax(prediction.heatmap), prediction.heatmap.shape)
    scale = 64 / prediction.heatmap.shape[0]
    assert 30 <= y * scale <= 50 and 30 <= x * scale <= 50  # on the blob, as without a reference


def test_a_reference_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    card_path = folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["heatmap"]["reference"] = {"maps": np.zeros((2, 8, 8)).tolist()}  # the feature map is 16 x 16
    card_path.write_text(json.dumps(card), encoding="utf-8")
    registry = ModelRegistry.discover(tmp_path)
    assert not registry.available
    assert "reference" in str(registry.unavailable[0].reason)

    card["heatmap"]["reference"] = {"maps": np.zeros((3, 16, 16)).tolist()}  # three maps, two labels
    card_path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(CardError, match="one \\[rows\\]\\[cols\\] map per class"):
        load_card(card_path)

    # A hand-edited word where a number belongs: the model is refused with a reason, the app starts.
    maps = np.zeros((2, 16, 16)).tolist()
    maps[1][3][4] = "high"
    card["heatmap"]["reference"] = {"maps": maps}
    card_path.write_text(json.dumps(card), encoding="utf-8")
    registry = ModelRegistry.discover(tmp_path)
    assert not registry.available and "wrong kind" in registry.unavailable[0].reason


def test_a_reference_is_taken_as_it_is_when_the_model_does_not_state_its_grid(tmp_path: Path) -> None:
    # ONNX Runtime infers the feature map's shape for the models built here, so the check is
    # handed what a model of unknown output rank reports: nothing to compare the grid with.
    folder = make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["heatmap"]["reference"] = {"maps": np.zeros((2, 16, 16)).tolist()}
    loaded = parse_card(card)
    for shape in ([], ["N", 16, 16, 4], ["N", "H", "W", 4]):
        ModelSession._check_cam(SimpleNamespace(card=loaded), {"feature_map": SimpleNamespace(shape=shape)})
    with pytest.raises(ModelLoadError, match="8 x 8 but the card's heat-map reference is 16 x 16"):
        ModelSession._check_cam(SimpleNamespace(card=loaded), {"feature_map": SimpleNamespace(shape=["N", 8, 8, 4])})


# The fracture network, reading films at 896 px and at half size, lights the edge far less than
# at 448 px alone (edge minus middle of its reference: 2.5, against 8.3 for version 1.2.1).
@pytest.mark.parametrize(("model_id", "grid", "margin"), [("bone_fracture", (56, 56), 2), ("knee_osteoporosis", (14, 14), 5)])
def test_shipped_cards_carry_a_reference_that_holds_the_edge_response(model_id: str, grid: tuple[int, int], margin: float) -> None:
    card = load_card(REPO_ROOT / "models" / model_id / "model.json")
    maps = np.asarray(card.heatmap.reference_maps)
    assert maps.shape == (2, *grid)
    # What the reference is there to remove: a film's edge cells argue for the finding on
    # every film, far more than its middle does.
    edge = heatmap_reference.edge_cells(np.ones(grid, dtype=bool))
    assert maps[1][edge].mean() > maps[1][~edge].mean() + margin


def test_the_app_subtracts_the_reference_of_the_class_it_explains(tmp_path: Path) -> None:
    folder = make_tiny_model_dir(tmp_path, model_id="tiny_chest")
    model = ModelRegistry.discover(tmp_path).get("tiny_chest")
    assert model.card.heatmap_compared_with == ""  # no reference: nothing to compare with
    film = blob_image(64, top=30, left=30)
    maps, _ = heatmap_reference.class_contributions(model, film)
    assert predict_image(model, film).heatmap.max() > 0.9

    # A reference equal to this very film's evidence leaves nothing above it to show.
    card_path = folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["heatmap"]["reference"] = {"maps": maps.tolist()}
    card_path.write_text(json.dumps(card), encoding="utf-8")
    model = ModelRegistry.discover(tmp_path).get("tiny_chest")
    assert predict_image(model, film).heatmap.max() < 1e-3


def test_each_located_joint_is_a_view_of_a_knee_film(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tiny_model_dir(tmp_path, model_id="knee", body_part="knee", region="knee_joint")
    make_tiny_model_dir(tmp_path, model_id="whole")
    registry = ModelRegistry.discover(tmp_path)
    monkeypatch.setattr(card_blocks, "locate_knee_joints", ScriptedJoints(halves))
    film = bilateral_film()

    views, as_given = card_blocks.views_as_read(registry.get("knee"), None, film)
    assert [v.shape for v in views] == [(64, 64), (64, 64)] and as_given == 2
    views, as_given = card_blocks.views_as_read(registry.get("whole"), None, film)
    assert [v.shape for v in views] == [film.shape] and as_given == 1
    assert not card_blocks.views_as_read(registry.get("knee"), None, np.zeros((64, 160)))[0]  # no joint found
