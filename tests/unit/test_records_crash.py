"""Saving is all-or-nothing, even when the process dies mid-save.

A child process saves studies in a loop and is SIGKILLed at random moments. After each kill
the store is reopened: the database must pass ``integrity_check``, every study in it must be
complete (its predictions and an image copy with the right hash), every study the child
reported as committed must still be there, and no orphaned image copy may survive the reopen.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop.core.records import SQLiteRecordStore, StudyQuery
from tests.fixtures.records import make_draft, write_test_png

REPO = Path(__file__).resolve().parents[2]
KILLS = 15
PREDICTIONS_PER_STUDY = 2  # make_draft stores a chest and a knee prediction

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from desktop.core.records import SQLiteRecordStore
    from tests.fixtures.records import make_draft, write_test_png

    root, images, start = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    store = SQLiteRecordStore.open(root, orphan_grace_s=1e9)  # the parent checks the orphans
    print("ready", flush=True)
    seed = start
    while True:
        path, sha = write_test_png(images / f"in-{seed}.png", seed=seed, size=96)
        record = store.save_study(make_draft(path, sha))
        # One write per line, so a kill cannot land between its words.
        sys.stdout.write(f"committed {record.key} {record.report_id}\\n")
        sys.stdout.flush()
        seed += 1
    """
)


def _spawn(root: Path, images: Path, start: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(images), str(start)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _check(root: Path, committed: set[str]) -> int:
    store = SQLiteRecordStore.open(root, orphan_grace_s=0)
    try:
        assert store.integrity_check() == "ok"
        db = store._db
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        summaries = store.search_studies(StudyQuery(limit=100_000))
        present = {s.report_id for s in summaries}
        missing = committed - present
        assert not missing, f"studies reported as committed are gone: {sorted(missing)}"
        for summary in summaries:
            study = store.get_study(summary.key, with_heatmaps=False)
            assert len(study.predictions) == PREDICTIONS_PER_STUDY, f"study {study.key} is partial"
            assert store.archive.verify("images/" + study.image_path.name, study.image_sha256)
        referenced = {store.get_study(s.key, with_heatmaps=False).image_path.name for s in summaries}
        on_disk = {p.name for p in (root / "images").iterdir()} if (root / "images").exists() else set()
        assert on_disk == referenced, f"orphans survived the reopen: {sorted(on_disk - referenced)}"
        return len(summaries)
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_during_saves_never_leaves_a_partial_study(tmp_path: Path) -> None:
    seed = int(os.environ.get("XRAYDESK_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    root, images = tmp_path / "data", tmp_path / "inputs"
    images.mkdir()
    committed: set[str] = set()
    start = 0
    for kill in range(KILLS):
        child = _spawn(root, images, start)
        try:
            line = child.stdout.readline() if child.stdout else ""
            assert line.strip() == "ready", f"child did not start: {line!r} {child.stderr.read() if child.stderr else ''}"
            # Mostly short delays, so kills land inside the first saves as well as later ones.
            time.sleep(rng.uniform(0.0, 0.25) if kill % 3 else rng.uniform(0.0, 0.03))
            child.send_signal(signal.SIGKILL)
            out, _err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == -signal.SIGKILL, f"child ended on its own (seed {seed}): {_err}"
        # A kill can still cut the last line short; only newline-terminated lines are reports.
        for line in out.split("\n")[:-1]:
            if line.startswith("committed "):
                committed.add(line.split()[2])
        start += 1000  # new image content each round
        try:
            count = _check(root, committed)
        except AssertionError as exc:
            raise AssertionError(f"after kill {kill + 1} (XRAYDESK_CRASH_SEED={seed}): {exc}") from exc
        assert count >= len(committed)
    assert committed, f"no save ever completed in {KILLS} runs (seed {seed}); delays too short for this machine?"


def test_exception_mid_save_rolls_everything_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    store = SQLiteRecordStore.open(root)
    kept = store.save_study(make_draft(*write_test_png(tmp_path / "kept.png", seed=1)))
    real = SQLiteRecordStore._write_predictions

    def half_then_fail(self, db, study_key, predictions, now):
        real(self, db, study_key, predictions[:1], now)  # one prediction row is written...
        raise RuntimeError("disk on fire")  # ...then the save dies

    monkeypatch.setattr(SQLiteRecordStore, "_write_predictions", half_then_fail)
    image, sha = write_test_png(tmp_path / "new.png", seed=2)
    from desktop.core.records import PatientDetails

    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save_study(make_draft(image, sha, patient=PatientDetails(name="New Patient", patient_id="NEW-1")))
    db = store._db
    assert not db.in_transaction
    assert db.execute("SELECT count(*) FROM studies").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == PREDICTIONS_PER_STUDY
    assert db.execute("SELECT count(*) FROM patients").fetchone()[0] == 1
    # An update that fails keeps the stored version untouched.
    with pytest.raises(RuntimeError):
        store.save_study(make_draft(*write_test_png(tmp_path / "kept.png", seed=1), study_key=kept.key, notes="lost"))
    assert store.get_study(kept.key) == kept
    orphan = root / "images" / f"{sha}.png"
    assert orphan.exists(), "the copy is written before the transaction"
    monkeypatch.undo()
    store.close()

    reopened = SQLiteRecordStore.open(root, orphan_grace_s=0)
    assert not orphan.exists(), "orphaned copies are swept when the store opens"
    assert reopened.get_study(kept.key).image_path.exists()
    assert reopened.integrity_check() == "ok"
    reopened.close()


def test_recent_orphans_are_spared(tmp_path: Path) -> None:
    """Another window may be between copying and committing: fresh files are left alone."""
    root = tmp_path / "data"
    SQLiteRecordStore.open(root).close()
    fresh = root / "images" / ("f" * 64 + ".png")
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"x")
    SQLiteRecordStore.open(root).close()  # default grace: an hour
    assert fresh.exists()
    SQLiteRecordStore.open(root, orphan_grace_s=0).close()
    assert not fresh.exists()
