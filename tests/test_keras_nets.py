"""Keras training pieces: class weights, the mirrored test-time averaging."""

import numpy as np
import pytest

from emorec.models import keras_nets


@pytest.mark.parametrize("mode", ["none", "balanced", "sqrt"])
def test_class_weights_average_one_per_sample(mode):
    y = np.array([0] * 90 + [1] * 9 + [2] * 1)
    w = keras_nets.class_weights(y, 3, mode=mode)
    assert w[y].mean() == pytest.approx(1.0)
    if mode == "none":
        assert (w == 1).all()
    else:
        assert w[0] < w[1] < w[2]
    if mode == "balanced":
        assert (w * np.bincount(y)).std() == pytest.approx(0, abs=1e-9)  # every class weighs the same


def test_flip_averaged_face_model_is_mirror_symmetric_and_loads_without_this_package(tmp_path):
    import subprocess
    import sys

    keras_nets.configure_tensorflow(threads=1, seed=0)
    core = keras_nets.build_face_cnn(input_shape=(48, 48, 1), n_classes=7, filters=[4, 8], dense_units=8, dropout=0.1,
                                     convs_per_block=2, augment={"flip": True, "shift": 0.1, "rotation_deg": 10, "zoom": 0.1})
    model = keras_nets.with_flip_averaging(core)
    x = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 1)).astype(np.uint8)
    p = model.predict(x, verbose=0)
    np.testing.assert_array_equal(p, model.predict(x[:, :, ::-1], verbose=0))
    np.testing.assert_allclose(p, (core.predict(x, verbose=0) + core.predict(x[:, :, ::-1], verbose=0)) / 2, rtol=1e-5, atol=1e-6)
    path = tmp_path / "face.keras"
    model.save(path)
    code = f"import keras; m = keras.saving.load_model({str(path)!r}); print(m.output_shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "(None, 7)" in out.stdout, out.stderr[-2000:]
