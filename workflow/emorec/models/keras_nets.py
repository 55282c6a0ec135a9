"""Keras networks: a CNN+LSTM on log-mel arrays (audio) and a CNN on 48x48 faces (visual).

Both are self-contained for serving: input scaling lives inside the model (a ``Normalization``
layer adapted on the training split, or a ``Rescaling`` of pixels), and the output is a
softmax over the model's classes. Training is deterministic for a seed and thread count:
:func:`configure_tensorflow` must run before any TensorFlow op.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

NETS = ("cnn_lstm", "cnn")


def configure_tensorflow(*, threads: int, seed: int) -> None:
    """Fix TF intra/inter-op threads, seed Python/NumPy/TF, and make TF ops deterministic."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _conv_block(x: Any, filters: int) -> Any:
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return layers.MaxPooling2D(2)(x)


def build_cnn_lstm(*, input_shape: Sequence[int], n_classes: int, filters: Sequence[int], lstm_units: int, dropout: float, train_x: np.ndarray) -> Any:
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


def build_face_cnn(*, input_shape: Sequence[int], n_classes: int, filters: Sequence[int], dense_units: int, dropout: float) -> Any:
    """Conv blocks with max-pooling, global average pooling, then a dense layer; pixels 0..255."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for f in filters:
        x = _conv_block(x, f)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="face_cnn")


def build_net(net: str, *, train_x: np.ndarray, n_classes: int, hp: Mapping[str, Any]) -> Any:
    """The untrained network ``net`` (one of :data:`NETS`) for inputs shaped like ``train_x``."""
    if net == "cnn_lstm":
        return build_cnn_lstm(input_shape=train_x.shape[1:], n_classes=n_classes, filters=hp["filters"], lstm_units=hp["lstm_units"], dropout=hp["dropout"], train_x=train_x)
    if net == "cnn":
        return build_face_cnn(input_shape=train_x.shape[1:], n_classes=n_classes, filters=hp["filters"], dense_units=hp["dense_units"], dropout=hp["dropout"])
    raise ValueError(f"unknown network {net!r}; expected one of {', '.join(NETS)}")


def fit(model: Any, *, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], hp: Mapping[str, Any], log: Any = None) -> dict[str, Any]:
    """Adam + sparse cross-entropy with early stopping on validation loss (best weights kept).

    Returns the training history summary: epochs run, best epoch and per-epoch losses.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hp["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp["patience"], restore_best_weights=True)
    callbacks: list[Any] = [stop]
    if log is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: log.info(
            "epoch %d: loss %.4f acc %.3f | val_loss %.4f val_acc %.3f",
            epoch + 1, logs["loss"], logs["accuracy"], logs["val_loss"], logs["val_accuracy"])))
    history = model.fit(
        train[0], train[1],
        validation_data=val,
        epochs=hp["max_epochs"],
        batch_size=hp["batch_size"],
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    val_loss = [float(v) for v in history.history["val_loss"]]
    return {
        "epochs_run": len(val_loss),
        "best_epoch": int(np.argmin(val_loss)) + 1,
        "loss": [float(v) for v in history.history["loss"]],
        "val_loss": val_loss,
    }
