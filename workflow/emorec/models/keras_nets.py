"""Keras networks: a CNN+LSTM on log-mel arrays (audio) and a CNN on 48x48 faces (visual).

Both are self-contained for serving: input scaling lives inside the model (a ``Normalization``
layer adapted on the training split, or a ``Rescaling`` of pixels), and the output is a
softmax over the model's classes. Training is deterministic for a seed and thread count:
:func:`configure_tensorflow` must run before any TensorFlow op. With ``determinism: portable``
(the default) it also makes the bits the same on every x86-64 CPU (:func:`cpu_independent`).
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorec.runner import DETERMINISM_ENV

NETS = ("cnn_lstm", "cnn")


def portable() -> bool:
    """Whether the pipeline runs with ``determinism: portable`` (also when nothing set it)."""
    return os.environ.get(DETERMINISM_ENV, "portable") == "portable"


def configure_tensorflow(*, threads: int, seed: int) -> None:
    """Seed Python/NumPy/TF, make TF ops deterministic and give TF ``threads`` threads, inside
    each op and for running independent ops side by side; in portable mode also take the CPU
    out of the numbers (:func:`cpu_independent`)."""
    import keras
    import tensorflow as tf

    if portable():
        cpu_independent(threads)
    else:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def cpu_independent(threads: int = 1) -> None:
    """Take the CPU out of TensorFlow's numbers, for this process (portable mode), and run
    ``threads`` threads inside each op.

    Four things made one training step of the face CNN give other bits on another CPU, each
    found under QEMU's emulation of other CPU models or by switching it on here
    (``benchmarks/determinism.py --cpu-models``):

    - Eigen blocks a matrix product, and shares it among an op's threads, by the cache sizes
      the CPU reports, which changes the order of its sums: the sizes are pinned
      (:mod:`emorec.models.eigen_caches`; where that fails, one thread per op instead);
    - oneDNN's convolutions, which TensorFlow turns on by itself on CPUs with VNNI or AMX
      instructions only (Eigen's elsewhere): on for every CPU, at their AVX2 kernels
      (``TF_ENABLE_ONEDNN_OPTS=1``, ``ONEDNN_MAX_CPU_ISA=AVX2`` in :data:`emorec.runner.PORTABLE_ENV`);
    - Grappler's arithmetic optimiser and constant folding rewrite square roots and divisions
      into ``rsqrt`` and reciprocals: both off;
    - ``rsqrt`` and reciprocal start from RSQRTPS / RCPPS, whose exact results each CPU chooses:
      batch normalisation and softmax without them (:func:`exact_rounding`), at the cost of a
      few per-channel square roots and divisions (:mod:`emorec.models.batch_norm`).

    If TensorFlow already runs another number of threads per op, that can no longer change:
    it says so in a warning (results then depend on that number), and the rest still applies."""
    import logging

    import tensorflow as tf

    from emorec.models import eigen_caches

    log = logging.getLogger("emorec")
    if not eigen_caches.pin():
        log.warning(
            "could not pin Eigen's cache sizes in this TensorFlow build: one thread per op, so results stay the same on every CPU"
        )
        threads = 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # TF already initialised with another count
        log.warning(
            "TensorFlow already runs %d threads per op, not %d: results depend on that count",
            tf.config.threading.get_intra_op_parallelism_threads(),
            threads,
        )
    tf.config.optimizer.set_experimental_options(
        {"arithmetic_optimization": False, "constant_folding": False}
    )
    exact_rounding()


def exact_rounding() -> None:
    """Make Keras' batch normalisation and softmax use only correctly rounded operations, so
    that they give the same bits on every x86-64 CPU (for this whole process).

    TensorFlow's ``rsqrt`` (in batch normalisation) and the reciprocal in its softmax kernel
    start from the CPU's approximate RSQRTPS / RCPPS instructions, which the x86 manuals only
    bound to 1.5 x 2^-12 relative error: each vendor approximates differently, so the same
    network predicts a few last bits apart on two CPUs and a long training run drifts apart.
    ``1 / sqrt(v)`` and ``exp(x - max) / sum`` use square root and division, which every
    x86-64 CPU rounds exactly. Training steps normalise with
    :func:`emorec.models.batch_norm.training_batch_norm` and its hand-written gradient."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn

    from emorec.models import batch_norm

    def batch_normalization(
        x: Any,
        mean: Any,
        variance: Any,
        axis: int,
        offset: Any = None,
        scale: Any = None,
        epsilon: float = 1e-3,
    ) -> Any:
        if axis != -1:  # per-channel vectors shaped to broadcast along ``axis``, as Keras does
            shape = [1] * len(x.shape)
            shape[axis] = mean.shape[0]
            mean, variance = tf.reshape(mean, shape), tf.reshape(variance, shape)
            offset = None if offset is None else tf.reshape(offset, shape)
            scale = None if scale is None else tf.reshape(scale, shape)
        inv = 1.0 / tf.sqrt(variance + epsilon)
        if scale is not None:
            inv *= scale
        return x * tf.cast(inv, x.dtype) + tf.cast(
            offset - mean * inv if offset is not None else -mean * inv, x.dtype
        )

    def softmax(x: Any, axis: int | None = -1) -> Any:
        exp = tf.exp(x - tf.reduce_max(x, axis=axis, keepdims=True))
        output = exp / tf.reduce_sum(exp, axis=axis, keepdims=True)
        output._keras_logits = x  # as Keras' own: the cross-entropy then works from the logits
        return output

    nn.batch_normalization, nn.softmax = batch_normalization, softmax
    batch_norm.use_portable_training_kernel()


def _conv_bn_relu(x: Any, filters: int) -> Any:
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def _conv_block(x: Any, filters: int) -> Any:
    from keras import layers

    return layers.MaxPooling2D(2)(_conv_bn_relu(x, filters))


def build_cnn_lstm(
    *,
    input_shape: Sequence[int],
    n_classes: int,
    filters: Sequence[int],
    lstm_units: int,
    dropout: float,
    train_x: np.ndarray,
) -> Any:
    """Conv blocks over ``(n_mels, frames, 1)`` log-mel arrays, then an LSTM over time.

    Each block halves both axes; the remaining mel bands x channels form the LSTM's
    per-step features. Inputs are standardised per mel band from ``train_x``.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="logmel")
    norm = layers.Normalization(axis=1)
    norm.adapt(train_x)
    x = norm(inputs)
    for f in filters:
        x = _conv_block(x, f)
    x = layers.Permute((2, 1, 3))(x)  # (time, mel, channels)
    x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    x = layers.LSTM(lstm_units)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="audio_cnn_lstm")


def _remap(x: Any, *, axis: int, index: np.ndarray, name: str) -> Any:
    """Images ``(h, w, c)`` with ``axis`` (1 = rows, 2 = columns) re-indexed by ``index``,
    ``out[..., i, ...] = x[..., index[i], ...]``, from built-in layers only, so a saved model
    loads anywhere (MLflow, ``mlflow models serve``) without this package: the axis is
    multiplied by a fixed 0/1 selection matrix, which is exact (one product by 1, sums of 0)."""
    from keras import layers

    order = (1, 3, 2) if axis == 2 else (3, 2, 1)  # the remapped axis last
    n = len(index)
    x = layers.Permute(order)(layers.Rescaling(1.0)(x))  # as floats
    select = layers.Dense(n, use_bias=False, trainable=False, name=name)
    x = select(x)
    select.set_weights([np.eye(n, dtype=np.float32)[index].T])
    return layers.Permute(order)(x)


def mirror(x: Any, *, name: str = "mirror") -> Any:
    """Images ``(h, w, c)`` mirrored left-right (see :func:`_remap`)."""
    width = int(x.shape[2])
    return _remap(x, axis=2, index=np.arange(width)[::-1], name=name)


def shift(x: Any, *, rows: int, cols: int, name: str = "shift") -> Any:
    """Images ``(h, w, c)`` moved down ``rows`` and right ``cols`` pixels (negative: up, left),
    the uncovered border filled with the nearest edge pixel, as the training shifts fill it;
    ``name`` prefixes the layers' names."""
    for axis, by in ((1, rows), (2, cols)):
        if by:
            n = int(x.shape[axis])
            x = _remap(
                x,
                axis=axis,
                index=np.clip(np.arange(n) - by, 0, n - 1),
                name=f"{name}_{'rc'[axis - 1]}{'m' if by < 0 else 'p'}{abs(by)}",
            )
    return x


def view_moves(shift_px: int | Sequence[int], *, diagonal: bool = False) -> list[tuple[int, int]]:
    """The (rows, cols) moves of test-time averaging: none, then for each distance in
    ``shift_px`` up, down, left and right, and with ``diagonal`` the four corners too."""
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)] + ([(-1, -1), (-1, 1), (1, -1), (1, 1)] if diagonal else [])
    distances = [shift_px] if isinstance(shift_px, int) else list(shift_px)
    return [(0, 0)] + [(d * r, d * c) for d in distances if d for r, c in steps]


def augmentation(x: Any, *, augment: Mapping[str, Any], seed: int) -> Any:
    """Random flip, shift, rotation and zoom of images in ``[0, 1]``, active in training only."""
    from keras import layers

    if augment.get("flip", False):
        x = layers.RandomFlip("horizontal", seed=seed)(x)
    if augment.get("shift", 0):
        x = layers.RandomTranslation(augment["shift"], augment["shift"], fill_mode="nearest", seed=seed + 1)(
            x
        )
    if augment.get("rotation_deg", 0):
        x = layers.RandomRotation(augment["rotation_deg"] / 360.0, fill_mode="nearest", seed=seed + 2)(x)
    if augment.get("zoom", 0):
        x = layers.RandomZoom(augment["zoom"], fill_mode="nearest", seed=seed + 3)(x)
    return x


def build_face_cnn(
    *,
    input_shape: Sequence[int],
    n_classes: int,
    filters: Sequence[int],
    dense_units: int,
    dropout: float,
    convs_per_block: int | Sequence[int] = 1,
    augment: Mapping[str, Any] | None = None,
    crop_px: int = 0,
    seed: int = 0,
) -> Any:
    """VGG-style blocks (``convs_per_block`` 3x3 convolutions, then max-pooling) from full
    resolution, global average pooling, a dense layer; pixels 0..255 in.

    ``convs_per_block`` is one count for every block or one per block: a block at full
    resolution costs as much arithmetic per convolution as each later one, so a single
    convolution there frees time for more epochs.

    ``augment`` adds random flips, shifts, rotations and zooms that act during training only.
    ``crop_px`` > 0 cuts that many pixels off every border after them: with shifts, training
    sees random crops and inference the centre crop (FER2013's usual 40x40 of 48x48, at 0.7x
    the arithmetic), and test-time shifts of ``crop_px`` add the four edge crops.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    if augment:
        x = augmentation(x, augment=augment, seed=seed)
    if crop_px:
        x = layers.Cropping2D(crop_px)(x)
    counts = [convs_per_block] * len(filters) if isinstance(convs_per_block, int) else list(convs_per_block)
    if len(counts) != len(filters):
        raise ValueError(f"convs_per_block has {len(counts)} counts for {len(filters)} blocks of filters")
    for f, n in zip(filters, counts):
        for _ in range(n - 1):
            x = _conv_bn_relu(x, f)
        x = _conv_block(x, f)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="face_cnn")


def recropped(network: Any, *, crop_px: int, hp: Mapping[str, Any], seed: int = 0) -> Any:
    """The face CNN ``network`` (built by :func:`build_net` from ``hp``) with its trained
    weights, cutting ``crop_px`` off each border instead of ``hp["crop_px"]`` (global pooling
    takes any size): how a net trained on random crops does on more of the face
    (``benchmarks/face_tta.py --crop``)."""
    like = np.zeros((1, *network.input_shape[1:]), dtype=np.uint8)  # only its shape is read
    twin = build_net(
        "cnn", train_x=like, n_classes=int(network.output_shape[-1]), hp={**hp, "crop_px": crop_px}, seed=seed
    )
    twin.set_weights(network.get_weights())
    return twin


def with_test_time_averaging(
    model: Any, *, flip: bool = True, shift_px: int | Sequence[int] = 0, diagonal: bool = False
) -> Any:
    """``model``'s probabilities averaged over views of each image (test-time averaging): the
    image itself, moved by each of :func:`view_moves`, and the mirror of each of these when
    ``flip``. The weights are shared, so the result is the same network served as one model;
    with a single view it is ``model`` itself."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=model.input_shape[1:], name="pixels", dtype=model.inputs[0].dtype)
    views = [
        shift(inputs, rows=r, cols=c, name=f"shift_{k}")
        for k, (r, c) in enumerate(view_moves(shift_px, diagonal=diagonal))
    ]
    if flip:
        views += [mirror(v, name=f"mirror_{k}") for k, v in enumerate(views)]
    if len(views) == 1:
        return model
    outputs = layers.Average()([model(v) for v in views])
    return keras.Model(inputs, outputs, name=f"{model.name}_tta")


def average(models: Sequence[Any]) -> Any:
    """One model whose output is the mean of ``models``' probabilities (an ensemble of
    networks trained apart), named as the first so code that looks the network up still finds
    it; a single model is returned as it is."""
    import keras
    from keras import layers

    if len(models) == 1:
        return models[0]
    first = models[0]
    inputs = keras.Input(shape=first.input_shape[1:], name=first.inputs[0].name, dtype=first.inputs[0].dtype)
    members = [keras.Model(m.inputs[0], m.outputs[0], name=f"{m.name}_{k + 1}") for k, m in enumerate(models)]
    return keras.Model(inputs, layers.Average()([m(inputs) for m in members]), name=first.name)


def build_net(net: str, *, train_x: np.ndarray, n_classes: int, hp: Mapping[str, Any], seed: int = 0) -> Any:
    """The untrained network ``net`` (one of :data:`NETS`) for inputs shaped like ``train_x``."""
    if net == "cnn_lstm":
        return build_cnn_lstm(
            input_shape=train_x.shape[1:],
            n_classes=n_classes,
            filters=hp["filters"],
            lstm_units=hp["lstm_units"],
            dropout=hp["dropout"],
            train_x=train_x,
        )
    if net == "cnn":
        return build_face_cnn(
            input_shape=train_x.shape[1:],
            n_classes=n_classes,
            filters=hp["filters"],
            dense_units=hp["dense_units"],
            dropout=hp["dropout"],
            convs_per_block=hp.get("convs_per_block", 1),
            augment=hp.get("augment"),
            crop_px=hp.get("crop_px", 0),
            seed=seed,
        )
    raise ValueError(f"unknown network {net!r}; expected one of {', '.join(NETS)}")


def class_weights(y: np.ndarray, n_classes: int, *, mode: str) -> np.ndarray:
    """Per-class loss weights [shape=(n_classes,)]: ``none`` (all 1), ``balanced`` (inverse
    frequency) or ``sqrt`` (its square root, milder for a class as rare as FER2013's disgust);
    normalised so the average training sample weighs 1."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if mode == "none":
        return np.ones(n_classes)
    inverse = np.where(counts > 0, counts.max() / np.maximum(counts, 1), 0.0)
    weights = {"balanced": inverse, "sqrt": np.sqrt(inverse)}[mode]
    return weights * len(y) / float((weights * counts).sum())


def optimizer(name: str, *, learning_rate: Any, weight_decay: float) -> Any:
    """``adamw``, or ``sgd`` with Nesterov momentum 0.9 (the optimizer of the strongest single
    VGG-style FER2013 networks); Keras applies ``weight_decay`` decoupled, each step shrinking
    the weights by learning rate x weight decay, in both."""
    import keras

    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    raise ValueError(f"unknown optimizer {name!r}; expected adamw or sgd")


def fit(
    model: Any,
    *,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    hp: Mapping[str, Any],
    seed: int = 0,
    checkpoint: str | Path | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """AdamW or SGD (:func:`optimizer`) + cross-entropy (optionally label-smoothed, class-weighted, on a cosine learning
    rate) with early stopping on validation loss (best weights kept).

    Every epoch visits the training split in its own order, drawn from ``(seed, epoch)``, so no
    epoch depends on random state left by the epochs before it. With ``checkpoint`` (an ``.npz``
    path) the whole training state is saved after every epoch, and a later call with the same
    network, data and ``hp`` resumes after the last finished epoch and ends with the same weights
    as an uninterrupted run: a face CNN killed after 30 of 36 epochs (a cluster's time limit)
    loses one epoch, not two hours. A checkpoint written for anything else is ignored.

    Returns the training history summary: epochs run, best epoch, per-epoch losses and seconds.
    """
    import time

    import keras

    n_classes = int(model.output_shape[-1])
    steps = int(np.ceil(len(train[0]) / hp["batch_size"])) * hp["max_epochs"]
    rate: Any = hp["learning_rate"]
    if hp.get("schedule", "constant") == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(hp["learning_rate"], decay_steps=steps, alpha=0.01)
    model.compile(
        optimizer=optimizer(
            hp.get("optimizer", "adamw"), learning_rate=rate, weight_decay=hp.get("weight_decay", 0.0)
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.get("label_smoothing", 0.0)),
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)  # its slots exist now, so a checkpoint can fill them
    onehot = np.eye(n_classes, dtype=np.float32)
    y_train = onehot[train[1]]
    sample_weight = class_weights(train[1], n_classes, mode=hp.get("class_weight", "none"))[train[1]].astype(
        np.float32
    )
    fingerprint = training_fingerprint(model, train=train, val=val, hp=hp, seed=seed) if checkpoint else ""
    state = _resumed(model, checkpoint, fingerprint, log) if checkpoint else None
    state = state or {
        "fingerprint": fingerprint,
        "loss": [],
        "accuracy": [],
        "val_loss": [],
        "val_accuracy": [],
        "epoch_seconds": [],
        "best_epoch": -1,
        "wait": 0,
        "stopped": False,
        "best": None,
    }
    for epoch in range(len(state["val_loss"]), hp["max_epochs"]):
        if state["stopped"]:
            break
        order = np.random.default_rng([seed, epoch]).permutation(len(train[0]))
        began = time.perf_counter()
        logs = {
            k: float(v[-1])
            for k, v in model.fit(
                train[0][order],
                y_train[order],
                sample_weight=sample_weight[order],
                validation_data=(val[0], onehot[val[1]]),
                batch_size=hp["batch_size"],
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,
                verbose=0,
            ).history.items()
        }
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            state[key].append(logs[key])
        state["epoch_seconds"].append(round(time.perf_counter() - began, 1))
        # early stopping as keras.callbacks.EarlyStopping(restore_best_weights=True) does it
        state["wait"] += 1
        if state["best"] is None or logs["val_loss"] < state["val_loss"][state["best_epoch"]]:
            state["best"], state["best_epoch"], state["wait"] = model.get_weights(), epoch, 0
        state["stopped"] = state["wait"] >= hp["patience"] and epoch > 0
        if log is not None:
            log.info(
                "epoch %d/%d: loss %.4f acc %.3f | val_loss %.4f val_acc %.3f (%.0f s)",
                epoch + 1,
                hp["max_epochs"],
                logs["loss"],
                logs["accuracy"],
                logs["val_loss"],
                logs["val_accuracy"],
                state["epoch_seconds"][-1],
            )
        if checkpoint:
            _save_checkpoint(model, checkpoint, state)
    model.set_weights(state["best"])
    return {
        "epochs_run": len(state["val_loss"]),
        "best_epoch": state["best_epoch"] + 1,
        **{key: state[key] for key in ("loss", "val_loss", "val_accuracy", "epoch_seconds")},
    }


def training_fingerprint(
    model: Any,
    *,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    hp: Mapping[str, Any],
    seed: int,
) -> str:
    """A digest of everything a training run's result depends on: the network's layers and
    variable shapes, the data, ``hp``, the seed, this module's code and the library versions."""
    import hashlib
    import json

    import keras
    import tensorflow as tf

    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "layers": [type(layer).__name__ for layer in model.layers],
                "shapes": [list(v.shape) for v in model.variables],
                "hp": hp,
                "seed": seed,
                "versions": [tf.__version__, keras.__version__],
            },
            sort_keys=True,
            default=str,
        ).encode()
    )
    digest.update(Path(__file__).read_bytes())
    for array in (*train, *val):
        digest.update(str((array.shape, array.dtype)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _save_checkpoint(model: Any, path: str | Path, state: Mapping[str, Any]) -> None:
    """Write the model's and optimizer's variables (random-number states included) and the
    early-stopping state into ``path``, atomically: a kill mid-write leaves the previous epoch's."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model_{i}": v.numpy() for i, v in enumerate(model.variables)}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)}
    arrays |= {f"best_{i}": w for i, w in enumerate(state["best"])}
    meta = {k: v for k, v in state.items() if k != "best"}
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    os.replace(partial, path)


def _resumed(model: Any, path: str | Path, fingerprint: str, log: Any) -> dict[str, Any] | None:
    """The state saved in ``path`` loaded into ``model``, or None when there is no checkpoint or
    it belongs to another network, data, parameters or code."""
    import json

    path = Path(path)
    if not path.exists():
        return None
    with np.load(path) as saved:
        state = json.loads(saved["meta"].tobytes())
        if state.get("fingerprint") != fingerprint:
            if log is not None:
                log.warning("ignoring %s: it was written for another network, data, parameters or code", path)
            return None
        for prefix, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
            for i, variable in enumerate(variables):
                variable.assign(saved[f"{prefix}_{i}"])
        state["best"] = [saved[f"best_{i}"] for i in range(len(model.get_weights()))]
    if log is not None:
        log.info(
            "resuming from %s: %d epochs done, the best so far epoch %d",
            path,
            len(state["val_loss"]),
            state["best_epoch"] + 1,
        )
    return state
