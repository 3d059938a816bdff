"""Join independently trained networks of one task into one network that averages them.

    python -m training.ensemble --task knee_kl --members runs/knee_kl_ft2/model.keras \
        runs/knee_kl_wide/model.keras --out runs/knee_kl_pair
    python -m training.train_image_model --task knee_kl --epochs 0 \
        --init-from runs/knee_kl_pair/model.keras --out runs/knee_kl_pair_calibrated

Two networks trained apart make partly different mistakes, so the mean of their logits can
be right more often than either (measure it: ``test_predictions.npz`` of each run); on a
2-core CPU a second network is also cheaper to train than one twice as large. The joined
network keeps the "global average pooling + dense" head of ``training/architectures.py``:
its feature map is the members' feature maps stacked, and its dense layer holds each
member's weights divided by the number of members, so its logits are exactly the mean of the
members' logits and its class activation maps stay exact. The second
command calibrates and reports it like any run; ``conversion.export_keras`` exports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from keras import layers

from training.architectures import FEATURE_MAP_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER
from training.datasets import display_path
from training.tasks import IMAGE_TASKS

__all__ = ["joined_network", "main"]


def joined_network(members: Sequence[keras.Model], *, name: str) -> keras.Model:
    """One network whose logits are the mean of the ``members``' logits.

    Every member must end in feature map -> global average pooling -> dense "logits" on the
    same input and the same feature-map grid (the average of stacked maps is then the stack of
    their averages)."""
    if len(members) < 2:
        raise ValueError("joining needs at least two networks")
    image = keras.Input(shape=members[0].inputs[0].shape[1:], name="input")
    maps, kernels, biases = [], [], []
    for index, member in enumerate(members):
        if tuple(member.inputs[0].shape[1:]) != tuple(image.shape[1:]):
            raise ValueError(f"member {index} takes {tuple(member.inputs[0].shape[1:])}, not {tuple(image.shape[1:])}")
        trunk = keras.Model(member.inputs, member.get_layer(FEATURE_MAP_LAYER).output, name=f"member_{index}")
        maps.append(trunk(image))
        kernel, bias = member.get_layer(LOGITS_LAYER).get_weights()
        kernels.append(kernel / len(members))
        biases.append(bias / len(members))
    grids = {tuple(m.shape[1:3]) for m in maps}
    if len(grids) != 1:
        raise ValueError(f"the members' feature maps differ in size: {sorted(grids)}")
    if len({k.shape[1] for k in kernels}) != 1:
        raise ValueError("the members predict different numbers of classes")
    features = layers.Concatenate(name=FEATURE_MAP_LAYER)(maps)
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    dense = layers.Dense(kernels[0].shape[1], name=LOGITS_LAYER)
    logits = dense(pooled)
    dense.set_weights([np.concatenate(kernels, axis=0), np.sum(biases, axis=0)])
    probabilities = layers.Softmax(name=PROBABILITIES_LAYER)(logits)
    return keras.Model(image, probabilities, name=name)


def _joined_record(member_paths: Sequence[Path], command: str) -> dict:
    """What the calibration run carries into the card: every member's whole path, and time."""
    reports = [json.loads((p.parent / "training_report.json").read_text()) for p in member_paths]
    return {
        "command": " ; ".join(f"({r.get('command', '?')})" for r in reports) + f" ; {command}",
        "duration_s": round(sum(r.get("duration_s", 0.0) for r in reports), 1),
        "epochs_run": sum(r.get("epochs_run", 0) for r in reports),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(IMAGE_TASKS), required=True)
    parser.add_argument("--members", type=Path, nargs="+", required=True, help="model.keras of each trained run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    command = f"python -m training.ensemble --task {args.task} --members {' '.join(display_path(p) for p in args.members)} --out {display_path(args.out)}"
    try:
        members = [keras.models.load_model(path, compile=False) for path in args.members]
        network = joined_network(members, name=args.task)
        # Each member's report says how it was made; without it the card could not say so.
        record = _joined_record(args.members, command)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    network.save(args.out / "model.keras")
    (args.out / "training_report.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"joined {len(members)} networks into {display_path(args.out / 'model.keras')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
