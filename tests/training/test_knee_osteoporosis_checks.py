"""The measures behind the knee osteoporosis card's fine-detail and framing-shortcut limits."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy", reason="training extras not installed")

from training.knee_osteoporosis_checks import fine_detail_energy, shortcut_aucs  # noqa: E402
from training.knee_osteoporosis_data import softened  # noqa: E402


def test_softening_keeps_the_film_size_and_removes_fine_detail() -> None:
    rng = np.random.default_rng(5)
    film = np.clip(0.5 + rng.normal(0, 0.1, size=(120, 90)), 0, 1).astype(np.float32)
    assert softened(film, 1.0) is film
    energies = [fine_detail_energy(softened(film, factor)) for factor in (1.0, 0.75, 0.5)]
    assert softened(film, 0.5).shape == film.shape
    assert energies[0] > energies[1] > energies[2]


def test_a_measure_that_follows_the_label_in_one_source_is_reported_for_that_source() -> None:
    positive = np.array([True, False] * 20)
    sources = np.array(["framed"] * 20 + ["plain"] * 20)
    width = np.where(positive, 300.0, 200.0)
    width[20:] = np.random.default_rng(6).uniform(200, 300, 20)
    aucs = shortcut_aucs({"width": width}, positive, sources)["width"]
    assert aucs["framed"] == 1.0
    assert 0.2 < aucs["plain"] < 0.8
    assert set(aucs) == {"framed", "plain", "all"}
