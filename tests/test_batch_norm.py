"""Batch-normalisation statistics recomputed after training (precise BN)."""

import numpy as np
import pytest

from emorec.models import batch_norm, keras_nets


def _net(**kw):
    keras_nets.configure_tensorflow(threads=1, seed=0)
    return keras_nets.build_face_cnn(input_shape=(16, 16, 1), n_classes=3, filters=[4, 8], dense_units=8, dropout=0.3,
                                     convs_per_block=2, **kw)


def _outputs(network, layer, x):
    import keras

    return np.asarray(keras.Model(network.inputs[0], layer.output)(x, training=False), dtype=np.float64).reshape(-1, layer.moving_mean.shape[0])


@pytest.mark.parametrize("augmented", [False, True])
def test_every_layer_normalises_the_inference_inputs_after_recalibration(augmented):
    """Each layer then centres its channels on the data at inference and scales them to unit
    variance (gamma 1, beta 0 in a new network): the later layers only do if they were measured
    after the earlier ones were set. Augmentation layers and dropout stay off throughout."""
    extra = {"augment": {"flip": True, "shift": 0.1, "rotation_deg": 10, "zoom": 0.1}, "crop_px": 2} if augmented else {}
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
    assert all(np.array_equal(a, b) for a, b in zip(first, network.get_weights(), strict=True))  # inference mode: no random views


def test_recalibration_changes_only_the_moving_statistics():
    network = _net()
    before = {v.path: v.numpy().copy() for v in network.variables}
    batch_norm.recalibrate(network, np.random.default_rng(1).integers(0, 256, (50, 16, 16, 1)).astype(np.uint8))
    changed = {v.path for v in network.variables if not np.array_equal(before[v.path], v.numpy())}
    assert changed and all(path.endswith(("moving_mean", "moving_variance")) for path in changed)
