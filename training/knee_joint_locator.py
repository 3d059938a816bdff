"""Train the knee joint locator from scratch (CPU, one thread, about 20 minutes).

    python -m training.knee_joint_locator [--out runs/knee_joint_locator] [--quick]

Stage 1 learns from windows of synthetic films built from the KL training crops (the joint
boxes are known), of chest and other-bone radiographs (no knee joint anywhere) and of noise.
Then two rounds of mining with the app's own detector:

* the stevepython knee films set aside for training: a confident, plausible detection becomes
  a pseudo-labelled joint with real surroundings (shafts, soft tissue, markers), and windows
  well away from every candidate become real-film background. Films without a confident
  detection are left out rather than guessed at;
* the training radiographs without a knee: wherever the detector still fires (wrists, finger
  joints, ankles, vertebrae) becomes hard background. A detector scans thousands of windows
  per film, so random background windows alone leave it far too trigger-happy on real bones.

Writes model.keras, training_report.json, parity_images.npz and pseudo_labels.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread: the machine is shared with other training jobs.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from desktop.inference.knee_joints import (  # noqa: E402
    LocatorSettings,
    joint_candidates,
    locate_knee_joints,
)
from training.knee_joint_data import (  # noqa: E402
    load_films,
    load_kl_crops,
    negative_films,
    osteoporosis_films,
)
from training.knee_joint_model import KerasLocator, build_locator, detection_section  # noqa: E402
from training.knee_joint_windows import (  # noqa: E402
    film_windows,
    kl_canvas_windows,
    noise_windows,
    windows_at,
)

log = logging.getLogger("training.knee_joint_locator")
REPO_ROOT = Path(__file__).resolve().parent.parent
PSEUDO_LABEL_SCORE = 0.9  # a stage-1 detection this sure becomes a training joint
AVOID_SCORE = 0.2  # no background window is taken near a candidate this strong
REVIEW_SCORE = 0.3  # other-bone radiographs scoring this high are listed for a human look
HARD_NEGATIVE_SCORE = 0.1  # on a radiograph without a knee, a candidate this strong is a lesson
HARD_NEGATIVES_PER_FILM = 6


class WindowBatches(keras.utils.PyDataset):
    """uint8 windows to float batches, shuffled each epoch, half of them mirrored."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, seed: int, augment: bool) -> None:
        super().__init__()
        self.images, self.labels, self.batch_size, self.augment = images, labels, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(labels)) if augment else np.arange(len(labels))

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index: int):
        chosen = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        batch = self.images[chosen].astype(np.float32) / np.float32(255.0)
        if self.augment:  # left and right knees are mirror images
            flip = self.rng.random(len(chosen)) < 0.5
            batch[flip] = batch[flip, :, ::-1]
        return batch[..., None], self.labels[chosen].reshape(-1, 1, 1)

    def on_epoch_end(self) -> None:
        if self.augment:
            self.order = self.rng.permutation(len(self.labels))


def fit(model: keras.Model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *,
        epochs: int, learning_rate: float, seed: int) -> list[dict[str, float]]:
    batches = WindowBatches(*train, batch_size=128, seed=seed, augment=True)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * len(batches), alpha=0.05)
    model.compile(keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(batches, validation_data=WindowBatches(*val, batch_size=256, seed=0, augment=False),
                        epochs=epochs, verbose=2)
    return [{k: float(v[i]) for k, v in history.history.items()} for i in range(epochs)]


def _join(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def mine_films(locator: KerasLocator, films) -> tuple[dict, dict, list[dict]]:
    """Pseudo-labelled joints and places to avoid on unlabelled knee films (see module doc)."""
    joints_of, avoid_of, records = {}, {}, []
    for film in films:
        candidates = joint_candidates(locator, film.pixels)
        found = locate_knee_joints(locator, film.pixels, threshold=PSEUDO_LABEL_SCORE)
        records.append({"film": film.name, "joints": [list(j.box) for j in found], "scores": [j.score for j in found]})
        if not found:
            continue
        joints_of[film.name] = [tuple(float(v) for v in j.box) for j in found]
        avoid_of[film.name] = [c.box for c in candidates if c.score >= AVOID_SCORE]
    return joints_of, avoid_of, records


def hard_negatives(locator: KerasLocator, films, settings: LocatorSettings, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where the detector still fires on radiographs without a knee, a few windows each."""
    patches = []
    for film in films:
        boxes = [c.box for c in joint_candidates(locator, film.pixels) if c.score >= HARD_NEGATIVE_SCORE]
        if boxes:
            patches.append(windows_at(rng, film, boxes[:HARD_NEGATIVES_PER_FILM], settings, copies=3))
    images = np.concatenate(patches) if patches else np.zeros((0, settings.window, settings.window), dtype=np.uint8)
    return images, np.zeros(len(images), dtype=np.int64)


def review_other_bones(locator: KerasLocator, films) -> list[dict]:
    """Other-bone radiographs the detector likes: each needs a look (some do show a knee)."""
    flagged = []
    for film in films:
        candidates = joint_candidates(locator, film.pixels)
        if candidates and candidates[0].score >= REVIEW_SCORE:
            flagged.append({"film": film.name, "score": candidates[0].score, "box": list(candidates[0].box)})
    return flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "knee_joint_locator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--canvases", type=int, default=12000, help="synthetic KL films for stage 1")
    parser.add_argument("--epochs", type=int, nargs=3, default=(2, 2, 1), metavar=("STAGE1", "ROUND1", "ROUND2"))
    parser.add_argument("--quick", action="store_true", help="a tiny run to check the loop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    settings = LocatorSettings()
    canvases = 300 if args.quick else args.canvases
    epochs = (1, 1, 1) if args.quick else tuple(args.epochs)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    kl_train, kl_val = load_kl_crops("train"), load_kl_crops("val")
    negatives = negative_films(held=False)
    if args.quick:
        negatives = negatives[::20]
    synthetic = _join(
        kl_canvas_windows(rng, kl_train, settings, count=canvases),
        film_windows(rng, negatives, settings, levels_per_film=3, negatives_per_level=8),
        noise_windows(rng, settings, count=canvases // 5),
    )
    val = kl_canvas_windows(np.random.default_rng(1), kl_val, settings, count=max(100, canvases // 8))
    log.info("stage 1: %d training windows (%d joints), %d validation windows, built in %.0f s",
             len(synthetic[1]), int(synthetic[1].sum()), len(val[1]), time.perf_counter() - started)
    model = build_locator()
    history = fit(model, synthetic, val, epochs=epochs[0], learning_rate=2e-3, seed=args.seed)
    locator = KerasLocator(model, settings)

    # Round 1: real knee films (pseudo-labelled) and the radiographs the detector still likes.
    films = osteoporosis_films()
    steve = load_films(films["steve_train"][:10] if args.quick else films["steve_train"])
    joints_of, avoid_of, records = mine_films(locator, steve)
    labelled = [f for f in steve if f.name in joints_of]
    real_knees = film_windows(rng, labelled, settings, levels_per_film=8, negatives_per_level=6, joints_of=joints_of, avoid_of=avoid_of)
    hard = [hard_negatives(locator, negatives, settings, rng)]
    log.info("round 1: %d of %d stevepython films pseudo-labelled, %d hard negatives",
             len(joints_of), len(steve), len(hard[-1][1]))
    # Real films and hard negatives twice: they are few next to the synthetic windows.
    history += fit(model, _join(synthetic, real_knees, real_knees, *hard, *hard), val,
                   epochs=epochs[1], learning_rate=1e-3, seed=args.seed + 1)
    # Round 2: what the corrected detector still gets wrong.
    hard.append(hard_negatives(locator, negatives, settings, rng))
    log.info("round 2: %d more hard negatives", len(hard[-1][1]))
    history += fit(model, _join(synthetic, real_knees, real_knees, *hard, *hard), val,
                   epochs=epochs[2], learning_rate=5e-4, seed=args.seed + 2)
    other_bones = [f for f in negatives + negative_films(held=True) if f.name.startswith("fracture/")]
    flagged = review_other_bones(locator, other_bones)

    model.save(args.out / "model.keras")
    parity = np.concatenate([val[0][val[1] == 1][:24], val[0][val[1] == 0][:40]]).astype(np.float32) / 255.0
    np.savez(args.out / "parity_images.npz", images=parity[..., None])
    (args.out / "pseudo_labels.json").write_text(json.dumps(records, indent=1) + "\n")
    report = {
        "command": "python -m training.knee_joint_locator" + (" --quick" if args.quick else ""),
        "duration_s": round(time.perf_counter() - started, 1),
        "seed": args.seed,
        "epochs": list(epochs),
        "detection": detection_section(settings),
        "windows": {
            "synthetic_and_radiographs": len(synthetic[1]),
            "synthetic_joints": int(synthetic[1].sum()),
            "real_film_windows": len(real_knees[1]),
            "real_film_joints": int(real_knees[1].sum()),
            "hard_negatives_per_round": [len(h[1]) for h in hard],
            "validation": len(val[1]),
        },
        "pseudo_labelled_films": len(joints_of),
        "stevepython_training_films": len(steve),
        "history": history,
        "other_bone_films_to_review": flagged,
        "hardware": "2-core x86-64 CPU, TensorFlow limited to one thread",
    }
    (args.out / "training_report.json").write_text(json.dumps(report, indent=1) + "\n")
    log.info("done in %.0f s", report["duration_s"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
