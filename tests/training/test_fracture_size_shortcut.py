"""The fracture report says how far image size alone separates the classes, per source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorflow", reason="training extras not installed")

from training.datasets import Sample  # noqa: E402
from training.train_bone_fracture import size_alone_auc  # noqa: E402


def _film(root: Path, relative: str, longer_side: int, label: int) -> Sample:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (longer_side // 2, longer_side)).save(path)
    return Sample(path=path, relative=relative, label=label, group=relative)


def test_size_alone_is_measured_per_source(tmp_path: Path) -> None:
    samples = [
        # web figures: every fractured film smaller than every intact one
        _film(tmp_path, "web/fractured/a.png", 300, 1), _film(tmp_path, "web/fractured/b.png", 400, 1),
        _film(tmp_path, "web/intact/c.png", 1000, 0), _film(tmp_path, "web/intact/d.png", 900, 0),
        # films of one size: size tells nothing
        _film(tmp_path, "clinic/fractured/e.png", 800, 1), _film(tmp_path, "clinic/intact/f.png", 800, 0),
    ]
    labels = np.array([s.label for s in samples])
    assert size_alone_auc(samples, labels) == {"overall": pytest.approx(0.944, abs=1e-3), "clinic": 0.5, "web": 1.0}
