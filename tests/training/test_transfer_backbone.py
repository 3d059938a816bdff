"""The fracture and osteoporosis heads read a KL network of whatever width it was trained at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training extras not installed")

from training.architectures import build_cam_cnn  # noqa: E402
from training.transfer_head import backbone_at  # noqa: E402


@pytest.mark.parametrize("widths, head_width", [((4, 4, 8, 8, 8), 8), ((6, 8, 12, 16, 20), 24)])
def test_the_backbone_is_rebuilt_at_the_trained_widths_with_the_trained_weights(tmp_path: Path, widths: tuple[int, ...], head_width: int) -> None:
    trained = build_cam_cnn(input_size=(32, 32), n_classes=5, widths=widths, head_width=head_width)
    trained.save(tmp_path / "model.keras")
    features = backbone_at(tmp_path / "model.keras", (64, 64))
    assert features.output.shape[-1] == head_width
    assert np.array_equal(features.get_layer("stem_conv").get_weights()[0], trained.get_layer("stem_conv").get_weights()[0])
