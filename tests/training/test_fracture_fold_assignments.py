"""The fracture trainer can report its figures over several fold assignments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

from training.datasets import Sample  # noqa: E402
from training.sample_sources import FRACTURE_SOURCES  # noqa: E402
from training.train_bone_fracture import repeated_figures  # noqa: E402


def test_each_fold_assignment_gives_its_own_auc_and_balanced_accuracy() -> None:
    rng = np.random.default_rng(11)
    labels = np.array([int(i % 3 != 0) for i in range(72)])  # two fractured films per intact one
    sources = FRACTURE_SOURCES
    samples = [Sample(path=Path(f"/none/{i}.png"), relative=f"{sources[i % 2]}/{label}/{i}.png", label=int(label), group=str(i))
               for i, label in enumerate(labels)]
    # Four views of each film (as it is and re-oriented): a weak signal plus noise.
    features = (0.9 * labels[:, None, None] + rng.normal(size=(labels.size, 4, 3))).astype(np.float32)
    repeated = repeated_figures(samples, features, labels, seed=2, repeats=3)
    assert repeated["fold_seeds"] == [2, 3, 4]
    for name in ("roc_auc", "balanced_accuracy"):
        figures = repeated[name]
        assert len(figures["values"]) == 3 and figures["min"] <= figures["mean"] <= figures["max"]
        assert 0.5 < figures["mean"] < 1.0
    assert len(set(repeated["roc_auc"]["values"])) > 1, "every assignment gave the same AUC: the folds did not change"
