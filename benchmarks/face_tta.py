"""What test-time averaging buys a trained face CNN, on FER2013 validation and PrivateTest.

    .venv/bin/python benchmarks/face_tta.py WORKDIR [--shift 1 2 3] [--diagonal] [--crop 0 2] [--with MODEL_DIR] [--recalibrate-bn] > benchmarks/face_tta.txt

WORKDIR is a finished real-profile run (``data/models/visual/cnn`` and
``data/features/faces.parquet``). The saved model's own network (the one inside its
test-time-averaging wrapper) is scored with no averaging, with the mirror only, and with the
mirror and each ``--shift``'s pixel moves (with several, all of them together too; ``--diagonal``
adds the same with the corner moves); each ``--crop`` adds those rows for the same weights on
views that cut that many pixels off each border instead of the trained ``crop_px``
(:func:`emorec.models.keras_nets.recropped`; 0 is the whole face). All in portable mode on 2
threads, with the seconds each took.
``--with`` adds another trained face model (a folder with ``model.keras`` and ``card.json``): each
saved model as it is, and the mean of their probabilities, a two-model ensemble. A saved
ensemble (``members`` > 1) also has each of its networks scored alone with the saved averaging.
``--recalibrate-bn`` then recomputes the networks' batch-normalisation statistics on the
un-augmented training faces (:mod:`emorec.models.batch_norm`) and scores every row again.
"""

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from emorec.runner import set_pipeline_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--shift", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument(
        "--diagonal",
        action="store_true",
        help="also each shift with the corner moves, and all shifts together",
    )
    parser.add_argument(
        "--crop",
        type=int,
        nargs="*",
        default=[],
        help="also the network on views with this border cut off (0: the whole face)",
    )
    parser.add_argument(
        "--recalibrate-bn",
        action="store_true",
        help="then every row again with batch-norm statistics recomputed on the training faces",
    )
    parser.add_argument("--with", dest="other", type=Path, help="another trained face model's folder")
    args = parser.parse_args()
    set_pipeline_env(2, determinism="portable")

    from emorec.datasets import encode, model_input, read_features, split_rows
    from emorec.models import batch_norm, keras_nets
    from emorec.models.store import load_model, read_timings

    keras_nets.configure_tensorflow(threads=2, seed=0)
    trained = load_model(args.workdir / "data/models/visual/cnn")
    card = trained.card
    core = next(layer for layer in trained.estimator.layers if layer.name == "face_cnn")
    table = read_features(args.workdir / "data/features/faces.parquet")
    hp = card["hyper_parameters"]
    cores = {
        "": core
    }  # the saved network, and with --crop the same weights on views that cut another border off
    side = int(core.input_shape[1])
    for px in args.crop:
        cores[f"{side - 2 * px} x {side - 2 * px} (crop {px}): "] = keras_nets.recropped(
            core, crop_px=px, hp=hp
        )
    variants: dict[str, tuple[Any, int | str]] = {}
    moves = list(args.shift) + ([args.shift] if len(args.shift) > 1 else [])
    for prefix, network in cores.items():
        if not prefix:
            variants["none"] = (network, 1)
        variants[f"{prefix}mirror"] = (keras_nets.with_test_time_averaging(network, flip=True), 2)
        for diagonal in (False, True) if args.diagonal else (False,):
            for px in moves:
                name = f"{prefix}mirror + {','.join(map(str, np.atleast_1d(px)))} px shifts{' and corners' if diagonal else ''}"
                views = 2 * len(keras_nets.view_moves(px, diagonal=diagonal))
                variants[name] = (
                    keras_nets.with_test_time_averaging(network, flip=True, shift_px=px, diagonal=diagonal),
                    views,
                )
    networks = [
        layer for layer in core.layers if layer.name.startswith("face_cnn_")
    ]  # an ensemble's (members > 1)
    for k, network in enumerate(networks, 1):
        averaged = keras_nets.with_test_time_averaging(
            network,
            flip=hp.get("tta_flip", False),
            shift_px=hp.get("tta_shift_px", 0),
            diagonal=hp.get("tta_diagonal", False),
        )
        variants[f"network {k} of {len(networks)} alone, as saved"] = (averaged, "as saved")
    if args.other:
        other = load_model(args.other).estimator
        variants |= {
            "this model as saved": (trained.estimator, "as saved"),
            f"{args.other} as saved": (other, "as saved"),
            "mean of the two as saved": (_Mean(trained.estimator, other), "as saved"),
        }
    timings = read_timings("data/models/visual/cnn", root=args.workdir)
    epochs = [s for network in timings["epoch_seconds"] for s in network]
    print(
        f"face CNN of {args.workdir}: {len(timings['epoch_seconds'])} network(s), {core.count_params():,} parameters, {len(epochs)} epochs "
        f"(median {np.median(epochs):.0f} s), trained in {timings['training_seconds'] / 60:.0f} min"
    )
    print(
        "| averaging | views | val acc. | val UAR | PrivateTest acc. | PrivateTest UAR | seconds (both splits) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    splits = {}
    for split in ("val", "test"):
        rows = split_rows(table, split)
        splits[split] = (
            model_input(rows, "pixels"),
            encode(np.asarray(rows.column("label").to_pylist()), trained.classes),
        )
    _score(variants, splits, trained.classes)
    if args.recalibrate_bn:
        started = time.perf_counter()
        faces = model_input(split_rows(table, "train"), "pixels")
        layers = sum(
            batch_norm.recalibrate(network, faces) for network in [core, *networks]
        )  # an ensemble's BN layers are its networks'
        print(
            f"| *batch-norm statistics of {layers} layers recomputed on the un-augmented training faces* | | | | | | "
            f"{time.perf_counter() - started:.0f} |"
        )
        _score(
            {f"BN recalibrated: {name}": variant for name, variant in variants.items()},
            splits,
            trained.classes,
        )


def _score(variants: dict, splits: dict, classes: list[str]) -> None:
    """One table row per variant: accuracy and UAR on each split (two decimals), and the seconds."""
    from emorec.metrics import evaluate

    for name, (model, views) in variants.items():
        row, started = [], time.perf_counter()
        for x, y in splits.values():
            scores = evaluate(y, model.predict(x, batch_size=256, verbose=0), labels=classes)
            row += [f"{100 * scores['accuracy']:.2f}", f"{100 * scores['balanced_accuracy']:.2f}"]
        print(f"| {name} | {views} | {' | '.join(row)} | {time.perf_counter() - started:.0f} |", flush=True)


class _Mean:
    """Two saved models' predictions averaged: the ensemble row of ``--with``."""

    def __init__(self, *models) -> None:
        self.models = models

    def predict(self, x: np.ndarray, **kwargs) -> np.ndarray:
        return np.mean([model.predict(x, **kwargs) for model in self.models], axis=0)


if __name__ == "__main__":
    main()
