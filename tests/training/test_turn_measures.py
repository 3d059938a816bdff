"""The turned-film measurement behind the README's guard figures, on the tiny guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop.inference.registry import ModelRegistry
from tests.fixtures.tiny_models import guard_image, make_tiny_model_dir
from training.body_part_turns import turn_report


def test_turn_report_counts_answers_and_upright_turns_per_reader(tmp_path: Path) -> None:
    make_tiny_model_dir(tmp_path, model_id="body_part", role="body_part")
    guard = ModelRegistry.discover(tmp_path).get("body_part")
    # The tiny guard reads grey levels: flat images get the same answer in every turn.
    images = [(0, guard_image("knee")), (1, guard_image("chest")), (3, guard_image("not_xray")), (2, guard_image("knee"))]
    report = turn_report(guard, images, [0.8, 0.95])
    assert set(report) == {"model_alone", "as_the_app_reads_it", "as_the_app_reads_it_at_0.95"}
    for reader in report.values():
        assert set(reader) == {"turn_0", "turn_1", "turn_2", "turn_3"}
        for turn in reader.values():
            assert turn["accuracy"] == 0.75  # the "other bone" image that looks like a knee is wrong
            assert turn["radiographs_called_not_xray"] == 0
            assert np.asarray(turn["confusion_matrix"]).sum() == len(images)
    # Flat images score the same in every turn, so the app keeps the image as it is.
    assert report["as_the_app_reads_it"]["turn_0"]["answered_from_upright"] == {
        "knee": 1, "chest": 1, "other_bone": 1, "not_xray": 1}
    assert report["as_the_app_reads_it"]["turn_1"]["answered_from_upright"]["knee"] == 0
