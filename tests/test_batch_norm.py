"""Batch-normalisation statistics recomputed after training (precise BN)."""

import numpy as np
import pytest

from emorec.models import batch_norm, keras_nets


def _net(**kw):
    keras_nets.configure_tensorflow(threads=1, seed=0)
    return keras_nets.build_face_cnn(
        input_shape=(16, 16, 1),
        n_classes=3,
        filters=[4, 8],
        dense_units=8,
        dropout=0.3,
        convs_per_block=2,
        **kw,
    )


def _outputs(network, layer, x):
    import keras

    return np.asarray(
        keras.Model(network.inputs[0], layer.output)(x, training=False), dtype=np.float64
    ).reshape(-1, layer.moving_mean.shape[0])


@pytest.mark.parametrize("augmented", [False, True])
def test_every_layer_normalises_the_inference_inputs_after_recalibration(augmented):
    """Each layer then centres its channels on the data at inference and scales them to unit
    variance (gamma 1, beta 0 in a new network): the later layers only do if they were measured
    after the earlier ones were set. Augmentation layers and dropout stay off throughout."""
    extra = (
        {"augment": {"flip": True, "shift": 0.1, "rotation_deg": 10, "zoom": 0.1}, "crop_px": 2}
        if augmented
        else {}
    )
    network = _net(**extra)
    x = np.random.default_rng(0).integers(0, 256, (300, 16, 16, 1)).astype(np.uint8)
    layers = batch_norm.batch_norm_layers(network)
    assert len(layers) == 4 and batch_norm.recalibrate(network, x, batch_size=64) == 4
    for layer in layers:
        out = _outputs(network, layer, x)
        variance = layer.moving_variance.numpy()
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(out.var(axis=0), variance / (variance + layer.epsilon), rtol=1e-3)
    first = [w.copy() for w in network.get_weights()]
    batch_norm.recalibrate(network, x, batch_size=64)
    assert all(
        np.array_equal(a, b) for a, b in zip(first, network.get_weights(), strict=True)
    )  # inference mode: no random views


def test_recalibration_changes_only_the_moving_statistics():
    network = _net()
    before = {v.path: v.numpy().copy() for v in network.variables}
    batch_norm.recalibrate(
        network, np.random.default_rng(1).integers(0, 256, (50, 16, 16, 1)).astype(np.uint8)
    )
    changed = {v.path for v in network.variables if not np.array_equal(before[v.path], v.numpy())}
    assert changed and all(path.endswith(("moving_mean", "moving_variance")) for path in changed)


def _reference(x, gamma, beta, epsilon, weights):
    """Batch normalisation in float64 by the textbook formula, differentiated by TensorFlow."""
    import tensorflow as tf

    x, gamma, beta = (tf.constant(v, dtype=tf.float64) for v in (x, gamma, beta))
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
        y = (x - mean) / tf.sqrt(variance + epsilon) * gamma + beta
        loss = tf.reduce_sum(y * weights)
    return (
        y.numpy(),
        mean.numpy(),
        variance.numpy(),
        [g.numpy() for g in tape.gradient(loss, [x, gamma, beta])],
    )


@pytest.mark.parametrize("offset", [0.0, 3.0])
def test_training_kernel_matches_the_textbook_formula_and_its_gradient(offset):
    """The hand-written gradient is the gradient: output, statistics and all three gradients
    agree with float64 automatic differentiation to float32 precision (also with a mean far
    from zero, where a one-pass variance would cancel)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 5, 5, 6)) * rng.uniform(0.1, 3, 6) + offset).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, 6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    weights = rng.standard_normal(x.shape)  # an upstream gradient with no structure
    y_ref, mean_ref, var_ref, grads_ref = _reference(x, gamma, beta, 1e-3, weights)
    tx, tg, tb = (tf.constant(v) for v in (x, gamma, beta))
    with tf.GradientTape() as tape:
        tape.watch([tx, tg, tb])
        y, mean, variance = batch_norm.training_batch_norm(tx, tg, tb, epsilon=1e-3)
        loss = tf.reduce_sum(y * weights.astype(np.float32))
    grads = tape.gradient(loss, [tx, tg, tb])
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mean.numpy(), mean_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variance.numpy(), var_ref, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, grads_ref):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_keras_layers_train_with_the_portable_kernel_and_update_their_moving_statistics():
    """With the kernel installed a layer's training output, gradient and moving averages are
    Keras' own (to float32 precision); inference still runs Keras' code path."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = tf.constant((rng.standard_normal((16, 4, 4, 8)) * 2 + 1).astype(np.float32))
    results = []
    for install in (False, True):
        if install:
            batch_norm.use_portable_training_kernel()
        layer = keras.layers.BatchNormalization(momentum=0.9)
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 8, dtype=np.float32))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        results.append(
            (
                y.numpy(),
                tape.gradient(loss, x).numpy(),
                layer.moving_mean.numpy(),
                layer.moving_variance.numpy(),
                layer(x, training=False).numpy(),
            )
        )
    assert getattr(keras.layers.BatchNormalization.call, "keras_call", None) is not None
    for keras_own, portable in zip(*results):
        np.testing.assert_allclose(portable, keras_own, rtol=1e-4, atol=1e-5)
