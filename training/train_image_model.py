"""Train one shipped image model from scratch on a CPU.

    python -m training.train_image_model --task pneumonia
    python -m training.train_image_model --task knee_kl

Writes ``runs/<task>/``: ``model.keras`` (the classifier with its GAP + dense head),
``training_report.json`` (splits, temperature, threshold, held-out metrics, duration: what
``conversion/export_keras.py`` puts in the model card) and ``parity_images.npz`` (real
preprocessed test images for the exporter's TensorFlow-vs-ONNX check). The split lists go to
``training/splits/<task>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from training.architectures import LOGITS_LAYER, build_cam_cnn
from training.calibration import fit_temperature, fit_temperature_and_bias, softmax
from training.datasets import (
    Sample,
    display_path,
    group_split,
    list_samples,
    load_cached_arrays,
    merge_duplicate_groups,
    model_view,
    write_split_lists,
)
from training.evaluation import best_balanced_threshold, summarise
from training.ordinal_loss import GradeDistanceLoss
from training.strip_augmentation import mirrored_band
from training.tasks import IMAGE_TASKS, ImageTask
from training.views import views_of

log = logging.getLogger("training")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
# ImageTask fields the command line can override with one number (--strip-band-rate, ...).
NUMBER_OPTIONS = ("strip_band_rate", "ordinal_weight")


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled float32 batches from the float16 cache, with per-sample class weights."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch_size: int,
        weights: np.ndarray | None,
        seed: int,
        shuffle: bool,
        alternates: np.ndarray | None = None,
        alternate_rate: float = 0.0,
        band_rate: float = 0.0,
    ):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size
        # Alternates are the same images with the contrast step applied twice: mixing them in
        # teaches the model to give the same answer whether a film arrives raw or enhanced.
        self.alternates, self.alternate_rate = alternates, alternate_rate
        self.band_rate = band_rate
        self.weights = weights
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(labels.size)
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-self.labels.size // self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.images[rows].astype(np.float32)
        if self.alternates is not None and self.alternate_rate > 0:
            swap = self.rng.random(rows.size) < self.alternate_rate
            x[swap] = self.alternates[rows[swap]].astype(np.float32)
        for i in np.flatnonzero(self.rng.random(rows.size) < self.band_rate):
            x[i] = mirrored_band(x[i], self.rng)
        y = self.labels[rows]
        if self.weights is None:
            return x, y
        return x, y, self.weights[y].astype(np.float32)

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


def augmenter(task: ImageTask, seed: int) -> keras.Sequential:
    """Radiograph-plausible variation: small rotations and shifts, zoom, exposure changes."""
    steps = [
        keras.layers.RandomRotation(task.rotation, fill_mode="constant", seed=seed),
        keras.layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed + 2),
        keras.layers.RandomContrast(0.25, seed=seed + 3),
        keras.layers.RandomBrightness(0.12, value_range=(0.0, 1.0), seed=seed + 4),
    ]
    flip_modes = {(True, True): "horizontal_and_vertical", (True, False): "horizontal", (False, True): "vertical"}
    flips = flip_modes.get((task.horizontal_flip, task.vertical_flip))
    if flips:
        steps.insert(0, keras.layers.RandomFlip(flips, seed=seed + 5))
    return keras.Sequential(steps, name="augment")


def class_weights(labels: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = (labels.size / (n_classes * np.maximum(counts, 1.0))) ** power
    return weights / weights[labels].mean()  # keep the mean sample weight at 1


def enhance_again(images: np.ndarray, task: ImageTask) -> np.ndarray:
    """(N, H, W, 1) model images with the contrast step applied once more, as float32."""
    return np.stack([model_view(image[:, :, 0].astype(np.float32), task.preprocessing) for image in images])[..., None]


def twice_enhanced(images: np.ndarray, task: ImageTask, cache_file: Path) -> np.ndarray:
    """The cached images with the contrast step applied a second time (cached as well)."""
    if cache_file.exists():
        with np.load(cache_file) as stored:
            if stored["images"].shape == images.shape:
                return stored["images"]
    again = enhance_again(images, task).astype(np.float16)
    np.savez(cache_file, images=again)
    return again


def exported_logits(logits_model: keras.Model, images: np.ndarray, task: ImageTask) -> np.ndarray:
    """The logits the exported graph computes: the mean over the image and the task's
    ``test_time_views`` (what conversion/keras_heads.py builds into the ONNX model)."""
    views = views_of(images.astype(np.float32), task.test_time_views)
    return np.mean([logits_model.predict(np.ascontiguousarray(v), batch_size=64, verbose=0) for v in views], axis=0)


def contrast_stability(
    logits_model: keras.Model, images: np.ndarray, once_logits: np.ndarray, task: ImageTask, temperature: float,
    bias: np.ndarray | None,
) -> dict:
    """How much predictions move when an already enhanced image is enhanced again."""
    once = softmax(once_logits, temperature, bias)
    twice_images = enhance_again(images, task)
    twice = softmax(exported_logits(logits_model, twice_images, task), temperature, bias)
    return {
        "n": int(images.shape[0]),
        "same_label_rate": round(float(np.mean(once.argmax(1) == twice.argmax(1))), 4),
        "mean_abs_probability_change": round(float(np.abs(once - twice).sum(1).mean() / 2), 4),
        "mean_abs_pixel_change": round(float(np.abs(twice_images - images).mean()), 4),
    }


def rerun_command(task: ImageTask, epochs: int, init_from: Path | None, peak_rate: float, out_dir: Path) -> str:
    """The command line that repeats this run."""
    command = f"python -m training.train_image_model --task {task.id}"
    if epochs != task.epochs or init_from is not None:
        command += f" --epochs {epochs}"
    default = IMAGE_TASKS[task.id]
    if (task.widths, task.head_width) != (default.widths, default.head_width):
        command += f" --widths {' '.join(map(str, task.widths))} --head-width {task.head_width}"
    for name in NUMBER_OPTIONS:
        if getattr(task, name) != getattr(default, name):
            command += f" --{name.replace('_', '-')} {getattr(task, name):g}"
    if init_from is not None:
        command += f" --init-from {init_from}" + (f" --learning-rate {peak_rate:g}" if epochs > 0 else "")
    if init_from is not None or out_dir != REPO_ROOT / "runs" / task.id:
        command += f" --out {display_path(out_dir)}"
    return command


def split_arrays(task: ImageTask, splits: dict[str, list[Sample]], cache_dir: Path):
    return {
        name: load_cached_arrays(members, task.preprocessing, cache_dir / f"{task.id}_{name}.npz")
        for name, members in splits.items()
    }


def train(
    task: ImageTask, *, data_root: Path, out_dir: Path, cache_dir: Path, epochs: int, seed: int, max_images: int | None,
    init_from: Path | None = None, learning_rate: float | None = None,
) -> dict:
    started = time.time()
    if task.sample_source is not None:
        samples = task.sample_source(data_root)
    else:
        samples = list_samples(data_root / task.dataset, subsets=task.subsets, folder_labels=task.folder_labels, group_of=task.group_of)
    if max_images:
        samples = samples[:: max(1, len(samples) // max_images)][:max_images]
    samples = merge_duplicate_groups(samples)
    splits = group_split(samples, fractions=task.split_fractions, seed=seed)
    split_file = (out_dir if max_images else REPO_ROOT / "training" / "splits") / f"{task.id}.json"
    write_split_lists(splits, split_file, seed=seed, labels=task.labels)
    return fit_and_report(
        task, splits, out_dir=out_dir, cache_dir=cache_dir, epochs=epochs, seed=seed, started=started,
        init_from=init_from, learning_rate=learning_rate, split_file=display_path(split_file),
    )


def fit_and_report(
    task: ImageTask, splits: dict[str, list[Sample]], *, out_dir: Path, cache_dir: Path, epochs: int, seed: int,
    started: float, split_file: str, init_from: Path | None = None, learning_rate: float | None = None,
) -> dict:
    """Train on ``splits["train"]``, stop early and calibrate on "val", report on "test".

    ``init_from``: start from an earlier run's network of the same task (same split) instead
    of random weights: a second, gentler schedule lets a CPU-trained network that still
    underfits its training set keep learning without paying for the first run again. With
    ``epochs=0`` any such network (a joined pair from ``training.ensemble`` too) is only
    calibrated and reported."""
    keras.utils.set_random_seed(seed)
    arrays = split_arrays(task, splits, cache_dir)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    n_classes = len(task.labels)

    earlier: dict = {}
    if init_from is None:
        classifier = build_cam_cnn(input_size=task.preprocessing.size, n_classes=n_classes, widths=task.widths, head_width=task.head_width, bn_momentum=task.bn_momentum, name=task.id)
    else:
        classifier = keras.models.load_model(init_from, compile=False)
        earlier_report = init_from.parent / "training_report.json"
        earlier = json.loads(earlier_report.read_text()) if earlier_report.exists() else {}
    peak_rate = learning_rate or task.learning_rate
    trainer = keras.Sequential([augmenter(task, seed), classifier], name=f"{task.id}_trainer")
    trainer.build((None, *task.preprocessing.size, 1))
    steps_per_epoch = -(-y_train.size // task.batch_size)
    if task.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            1e-4, decay_steps=steps_per_epoch * max(1, epochs - 1), alpha=0.005,
            warmup_target=peak_rate, warmup_steps=steps_per_epoch,
        )
    else:
        rate = peak_rate
    trainer.compile(
        optimizer=keras.optimizers.AdamW(rate, weight_decay=1e-4),
        loss=GradeDistanceLoss(n_classes, task.ordinal_weight) if task.ordinal_weight > 0 else keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    weights = class_weights(y_train, n_classes, task.class_weight_power)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A run longer than one sitting (hours on a 2-core CPU) is backed up after every epoch and
    # picks up where it stopped when the same command is run again; the backup is deleted
    # once fit() completes. Early stopping restarts its patience count on resuming.
    backup_dir = out_dir / "interrupted_run_backup"
    resuming = backup_dir.exists()
    # Seconds spent in earlier sittings, so the report counts the whole run.
    sitting_clock = out_dir / "interrupted_run_seconds.txt"
    earlier_sittings = float(sitting_clock.read_text()) if resuming and sitting_clock.exists() else 0.0
    alternates = None
    if task.double_contrast_rate > 0 and task.preprocessing.clahe_clip_limit is not None:
        alternates = twice_enhanced(x_train, task, cache_dir / f"{task.id}_train_twice_{x_train.shape[0]}.npz")
    # --epochs 0 with --init-from re-calibrates and re-reports an earlier run without training.
    trainer.fit(
        ArrayBatches(
            x_train, y_train, batch_size=task.batch_size, weights=weights, seed=seed, shuffle=True,
            alternates=alternates, alternate_rate=task.double_contrast_rate, band_rate=task.strip_band_rate,
        ),
        validation_data=ArrayBatches(x_val, y_val, batch_size=64, weights=None, seed=seed, shuffle=False),
        epochs=epochs,
        verbose=2,
        callbacks=[
            # Under a cosine schedule the early, high-rate epochs say little about the end result.
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=6, restore_best_weights=True,
                start_from_epoch=0 if task.lr_schedule == "plateau" else epochs // 2,
            ),
            *([keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=2, min_lr=1e-5)] if task.lr_schedule == "plateau" else []),
            keras.callbacks.BackupAndRestore(str(backup_dir)),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: sitting_clock.write_text(f"{time.time() - started + earlier_sittings:.1f}")),
            keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=resuming),
        ],
    ) if epochs > 0 else None
    sitting_clock.unlink(missing_ok=True)
    classifier.save(out_dir / "model.keras")

    logits_model = keras.Model(classifier.inputs, classifier.get_layer(LOGITS_LAYER).output)
    logits = {name: exported_logits(logits_model, arr[0], task) for name, arr in arrays.items() if name != "train"}
    if n_classes > 2:
        temperature, bias = fit_temperature_and_bias(logits["val"], y_val)
    else:
        temperature, bias = fit_temperature(logits["val"], y_val), None
    val_probs_raw, val_probs = softmax(logits["val"]), softmax(logits["val"], temperature, bias)
    test_probs_raw, test_probs = softmax(logits["test"]), softmax(logits["test"], temperature, bias)
    threshold = best_balanced_threshold(val_probs[:, 1], y_val) if task.task == "binary" else None
    report = {
        "task": task.id,
        "labels": list(task.labels),
        "seed": seed,
        # A resumed fit() numbers its epochs on from where the interrupted sitting stopped.
        "epochs_run": (trainer.history.epoch[-1] + 1 if epochs > 0 and trainer.history and trainer.history.epoch else 0) + earlier.get("epochs_run", 0),
        # A continued run reports the whole path from scratch: the earlier command(s) and time too.
        "duration_s": round(time.time() - started + earlier_sittings + earlier.get("duration_s", 0.0), 1),
        "command": " && ".join(filter(None, [earlier.get("command"), rerun_command(task, epochs, init_from, peak_rate, out_dir)])),
        "split_file": split_file,
        "split_counts": {name: dict(sorted(Counter(int(v) for v in arr[1]).items())) for name, arr in arrays.items()},
        "split_groups": {name: len({s.group for s in members}) for name, members in splits.items()},
        "temperature": round(temperature, 4),
        "class_bias": [round(float(v), 4) for v in bias] if bias is not None else None,
        "test_time_views": list(task.test_time_views),
        "threshold": threshold,
        "ece": {
            "val_before": round(summarise(val_probs_raw, y_val, class_names=task.labels, task=task.task)["expected_calibration_error"], 4),
            "val_after": round(summarise(val_probs, y_val, class_names=task.labels, task=task.task)["expected_calibration_error"], 4),
            "test_before": round(summarise(test_probs_raw, y_test, class_names=task.labels, task=task.task)["expected_calibration_error"], 4),
            "test_after": round(summarise(test_probs, y_test, class_names=task.labels, task=task.task)["expected_calibration_error"], 4),
        },
        "contrast_stability": contrast_stability(logits_model, x_test, logits["test"], task, temperature, bias) if task.preprocessing.clahe_clip_limit is not None else None,
        "val": summarise(val_probs, y_val, class_names=task.labels, task=task.task, threshold=threshold, derived=task.derived_outputs),
        "test": summarise(test_probs, y_test, class_names=task.labels, task=task.task, threshold=threshold, derived=task.derived_outputs),
    }
    (out_dir / "training_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    # A few real test images of every class let the exporter prove TF/ONNX parity on real data.
    np.savez_compressed(
        out_dir / "test_predictions.npz", probabilities=test_probs, labels=y_test,
        files=np.array([s.relative for s in splits["test"]]), threshold=np.float64(threshold if threshold is not None else np.nan),
    )
    picks = np.concatenate([np.flatnonzero(y_test == c)[:8] for c in range(n_classes)])
    np.savez_compressed(out_dir / "parity_images.npz", images=x_test[picks].astype(np.float32), labels=y_test[picks])
    log.info("test metrics: %s", json.dumps(report["test"]))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(t for t, v in IMAGE_TASKS.items() if v.custom_trainer is None), required=True)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--out", type=Path, help="output folder (default runs/<task>)")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "cache")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--max-images", type=int, help="train on a subset (smoke tests)")
    parser.add_argument("--init-from", type=Path, help="continue from the model.keras of an earlier run of this task")
    parser.add_argument("--learning-rate", type=float, help="peak learning rate (default: the task's)")
    parser.add_argument("--widths", type=int, nargs="+", help="channels of the stem and each stage (default: the task's)")
    parser.add_argument("--head-width", type=int, help="channels of the last convolution (default: the task's)")
    parser.add_argument("--strip-band-rate", type=float, help="share of training crops cut like a joint from a tight strip (default: the task's)")
    parser.add_argument("--ordinal-weight", type=float, help="weight of the squared grade distance added to the loss, ordinal tasks only (default: the task's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    task = IMAGE_TASKS[args.task]
    if args.widths or args.head_width:
        task = dataclasses.replace(task, widths=tuple(args.widths or task.widths), head_width=args.head_width or task.head_width)
    overrides = {name: getattr(args, name) for name in NUMBER_OPTIONS if getattr(args, name) is not None}
    if "ordinal_weight" in overrides and (task.task != "ordinal" or overrides["ordinal_weight"] < 0):
        parser.error(f"--ordinal-weight needs an ordinal task ({task.id} is {task.task}) and a weight of 0 or more")
    task = dataclasses.replace(task, **overrides)
    train(
        task,
        data_root=args.data_root,
        out_dir=args.out or REPO_ROOT / "runs" / task.id,
        cache_dir=args.cache,
        epochs=task.epochs if args.epochs is None else args.epochs,
        seed=args.seed,
        max_images=args.max_images,
        init_from=args.init_from,
        learning_rate=args.learning_rate,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
