"""Batch-normalisation statistics recomputed after training ("precise BN").

During training each ``BatchNormalization`` layer keeps a moving average of its input's mean
and variance, as the layer saw it: on *augmented* faces. Rotations and zooms resample the
face with bilinear interpolation, which blurs it, so the first convolutions' outputs vary
less in training than on the sharp faces of inference (their variance is ~1.4x larger on
FER2013's un-augmented training faces), and every later layer inherits the mismatch. Setting
each layer's statistics to those of the training faces as the network sees them at inference
(augmentation off, centre crop) removes it; nothing else changes, no label is used.

Wu & Johnson, "Rethinking 'Batch' in BatchNorm" (2021), call population statistics computed
after training *precise BN*.
"""

from typing import Any

import numpy as np


def batch_norm_layers(network: Any) -> list[Any]:
    """The network's ``BatchNormalization`` layers, in the order data flows through them."""
    import keras

    return [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate(network: Any, x: np.ndarray, *, batch_size: int = 512) -> int:
    """Set every batch-normalisation layer of the functional Keras ``network`` to the mean and
    (population) variance of its input over ``x``, computed in inference mode, one layer after
    another: a layer's input depends on the layers before it, so each is measured with them
    already recalibrated. Returns the number of layers set.

    NumPy sums the batches in float64 in a fixed order, so the statistics are as deterministic
    as the forward passes that produce them."""
    import keras

    layers = batch_norm_layers(network)
    for layer in layers:
        feed = keras.Model(network.inputs[0], layer.input)
        total = np.zeros(layer.moving_mean.shape, dtype=np.float64)
        squares = np.zeros_like(total)
        count = 0
        for start in range(0, len(x), batch_size):
            values = np.asarray(feed.predict_on_batch(x[start:start + batch_size]))
            values = values.reshape(-1, values.shape[-1])
            total += values.sum(axis=0, dtype=np.float64)
            squares += np.square(values).sum(axis=0, dtype=np.float64)
            count += len(values)
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(squares / count - mean * mean, 0.0).astype(np.float32))
    return len(layers)
