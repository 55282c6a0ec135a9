"""Train one model on the training split of a feature table and save it with its card.

scikit-learn audio models are grid-searched by speaker-grouped cross-validation on the
training split; Keras networks early-stop on the validation split. The card records the
hyper-parameters, the seed, the SHA-256 of the feature table and the training time.
"""

import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emorec.archives import file_sha256
from emorec.datasets import classes_of, encode, model_input, read_features, split_rows
from emorec.jsonio import write_json
from emorec.models import batch_norm, keras_nets, sklearn_audio
from emorec.models.store import save_model

log = logging.getLogger(__name__)

#: The input each network takes.
NET_INPUTS = {"cnn_lstm": "logmel", "cnn": "pixels"}


def _card(
    *,
    name: str,
    modality: str,
    input_kind: str,
    classes: list[str],
    features: str | Path,
    hp: Mapping[str, Any],
    seed: int,
    n_train: int,
    n_val: int,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "modality": modality,
        "input": input_kind,
        "classes": classes,
        "hyper_parameters": dict(hp),
        "seed": seed,
        "data": {"path": str(features), "sha256": file_sha256(Path(features))},
        "n_train": n_train,
        "n_val": n_val,
        **extra,
    }


def _write_timings(path: str | Path | None, seconds: float, **extra: Any) -> None:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"training_seconds": round(seconds, 2), **extra})


def _recalibrated(network: Any, x_train: np.ndarray, *, val: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Recompute ``network``'s batch-normalisation statistics on the un-augmented training
    inputs (:mod:`emorec.models.batch_norm`); its validation accuracy (one view) before and after."""
    began = time.perf_counter()
    before = float((network.predict(val[0], batch_size=256, verbose=0).argmax(axis=1) == val[1]).mean())
    layers = batch_norm.recalibrate(network, x_train)
    after = float((network.predict(val[0], batch_size=256, verbose=0).argmax(axis=1) == val[1]).mean())
    seconds = round(time.perf_counter() - began, 1)
    log.info(
        "batch-norm statistics of %d layers recomputed on %d training inputs in %.0f s: validation accuracy %.4f -> %.4f",
        layers,
        len(x_train),
        seconds,
        before,
        after,
    )
    return {"layers": layers, "val_accuracy_before": before, "val_accuracy_after": after}


def train_sklearn_audio(
    *,
    features: str | Path,
    model_dir: str | Path,
    kind: str,
    grid: Mapping[str, list[Any]],
    folds: int,
    seed: int,
    threads: int,
    input_options: Mapping[str, Any] | None = None,
    timings: str | Path | None = None,
) -> dict[str, Any]:
    """Tune and fit the scikit-learn audio model ``kind`` on the descriptors; save it.

    ``input_options`` (descriptor groups, speaker normalisation) go to
    :func:`emorec.datasets.model_input` and into the card, so evaluation rebuilds the same input.
    ``timings`` is a JSON file for the seconds it took (:func:`timings_path`).
    """
    options = dict(input_options or {})
    start = time.perf_counter()
    table = read_features(features)
    train, val = split_rows(table, "train"), split_rows(table, "val")
    labels = np.asarray(train.column("label").to_pylist())
    classes = classes_of(labels)
    speakers = train.column("speaker").to_pylist()
    log.info(
        "%s: %d training clips, %d speakers, %d classes; grid %s",
        kind,
        len(train),
        len(set(speakers)),
        len(classes),
        dict(grid),
    )
    model, search = sklearn_audio.tune(
        model_input(train, "descriptors", **options),
        encode(labels, classes),
        speakers,
        kind=kind,
        grid=grid,
        folds=folds,
        seed=seed,
        n_jobs=threads,
    )
    seconds = time.perf_counter() - start
    if search["cv_macro_f1"] is None:
        log.warning(
            "%s: a fold's training speakers hold one class, so no grid search: fitted %s, %.1f s",
            kind,
            search["best_params"],
            seconds,
        )
    else:
        log.info(
            "%s: best %s, CV macro-F1 %.3f, %.1f s",
            kind,
            search["best_params"],
            search["cv_macro_f1"],
            seconds,
        )
    card = _card(
        name=kind,
        modality="audio",
        input_kind="descriptors",
        classes=classes,
        features=features,
        hp=grid,
        seed=seed,
        n_train=len(train),
        n_val=len(val),
        best_params=search["best_params"],
        cv_macro_f1=search["cv_macro_f1"],
        cv_folds=folds,
        cv_results=search["cv_results"],
        input_options=options,
    )
    save_model(model, model_dir, framework="sklearn", card=card)
    _write_timings(timings, seconds)
    return card


def train_keras(
    *,
    features: str | Path,
    model_dir: str | Path,
    net: str,
    modality: str,
    hp: Mapping[str, Any],
    seed: int,
    threads: int,
    input_options: Mapping[str, Any] | None = None,
    timings: str | Path | None = None,
) -> dict[str, Any]:
    """Fit the Keras network ``net`` with early stopping on the validation split; save it.

    ``hp["members"]`` > 1 fits that many networks (seeds ``seed``, ``seed + 1``, ...) and saves
    the mean of their probabilities as the model; the card's ``history`` has one entry per network.

    ``hp["recalibrate_bn"]`` recomputes each network's batch-normalisation statistics on the
    un-augmented training inputs once it is fitted (:mod:`emorec.models.batch_norm`); the card's
    history records its validation accuracy before and after.

    ``input_options`` as for :func:`train_sklearn_audio` (speaker normalisation of log-mels).

    Each network checkpoints every epoch under ``model_dir/resume/``, so a rerun of a killed
    job resumes where it stopped (:func:`keras_nets.fit`). ``timings`` (a JSON file) gets this
    process's seconds and every network's ``epoch_seconds``, resumed epochs included."""
    options = dict(input_options or {})
    keras_nets.configure_tensorflow(threads=threads, seed=seed)
    start = time.perf_counter()
    table = read_features(features)
    train, val = split_rows(table, "train"), split_rows(table, "val")
    input_kind = NET_INPUTS[net]
    classes = classes_of(np.asarray(train.column("label").to_pylist()))
    x_train, x_val = model_input(train, input_kind, **options), model_input(val, input_kind, **options)
    y_train = encode(np.asarray(train.column("label").to_pylist()), classes)
    y_val = encode(np.asarray(val.column("label").to_pylist()), classes)
    log.info(
        "%s %s: %d train / %d val samples of shape %s, %d classes",
        modality,
        net,
        len(x_train),
        len(x_val),
        x_train.shape[1:],
        len(classes),
    )
    networks, history, epoch_seconds = [], [], []
    resume = (
        Path(model_dir) / "resume"
    )  # per-epoch checkpoints: a killed job's rerun resumes them; gone once saved
    for k in range(
        hp.get("members", 1)
    ):  # an ensemble: networks of seeds seed, seed + 1, ... fitted one after another
        networks.append(
            keras_nets.build_net(net, train_x=x_train, n_classes=len(classes), hp=hp, seed=seed + k)
        )
        history.append(
            keras_nets.fit(
                networks[-1],
                train=(x_train, y_train),
                val=(x_val, y_val),
                hp=hp,
                seed=seed + k,
                checkpoint=resume / f"member_{k}.npz",
                log=log,
            )
        )
        epoch_seconds.append(history[-1].pop("epoch_seconds"))
        log.info(
            "%s %s, seed %d: best epoch %d of %d, %.1f s so far",
            modality,
            net,
            seed + k,
            history[-1]["best_epoch"],
            history[-1]["epochs_run"],
            time.perf_counter() - start,
        )
        if hp.get("recalibrate_bn", False):
            history[-1]["recalibration"] = _recalibrated(networks[-1], x_train, val=(x_val, y_val))
    model = keras_nets.average(networks)
    n_parameters = int(
        model.count_params()
    )  # the networks' own (the averaging wrapper adds fixed 0/1 remaps)
    model = keras_nets.with_test_time_averaging(
        model,
        flip=hp.get("tta_flip", False),
        shift_px=hp.get("tta_shift_px", 0),
        diagonal=hp.get("tta_diagonal", False),
    )
    seconds = time.perf_counter() - start
    card = _card(
        name=net,
        modality=modality,
        input_kind=input_kind,
        classes=classes,
        features=features,
        hp=hp,
        seed=seed,
        n_train=len(train),
        n_val=len(val),
        threads=threads,
        history=history,
        n_parameters=n_parameters,
        input_options=options,
    )
    save_model(model, model_dir, framework="keras", card=card)
    shutil.rmtree(resume, ignore_errors=True)
    _write_timings(timings, seconds, epoch_seconds=epoch_seconds)
    return card
