"""The model card: what a shipped model is, what it needs and how well it did.

Every ``models/<id>/model.json`` is parsed into a :class:`ModelCard`. The card is the single
source of truth for preprocessing, output names, decision thresholds and heat-map weights, so
the UI and the command line never hold model-specific constants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from desktop.core.familiarity import Familiarity, parse_familiarity

__all__ = [
    "BODY_PARTS",
    "CardError",
    "FILM_AGGREGATIONS",
    "DerivedOutput",
    "HeatmapSpec",
    "ModelCard",
    "REGIONS",
    "ROLES",
    "Preprocessing",
    "load_card",
    "readable_label",
]

# Study types the user picks from; every image model declares one of them.
BODY_PARTS = ("knee", "chest", "other_bone")
TASKS = ("binary", "multiclass", "ordinal", "tabular")
RESIZE_MODES = ("squash", "pad")
# "diagnosis": a model whose answer the user reads. "body_part": the guard that says what an
# image shows before any diagnosis model runs. "joint_locator": finds knee joints so the knee
# models see the crop they were trained on. Helper models read any image ("any" body part).
ROLES = ("diagnosis", "body_part", "joint_locator")
# What part of the image a diagnosis model must read. "knee_joint": one located knee joint,
# cropped the way the training crops were framed; the app finds the joints first.
REGIONS = ("knee_joint",)
# How the per-joint answers of a regional model become one answer for a whole film (evaluate).
# "worst_joint": the joint with the highest positive probability (or expected grade) speaks
# for the film, so a bilateral film is positive when either knee is. "mean": the average over
# joints, for a condition of the whole skeleton (osteoporosis) rather than of one joint.
FILM_AGGREGATIONS = ("worst_joint", "mean")


class _HasTask(Protocol):
    """A model card, or a stored study's summary of one: either says the model's task."""

    task: str


def readable_label(label: str, card: _HasTask | None) -> str:
    """A class label as a clinician reads it: a bare "3" from a grading (ordinal) model is
    "Grade 3"; every other label stays as the card names it (also when the card is unknown)."""
    task = card.task if card is not None else None
    return f"Grade {label}" if task == "ordinal" and label.isdigit() else label


class CardError(ValueError):
    """A model card is missing a field or holds a value the app cannot use."""


@dataclass(frozen=True)
class Preprocessing:
    """How a decoded grayscale image in [0, 1] becomes the model's input tensor."""

    size: tuple[int, int]  # (height, width) of the model input
    resize: str = "squash"  # "squash" stretches to size; "pad" keeps aspect ratio
    interpolation: str = "bilinear"
    clahe_clip_limit: float | None = None  # None: no contrast equalisation
    clahe_tile_grid: tuple[int, int] = (8, 8)
    mean: float = 0.0
    std: float = 1.0
    channels: int = 1


@dataclass(frozen=True)
class HeatmapSpec:
    """How to explain a prediction spatially.

    ``cam``: class activation map from the exported feature map and these dense weights
    (exact Grad-CAM for a global-average-pooling + dense head). ``occlusion``: the head has
    no global pooling, so the map comes from occluding patches and watching the probability.

    ``reference_maps`` (optional, CAM only): per class, the mean contribution of each feature
    map cell on reference films (``conversion.heatmap_reference``). Subtracted before display,
    so what every film shows at a place (a network's response to the film's edge) does not
    light up and the map shows where this film differs from the reference.
    """

    method: str  # "cam" | "occlusion" | "none"
    class_weights: tuple[tuple[float, ...], ...] = ()  # (channels, classes)
    reference_maps: tuple[tuple[tuple[float, ...], ...], ...] = ()  # (classes, rows, cols)
    occlusion_patch: float = 0.125  # fraction of the input side
    occlusion_stride: float = 0.0625


@dataclass(frozen=True)
class DerivedOutput:
    """A clinically named output computed from the class probabilities.

    Example: radiographic osteoarthritis = P(KL >= 2) = sum of the grade 2, 3 and 4 probabilities.
    """

    id: str
    name: str
    labels: tuple[str, str]  # (negative, positive)
    positive_classes: tuple[str, ...]
    threshold: float = 0.5


@dataclass(frozen=True)
class ModelCard:
    id: str
    version: str
    name: str
    task: str
    body_part: str
    labels: tuple[str, ...]
    input_name: str
    input_shape: tuple[int | None, ...]
    probabilities_output: str
    sha256: str
    threshold: float | None = None  # binary: P(positive) at or above this is positive
    threshold_rationale: str = ""
    positive_label: str | None = None
    feature_map_output: str | None = None
    preprocessing: Preprocessing | None = None
    heatmap: HeatmapSpec = field(default_factory=lambda: HeatmapSpec(method="none"))
    derived_outputs: tuple[DerivedOutput, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    intended_use: str = ""
    limitations: tuple[str, ...] = ()
    # The limits a clinician reading one result must know, in plain words (result tooltip,
    # report); ``limitations`` keeps the full evidence, with figures and how they were made.
    clinical_limitations: tuple[str, ...] = ()
    role: str = "diagnosis"
    region: str | None = None  # one of REGIONS; None: the model reads the whole image
    film_aggregation: str | None = None  # one of FILM_AGGREGATIONS; set exactly when region is
    # What the heat map is read against ("not_fractured films") when the card has a reference; "" otherwise.
    heatmap_compared_with: str = ""
    familiarity: Familiarity | None = None  # how far from its reference images an input may lie
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def limits_for_readers(self) -> tuple[str, ...]:
        """What a reader of a result is told; cards without plain-language limits give all of theirs."""
        return self.clinical_limitations or self.limitations

    @property
    def output_names(self) -> tuple[str, ...]:
        names = [self.probabilities_output]
        if self.feature_map_output:
            names.append(self.feature_map_output)
        return tuple(names)

    @property
    def is_image_model(self) -> bool:
        return self.preprocessing is not None

    @property
    def answers_every_turn(self) -> bool:
        """True when the model averages its answer over quarter turns of the image inside its
        graph (card ``test_time_views``), so a film turned a quarter needs no turning back."""
        return "quarter_turn" in tuple(self.raw.get("test_time_views", ()))

    def derived(self, output_id: str) -> DerivedOutput:
        for item in self.derived_outputs:
            if item.id == output_id:
                return item
        raise CardError(f"model {self.id!r} has no derived output {output_id!r}")


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CardError(f"{where}: missing field {key!r}")
    return data[key]


def _parse_preprocessing(data: dict[str, Any] | None) -> Preprocessing | None:
    if data is None:
        return None
    size = tuple(int(v) for v in _require(data, "size", "preprocessing"))
    if len(size) != 2 or min(size) < 8:
        raise CardError(f"preprocessing.size must be [height, width], got {size}")
    resize = data.get("resize", "squash")
    if resize not in RESIZE_MODES:
        raise CardError(f"preprocessing.resize must be one of {RESIZE_MODES}, got {resize!r}")
    clahe = data.get("clahe")
    std = float(data.get("std", 1.0))
    if std <= 0:
        raise CardError("preprocessing.std must be positive")
    return Preprocessing(
        size=(size[0], size[1]),
        resize=resize,
        interpolation=data.get("interpolation", "bilinear"),
        clahe_clip_limit=float(clahe["clip_limit"]) if clahe else None,
        clahe_tile_grid=tuple(int(v) for v in clahe.get("tile_grid", (8, 8))) if clahe else (8, 8),
        mean=float(data.get("mean", 0.0)),
        std=std,
        channels=int(data.get("channels", 1)),
    )


def _parse_heatmap(data: dict[str, Any] | None, n_labels: int) -> HeatmapSpec:
    if not data:
        return HeatmapSpec(method="none")
    method = data.get("method", "none")
    if method == "cam":
        weights = tuple(tuple(float(v) for v in row) for row in _require(data, "class_weights", "heatmap"))
        if not weights or any(len(row) != n_labels for row in weights):
            raise CardError("heatmap.class_weights must be a [channels][classes] matrix")
        return HeatmapSpec(method="cam", class_weights=weights, reference_maps=_parse_reference(data, n_labels))
    if method == "occlusion":
        return HeatmapSpec(
            method="occlusion",
            occlusion_patch=float(data.get("patch", 0.125)),
            occlusion_stride=float(data.get("stride", 0.0625)),
        )
    if method == "none":
        return HeatmapSpec(method="none")
    raise CardError(f"heatmap.method {method!r} is not one of cam, occlusion, none")


def _parse_reference(data: dict[str, Any], n_labels: int) -> tuple[tuple[tuple[float, ...], ...], ...]:
    reference = data.get("reference")
    if not reference:
        return ()
    grids = _require(reference, "maps", "heatmap.reference")
    maps = tuple(tuple(tuple(float(v) for v in row) for row in grid) for grid in grids)
    shapes = {(len(grid), len(grid[0]) if grid else 0) for grid in maps}
    widths = {len(row) for grid in maps for row in grid}
    if len(maps) != n_labels or len(shapes) != 1 or len(widths) != 1 or 0 in next(iter(shapes)):
        raise CardError("heatmap.reference.maps must be one [rows][cols] map per class, all the same shape")
    return maps


def _compared_with(heatmap: HeatmapSpec, labels: tuple[str, ...], positive: str | None) -> str:
    """A binary model's reference films are those of its other label (conversion.heatmap_reference)."""
    if not heatmap.reference_maps or positive is None:
        return ""
    return f"{next(label for label in labels if label != positive)} films"


def _parse_region(data: dict[str, Any], where: str, *, role: str, task: str) -> tuple[str | None, str | None]:
    """``region`` and ``film_aggregation``; a regional model defaults to "worst_joint"."""
    region = data.get("region")
    aggregation = data.get("film_aggregation")
    if region is None:
        if aggregation is not None:
            raise CardError(f"{where}: film_aggregation applies only to a model with a region")
        return None, None
    if region not in REGIONS:
        raise CardError(f"{where}: region must be one of {REGIONS}, got {region!r}")
    if role != "diagnosis" or task == "tabular":
        raise CardError(f"{where}: only a diagnosis model that reads images can have a region")
    if region == "knee_joint" and data.get("body_part") != "knee":
        raise CardError(f"{where}: region 'knee_joint' needs body_part 'knee'")
    # Worst joint by default: missing the diseased knee of a bilateral film is the costly error.
    aggregation = "worst_joint" if aggregation is None else aggregation
    if aggregation not in FILM_AGGREGATIONS:
        raise CardError(f"{where}: film_aggregation must be one of {FILM_AGGREGATIONS}, got {aggregation!r}")
    return str(region), str(aggregation)


def parse_card(data: dict[str, Any]) -> ModelCard:
    """Validate a card dictionary; raise :class:`CardError` with the first problem found."""
    try:
        return _parse_card(data)
    except CardError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        # A hand-edited card with a word where a number belongs (a weight, a reference map)
        # must make its model unavailable with a reason, not stop the app from starting.
        raise CardError(f"model card {data.get('id', '?')!r} holds a value of the wrong kind: {exc}") from exc


def _parse_card(data: dict[str, Any]) -> ModelCard:
    where = f"model card {data.get('id', '?')!r}"
    labels = tuple(str(v) for v in _require(data, "labels", where))
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise CardError(f"{where}: labels must be at least two distinct names")
    task = _require(data, "task", where)
    if task not in TASKS:
        raise CardError(f"{where}: task must be one of {TASKS}")
    body_part = _require(data, "body_part", where)
    role = data.get("role", "diagnosis")
    if role not in ROLES:
        raise CardError(f"{where}: role must be one of {ROLES}")
    # A patient-data model reads no image: it is marked "patient" instead of a body part.
    if task == "tabular":
        allowed: tuple[str, ...] = ("patient",)
    elif role == "body_part":
        allowed = ("any",)
    else:
        allowed = BODY_PARTS
    if body_part not in allowed:
        raise CardError(f"{where}: body_part must be one of {allowed}")
    inp = _require(data, "input", where)
    outputs = _require(data, "outputs", where)
    decision = data.get("decision", {})
    threshold = decision.get("threshold")
    if threshold is not None and not 0.0 < float(threshold) < 1.0:
        raise CardError(f"{where}: decision.threshold must lie strictly between 0 and 1")
    positive = decision.get("positive_label")
    if positive is not None and positive not in labels:
        raise CardError(f"{where}: positive_label {positive!r} is not one of the labels")
    derived = tuple(
        DerivedOutput(
            id=item["id"],
            name=item["name"],
            labels=(item["labels"][0], item["labels"][1]),
            positive_classes=tuple(item["positive_classes"]),
            threshold=float(item.get("threshold", 0.5)),
        )
        for item in data.get("derived_outputs", [])
    )
    for item in derived:
        unknown = set(item.positive_classes) - set(labels)
        if unknown:
            raise CardError(f"{where}: derived output {item.id!r} names unknown classes {sorted(unknown)}")
    region, film_aggregation = _parse_region(data, where, role=role, task=task)
    heatmap = _parse_heatmap(data.get("heatmap"), len(labels))
    try:
        familiarity = parse_familiarity(data.get("familiarity"), n_features=len(heatmap.class_weights) or None)
    except (KeyError, TypeError, ValueError) as exc:
        raise CardError(f"{where}: {exc}") from exc
    if familiarity is not None and not outputs.get("feature_map"):
        raise CardError(f"{where}: familiarity needs the feature_map output")
    sha = str(_require(data, "sha256", where)).lower()
    if len(sha) != 64:
        raise CardError(f"{where}: sha256 must be 64 hex digits")
    return ModelCard(
        id=str(_require(data, "id", where)),
        version=str(_require(data, "version", where)),
        name=str(data.get("name", data["id"])),
        task=task,
        body_part=body_part,
        labels=labels,
        input_name=str(_require(inp, "name", f"{where} input")),
        input_shape=tuple(None if v is None else int(v) for v in inp.get("shape", ())),
        probabilities_output=str(_require(outputs, "probabilities", f"{where} outputs")),
        feature_map_output=outputs.get("feature_map"),
        sha256=sha,
        threshold=float(threshold) if threshold is not None else None,
        threshold_rationale=str(decision.get("rationale", "")),
        positive_label=positive,
        preprocessing=_parse_preprocessing(data.get("preprocessing")),
        heatmap=heatmap,
        derived_outputs=derived,
        metrics=dict(data.get("metrics", {})),
        calibration=dict(data.get("calibration", {})),
        training=dict(data.get("training", {})),
        intended_use=str(data.get("intended_use", "")),
        limitations=tuple(str(v) for v in data.get("limitations", [])),
        clinical_limitations=tuple(str(v) for v in data.get("clinical_limitations", [])),
        role=role,
        region=region,
        film_aggregation=film_aggregation,
        familiarity=familiarity,
        heatmap_compared_with=_compared_with(heatmap, labels, positive),
        raw=data,
    )


def load_card(path: str | Path) -> ModelCard:
    """Read and validate ``model.json``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"cannot read model card {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CardError(f"model card {path} is not a JSON object")
    return parse_card(data)
