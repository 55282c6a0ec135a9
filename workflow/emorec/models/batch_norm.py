"""Batch normalisation: a training kernel that rounds the same on every CPU, and statistics
recomputed after training ("precise BN").

**Training kernel** (:func:`training_batch_norm`, installed by :func:`use_portable_training_kernel`
in portable mode): one scale and one shift per channel, computed with IEEE square root and
division, and a hand-written gradient.

**Precise BN** (:func:`recalibrate`).

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


def training_batch_norm(x: Any, gamma: Any, beta: Any, *, epsilon: float) -> tuple[Any, Any, Any]:
    """Batch normalisation of ``x`` [shape=(..., channels)] by its own batch statistics, as a
    training step needs it: the output, the batch mean and the (biased) batch variance.

    The output is ``(x - mean) * scale + beta`` with ``scale = gamma / sqrt(variance + epsilon)``
    per channel: what the CPU could round its own way (square root, division) acts on the
    per-channel vectors only, with IEEE operations, never RSQRTPS / RCPPS. The gradient is
    written by hand, two reductions and one element-wise pass, where automatic differentiation
    of the moments materialises broadcast copies of every activation map
    (``benchmarks/face_step_profile.txt``). The statistics are outputs for the moving averages
    only: no gradient flows back through them."""
    import tensorflow as tf

    axes = list(range(len(x.shape) - 1))

    @tf.custom_gradient
    def normalise(x: Any, gamma: Any, beta: Any) -> Any:
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)
        mean = tf.reduce_sum(x, axis=axes) / count
        centred = x - mean
        variance = tf.reduce_sum(tf.square(centred), axis=axes) / count  # two passes: no cancellation
        inv = 1.0 / tf.sqrt(variance + epsilon)
        scale = gamma * inv

        def grad(dy: Any, *_: Any) -> tuple[Any, Any, Any]:
            with tf.name_scope("batch_normalization_grad"):  # profiles attribute these ops to batch norm
                dbeta = tf.reduce_sum(dy, axis=axes)
                dgamma = tf.reduce_sum(dy * centred, axis=axes) * inv
                # dx = scale * (dy - mean(dy) - x_hat * mean(dy * x_hat)), with x_hat = centred * inv
                dx = dy * scale + (centred * (-scale * inv * dgamma / count) - scale * dbeta / count)
            return dx, dgamma, dbeta

        return (centred * scale + beta, mean, variance), grad

    return normalise(x, gamma, beta)


def use_portable_training_kernel() -> None:
    """Make every Keras ``BatchNormalization`` layer of this process train with
    :func:`training_batch_norm` (a plain layer with scale and offset on the last axis, no mask,
    no renormalisation); inference, and every other case, stays Keras' own. Saved models hold
    ordinary ``BatchNormalization`` layers, so they load anywhere."""
    import keras
    from keras import ops

    layer_class = keras.layers.BatchNormalization
    keras_call = getattr(layer_class.call, "keras_call", layer_class.call)

    def call(self: Any, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        plain = (
            self.scale
            and self.center
            and not self.renorm
            and mask is None
            and self._reduction_axes == list(range(len(inputs.shape) - 1))
        )
        if not (training and self.trainable and plain):
            return keras_call(self, inputs, training=training, mask=mask)
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        y, mean, variance = training_batch_norm(
            x, ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype), epsilon=self.epsilon
        )
        # the moving averages exactly as Keras updates them
        self.moving_mean.assign(
            ops.cast(self.moving_mean, x.dtype) * self.momentum + mean * (1.0 - self.momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, x.dtype) * self.momentum + variance * (1.0 - self.momentum)
        )
        return ops.cast(y, self.compute_dtype)

    call.keras_call = keras_call  # type: ignore[attr-defined]
    layer_class.call = call


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
            values = np.asarray(feed.predict_on_batch(x[start : start + batch_size]))
            values = values.reshape(-1, values.shape[-1])
            total += values.sum(axis=0, dtype=np.float64)
            squares += np.square(values).sum(axis=0, dtype=np.float64)
            count += len(values)
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(squares / count - mean * mean, 0.0).astype(np.float32))
    return len(layers)
