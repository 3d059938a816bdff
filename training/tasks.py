"""What each shipped image model learns from: data folders, labels, groups and input spec."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from desktop.core.model_card import Preprocessing
from training.sample_sources import (
    BODY_PART_LABELS,
    FRACTURE_LABELS,
    body_part_samples,
    fracture_samples,
)

__all__ = ["IMAGE_TASKS", "ImageTask"]


def pneumonia_patient(stem: str) -> str:
    """``person123_bacteria_4`` -> ``person123``; ``IM-0115-0001`` -> ``IM-0115``;
    ``NORMAL2-IM-1427-0001`` -> ``NORMAL2-IM-1427``."""
    match = re.match(r"(person\d+)_", stem)
    if match:
        return match.group(1)
    match = re.match(r"((?:NORMAL2-)?IM-\d+)-\d+", stem)
    if match:
        return match.group(1)
    return stem


def knee_patient(stem: str) -> str:
    """``9001695L`` -> ``9001695``: both knees of a patient stay on one side of a split."""
    return stem[:-1] if stem[-1:] in ("L", "R") else stem


@dataclass(frozen=True)
class ImageTask:
    id: str
    name: str
    body_part: str
    task: str  # binary | ordinal | multiclass
    dataset: str  # folder under the shared data root
    subsets: tuple[str, ...]
    folder_labels: dict[str, int]
    labels: tuple[str, ...]
    group_of: Callable[[str], str]
    preprocessing: Preprocessing
    # Datasets that are not one folder per class list their own samples from the data root.
    sample_source: Callable[[Path], list] | None = None
    # Tasks trained by their own script (not train_image_model) name it here.
    custom_trainer: str | None = None
    role: str = "diagnosis"
    positive_label: str | None = None
    horizontal_flip: bool = False
    # Views (training/views.py) whose logits are averaged with the image's own, inside the
    # exported graph: for a network trained on those orientations, which answers for each.
    test_time_views: tuple[str, ...] = ()
    vertical_flip: bool = False
    rotation: float = 0.03  # fraction of a full turn either way (0.03 = about 11 degrees)
    # 1.0 = fully balanced class weights; 0.5 = square root, gentler for rare grades.
    class_weight_power: float = 1.0
    # Share of training images shown with the contrast step applied twice (see ArrayBatches).
    double_contrast_rate: float = 0.0
    # Share of training crops shown as the locator cuts a joint from a tight strip
    # (training/strip_augmentation.py).
    strip_band_rate: float = 0.0
    # Ordinal grades only: weight of the expected squared grade distance added to the
    # cross-entropy (training/ordinal_loss.py); 0 trains on cross-entropy alone.
    ordinal_weight: float = 0.0
    widths: tuple[int, ...] = (24, 32, 64, 128, 192)
    head_width: int = 256
    # What a transfer head reads (training/architectures.py: POOLINGS, FEATURE_SCALES).
    feature_pooling: str = "average"
    feature_scales: str = "last_stage"
    # Also read the image at half size (training/transfer_head.py: backbone_at).
    feature_half_size: bool = False
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    # "plateau": divide the rate when validation loss stalls; "cosine": a fixed warm-up and
    # cosine decay, better when validation loss is too noisy to read plateaus from.
    lr_schedule: str = "plateau"
    # Lower momentum lets BatchNorm's running statistics keep up with fast-moving weights, so
    # validation (which uses those statistics) is not thrown off early in training.
    bn_momentum: float = 0.99
    split_fractions: dict[str, float] = field(default_factory=lambda: {"train": 0.75, "val": 0.10, "test": 0.15})
    derived_outputs: tuple[dict, ...] = ()


IMAGE_TASKS: dict[str, ImageTask] = {
    "pneumonia": ImageTask(
        id="pneumonia",
        name="Paediatric chest X-ray: pneumonia",
        body_part="chest",
        task="binary",
        dataset="pneumonia",
        subsets=("train", "val"),
        folder_labels={"NORMAL": 0, "PNEUMONIA": 1},
        labels=("NORMAL", "PNEUMONIA"),
        positive_label="PNEUMONIA",
        group_of=pneumonia_patient,
        # The source images are 224 px squashed copies; 160 px keeps lung opacities visible
        # while halving training and inference time on a laptop CPU. CLAHE evens out the
        # exposure differences between X-ray machines.
        preprocessing=Preprocessing(size=(160, 160), resize="squash", clahe_clip_limit=2.0, clahe_tile_grid=(8, 8)),
        horizontal_flip=False,  # the heart sits on the left: mirrored chests are not real anatomy
        class_weight_power=1.0,
        epochs=24,
    ),
    "knee_kl": ImageTask(
        id="knee_kl",
        name="Knee osteoarthritis severity (Kellgren-Lawrence grade)",
        body_part="knee",
        task="ordinal",
        dataset="kl_grade",
        subsets=("train", "val"),
        folder_labels={str(g): g for g in range(5)},
        labels=("0", "1", "2", "3", "4"),
        group_of=knee_patient,
        # The shipped crops are already CLAHE-enhanced; applying the same step to every input
        # makes raw clinic films and enhanced crops look alike to the model.
        preprocessing=Preprocessing(size=(224, 224), resize="squash", clahe_clip_limit=2.0, clahe_tile_grid=(8, 8)),
        horizontal_flip=True,  # left and right knees are mirror images
        test_time_views=("mirror",),
        class_weight_power=0.5,
        double_contrast_rate=0.3,
        epochs=28,
        learning_rate=1e-3,
        lr_schedule="cosine",
        bn_momentum=0.9,
        derived_outputs=(
            {
                "id": "oa",
                "name": "Radiographic osteoarthritis (KL \u2265 2)",
                "labels": ["Normal", "Osteoarthritis"],
                "positive_classes": ["2", "3", "4"],
                "threshold": 0.5,
            },
        ),
    ),
    "bone_fracture": ImageTask(
        id="bone_fracture",
        name="Bone radiograph: fracture",
        body_part="other_bone",
        task="binary",
        dataset="fracture",
        subsets=(),
        folder_labels=FRACTURE_LABELS,
        labels=("not_fractured", "fractured"),
        positive_label="fractured",
        group_of=str,
        sample_source=fracture_samples,
        custom_trainer="training.train_bone_fracture",
        # Whole radiographs of any shape: padding keeps bone proportions, and 896 px is close to
        # the size of the original project's films (about 1024 px tall), so thin breaks stay.
        preprocessing=Preprocessing(size=(896, 896), resize="pad", clahe_clip_limit=2.0, clahe_tile_grid=(8, 8)),
        # Films arrive in any orientation and the head learnt all four: averaging them steadies
        # the answer (grouped CV ROC AUC 0.859 on the original view alone, 0.870 averaged).
        test_time_views=("mirror", "upside_down", "quarter_turn"),
        # A fracture is a few bright places on a whole film: root-mean-square pooling lets them
        # count (grouped CV ROC AUC 0.878 with average pooling, see the card for the figure now).
        feature_pooling="root_mean_square",
        # The KL network reads the film at 896 px and at 448 px, where bones are about the size
        # it learnt knee joints at: grouped CV ROC AUC 0.899 at 448 px alone, 0.893 at 896 px
        # alone, 0.909 reading both (KL network 1.1.0).
        feature_half_size=True,
    ),
    "body_part": ImageTask(
        id="body_part",
        name="What the image shows (body part / not an X-ray)",
        body_part="any",
        role="body_part",
        task="multiclass",
        dataset=".",
        subsets=(),
        folder_labels=BODY_PART_LABELS,
        labels=tuple(BODY_PART_LABELS),
        group_of=str,
        sample_source=body_part_samples,
        # No contrast step: how an image's grey levels are distributed is itself evidence of
        # whether it is a radiograph at all. 160 px and a wider network than the first guard
        # (128 px, widths 16-128; the card compares them) stopped CT reconstructions and turned bone films
        # in the fracture sets from being called "not an X-ray".
        preprocessing=Preprocessing(size=(160, 160), resize="pad"),
        horizontal_flip=True,
        rotation=0.05,
        widths=(24, 32, 64, 128, 192),
        head_width=192,
        class_weight_power=1.0,
        bn_momentum=0.9,
        # Validation loss is too noisy for plateaus here: the plateau schedule cut the rate to
        # its floor by the tenth epoch while the network still underfitted.
        lr_schedule="cosine",
        epochs=30,
    ),
    "knee_osteoporosis": ImageTask(
        id="knee_osteoporosis",
        name="Knee X-ray: osteoporosis",
        body_part="knee",
        task="binary",
        dataset="osteoporosis",
        subsets=(),
        folder_labels={"normal": 0, "osteoporosis": 1},
        labels=("normal", "osteoporosis"),
        positive_label="osteoporosis",
        group_of=str,
        custom_trainer="training.train_knee_osteoporosis",
        # It reads located joints cut and contrast-equalised exactly as the KL model's input;
        # its features are bone texture measures (training/texture_maps.py).
        preprocessing=Preprocessing(size=(224, 224), resize="squash", clahe_clip_limit=2.0, clahe_tile_grid=(8, 8)),
    ),
}
