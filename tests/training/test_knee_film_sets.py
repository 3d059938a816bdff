"""Knee film sets are built from one split's patients: test for figures, validation for choices."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import datasets, knee_film_sets


@pytest.fixture()
def kl_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A KL folder with two patients per split, both knees each, and a split list naming them."""
    splits = {"test": [("9000001", 0, 3), ("9000002", 1, 1)], "val": [("9000003", 2, 0), ("9000004", 0, 0)]}
    listed = {}
    for split, patients in splits.items():
        listed[split] = []
        for patient, right, left in patients:
            for side, grade in (("R", right), ("L", left)):
                relative = f"train/{grade}/{patient}{side}.png"
                (tmp_path / "kl" / relative).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.full((32, 32), 40 * grade, dtype=np.uint8)).save(tmp_path / "kl" / relative)
                listed[split].append([relative, patient])
    (tmp_path / "repo" / "training" / "splits").mkdir(parents=True)
    (tmp_path / "repo" / "training" / "splits" / "knee_kl.json").write_text(json.dumps({"splits": listed}))
    monkeypatch.setattr(datasets, "SPLITS_DIR", tmp_path / "repo" / "training" / "splits")
    return tmp_path / "kl"


@pytest.mark.parametrize(("split", "patients", "oa_films"), [("test", {"9000001", "9000002"}, {"9000001"}), ("val", {"9000003", "9000004"}, {"9000003"})])
def test_films_come_from_the_chosen_split_only(kl_data: Path, tmp_path: Path, split: str, patients: set[str], oa_films: set[str]) -> None:
    counts = knee_film_sets.write_film_sets(kl_data, tmp_path / split, split=split)
    assert counts["crops"] == {"Normal": 4 - len(oa_films), "Osteoarthritis": len(oa_films)}
    bilateral = {p.stem: p.parent.name for p in (tmp_path / split / "bilateral").rglob("*.png")}
    assert set(bilateral) == patients
    # A film is osteoarthritis when either knee is KL >= 2.
    assert {p for p, label in bilateral.items() if label == "Osteoarthritis"} == oa_films
    first = sorted(patients)[0]
    assert Image.open(tmp_path / split / "strips" / bilateral[first] / f"{first}.png").size == (640, 161)


def test_the_command_line_takes_the_split(kl_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert knee_film_sets.main(["--kl-root", str(kl_data), "--out", str(tmp_path / "films"), "--split", "val"]) == 0
    assert json.loads(capsys.readouterr().out)["bilateral"] == {"Normal": 1, "Osteoarthritis": 1}
    assert {p.stem for p in (tmp_path / "films" / "bilateral").rglob("*.png")} == {"9000003", "9000004"}
