"""Keras training pieces: class weights, the mirrored and shifted test-time averaging."""

import os

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


def test_face_cnn_takes_one_conv_count_per_block():
    from keras import layers

    keras_nets.configure_tensorflow(threads=1, seed=0)
    build = lambda counts: keras_nets.build_face_cnn(
        input_shape=(48, 48, 1),
        n_classes=7,
        filters=[4, 8, 16],
        dense_units=8,
        dropout=0.1,
        convs_per_block=counts,
    )
    convs = lambda model: [layer.filters for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert convs(build([1, 2, 3])) == [4, 8, 8, 16, 16, 16]
    assert convs(build(2)) == [4, 4, 8, 8, 16, 16]
    with pytest.raises(ValueError, match="2 counts for 3 blocks"):
        build([1, 2])


def test_flip_averaged_face_model_is_mirror_symmetric_and_loads_without_this_package(tmp_path):
    import subprocess
    import sys

    keras_nets.configure_tensorflow(threads=1, seed=0)
    core = keras_nets.build_face_cnn(
        input_shape=(48, 48, 1),
        n_classes=7,
        filters=[4, 8],
        dense_units=8,
        dropout=0.1,
        convs_per_block=2,
        augment={"flip": True, "shift": 0.1, "rotation_deg": 10, "zoom": 0.1},
    )
    model = keras_nets.with_test_time_averaging(core, flip=True)
    x = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 1)).astype(np.uint8)
    p = model.predict(x, verbose=0)
    np.testing.assert_array_equal(p, model.predict(x[:, :, ::-1], verbose=0))
    np.testing.assert_allclose(
        p, (core.predict(x, verbose=0) + core.predict(x[:, :, ::-1], verbose=0)) / 2, rtol=1e-5, atol=1e-6
    )
    path = tmp_path / "face.keras"
    model.save(path)
    code = f"import keras; m = keras.saving.load_model({str(path)!r}); print(m.output_shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "(None, 7)" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("rows", [-3, 0, 2])
@pytest.mark.parametrize("cols", [-2, 0, 4])
def test_shift_moves_pixels_and_fills_with_the_edge(rows, cols):
    import keras

    x = np.random.default_rng(1).integers(0, 256, (3, 12, 10, 1)).astype(np.uint8)
    inputs = keras.Input(shape=x.shape[1:])
    moved = keras.Model(inputs, keras_nets.shift(inputs, rows=rows, cols=cols)).predict(x, verbose=0)
    pad = max(abs(rows), abs(cols))
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge").astype(np.float32)
    expected = padded[:, pad - rows : pad - rows + 12, pad - cols : pad - cols + 10]
    np.testing.assert_array_equal(moved, expected)


@pytest.mark.parametrize(
    ("shift_px", "diagonal", "moves"),
    [
        (2, False, [(0, 0), (-2, 0), (2, 0), (0, -2), (0, 2)]),  # the ten crops
        (
            [1, 2],
            True,
            [(0, 0)]
            + [
                (d * r, d * c)
                for d in (1, 2)
                for r, c in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]
            ],
        ),
    ],
)
def test_shift_averaging_is_the_mean_over_the_views(shift_px, diagonal, moves):
    keras_nets.configure_tensorflow(threads=1, seed=0)
    core = keras_nets.build_face_cnn(
        input_shape=(16, 16, 1), n_classes=3, filters=[4], dense_units=4, dropout=0.0
    )
    assert keras_nets.view_moves(shift_px, diagonal=diagonal) == moves
    model = keras_nets.with_test_time_averaging(core, flip=True, shift_px=shift_px, diagonal=diagonal)
    x = np.random.default_rng(2).integers(0, 256, (5, 16, 16, 1)).astype(np.uint8)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    views = [padded[:, 2 - r : 18 - r, 2 - c : 18 - c] for r, c in moves]
    views += [v[:, :, ::-1] for v in views]
    expected = np.mean([core.predict(v, verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert keras_nets.with_test_time_averaging(core, flip=False, shift_px=0) is core


def test_cropped_face_net_ignores_the_border_at_inference():
    keras_nets.configure_tensorflow(threads=1, seed=0)
    model = keras_nets.build_face_cnn(
        input_shape=(16, 16, 1),
        n_classes=3,
        filters=[4],
        dense_units=4,
        dropout=0.0,
        augment={"shift": 0.1},
        crop_px=3,
    )
    x = np.random.default_rng(3).integers(0, 256, (4, 16, 16, 1)).astype(np.uint8)
    p = model.predict(x, verbose=0)
    border = x.copy()
    border[:, :3], border[:, -3:], border[:, :, :3], border[:, :, -3:] = 0, 255, 7, 99
    np.testing.assert_array_equal(model.predict(border, verbose=0), p)
    inner = x.copy()
    inner[:, 3:13, 3:13] = 255 - inner[:, 3:13, 3:13]
    assert np.abs(model.predict(inner, verbose=0) - p).max() > 1e-4


def test_recropped_face_net_keeps_its_weights_and_sees_the_border():
    keras_nets.configure_tensorflow(threads=1, seed=0)
    x = np.random.default_rng(5).integers(0, 256, (4, 16, 16, 1)).astype(np.uint8)
    hp = {"filters": [4], "dense_units": 4, "dropout": 0.0, "augment": {"shift": 0.1}, "crop_px": 3}
    model = keras_nets.build_net("cnn", train_x=x, n_classes=3, hp=hp)
    same, whole = (keras_nets.recropped(model, crop_px=c, hp=hp) for c in (3, 0))
    for twin in (same, whole):
        assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights(), strict=True))
    np.testing.assert_array_equal(same.predict(x, verbose=0), model.predict(x, verbose=0))
    border = x.copy()
    border[:, :3] = 255 - border[:, :3]
    np.testing.assert_array_equal(model.predict(border, verbose=0), model.predict(x, verbose=0))
    assert np.abs(whole.predict(border, verbose=0) - whole.predict(x, verbose=0)).max() > 1e-4


def test_ensemble_is_the_mean_of_its_networks_and_saves_as_one_model(tmp_path):
    import keras

    keras_nets.configure_tensorflow(threads=1, seed=0)
    nets = [
        keras_nets.build_face_cnn(
            input_shape=(16, 16, 1), n_classes=3, filters=[4], dense_units=4, dropout=0.0, seed=s
        )
        for s in (0, 1)
    ]
    model = keras_nets.with_test_time_averaging(keras_nets.average(nets), flip=True, shift_px=2)
    assert keras_nets.average(nets[:1]) is nets[0]
    x = np.random.default_rng(4).integers(0, 256, (5, 16, 16, 1)).astype(np.uint8)
    views = [
        keras_nets.with_test_time_averaging(n, flip=True, shift_px=2).predict(x, verbose=0) for n in nets
    ]
    assert np.abs(views[0] - views[1]).max() > 1e-3  # two different networks
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(p, (views[0] + views[1]) / 2, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "ensemble.keras")
    np.testing.assert_array_equal(
        keras.saving.load_model(tmp_path / "ensemble.keras").predict(x, verbose=0), p
    )


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_either_optimizer_learns_a_separable_face_task(name):
    """Two classes told apart by brightness: a few epochs of either optimizer, with decoupled
    weight decay and the cosine schedule, take the training loss well below chance (ln 2)."""
    keras_nets.configure_tensorflow(threads=1, seed=0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    x = (rng.integers(0, 100, (256, 12, 12, 1)) + 120 * y[:, None, None, None]).astype(np.uint8)
    model = keras_nets.build_face_cnn(
        input_shape=(12, 12, 1), n_classes=2, filters=[4], dense_units=8, dropout=0.0
    )
    hp = {
        "optimizer": name,
        "learning_rate": 0.01 if name == "adamw" else 0.05,
        "weight_decay": 1e-3,
        "schedule": "cosine",
        "batch_size": 32,
        "max_epochs": 6,
        "patience": 6,
    }
    history = keras_nets.fit(model, train=(x, y), val=(x[:64], y[:64]), hp=hp)
    assert history["loss"][-1] < 0.4 < np.log(2)
    opt = model.optimizer
    assert type(opt).__name__ == {"adamw": "AdamW", "sgd": "SGD"}[name]
    assert opt.weight_decay == pytest.approx(1e-3)
    if name == "sgd":
        assert opt.nesterov and opt.momentum == pytest.approx(0.9)


def _resume_case(seed: int = 0):
    """A small augmented face CNN with dropout, its data and hp, built from ``seed``."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 96)
    x = (rng.integers(0, 100, (96, 16, 16, 1)) + 60 * y[:, None, None, None]).astype(np.uint8)
    model = keras_nets.build_face_cnn(
        input_shape=(16, 16, 1),
        n_classes=3,
        filters=[4, 8],
        dense_units=8,
        dropout=0.3,
        crop_px=2,
        augment={"flip": True, "shift": 0.1, "rotation_deg": 10, "zoom": 0.1},
        seed=seed,
    )
    hp = {
        "learning_rate": 0.01,
        "weight_decay": 1e-3,
        "schedule": "cosine",
        "label_smoothing": 0.1,
        "class_weight": "sqrt",
        "batch_size": 16,
        "max_epochs": 4,
        "patience": 4,
    }
    return model, (x, y), (x[:32], y[:32]), hp


def test_a_killed_training_resumes_from_its_checkpoint_to_the_same_weights(tmp_path, monkeypatch):
    """Killed after epoch 2 of 4 and rerun with the same checkpoint, training ends with the bits
    of an uninterrupted run: weights, optimizer moments and schedule, augmentation and dropout
    random states and the early-stopping state all come back, and each epoch's order is its own."""
    keras_nets.configure_tensorflow(threads=1, seed=0)
    model, train, val, hp = _resume_case()
    whole = keras_nets.fit(model, train=train, val=val, hp=hp)
    expected = [w.copy() for w in model.get_weights()]

    save, path = keras_nets._save_checkpoint, tmp_path / "resume" / "member_0.npz"

    def killed_after_two(model, at, state):
        save(model, at, state)
        if len(state["val_loss"]) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(keras_nets, "_save_checkpoint", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        keras_nets.fit(_resume_case()[0], train=train, val=val, hp=hp, checkpoint=path)
    monkeypatch.setattr(keras_nets, "_save_checkpoint", save)
    model, *_ = _resume_case(seed=0)
    resumed = keras_nets.fit(model, train=train, val=val, hp=hp, checkpoint=path)

    assert (
        resumed["epochs_run"] == 4
        and resumed["val_loss"] == whole["val_loss"]
        and resumed["loss"] == whole["loss"]
    )
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), expected, strict=True))
    assert whole["val_loss"][0] != whole["val_loss"][1]  # it trained: the check is not of four idle epochs


def test_a_checkpoint_of_other_data_or_parameters_is_ignored(tmp_path, caplog):
    """A checkpoint left by a run with other hp (or data) must not leak into a new run."""
    import logging

    keras_nets.configure_tensorflow(threads=1, seed=0)
    model, train, val, hp = _resume_case()
    path = tmp_path / "member_0.npz"
    keras_nets.fit(model, train=train, val=val, hp={**hp, "max_epochs": 1}, checkpoint=path)
    model, *_ = _resume_case()
    history = keras_nets.fit(
        model,
        train=train,
        val=val,
        hp={**hp, "max_epochs": 2},
        checkpoint=path,
        log=logging.getLogger("test"),
    )
    assert history["epochs_run"] == 2
    assert "ignoring" in caplog.text and "resuming" not in caplog.text


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="unknown optimizer 'adam'"):
        keras_nets.optimizer("adam", learning_rate=0.1, weight_decay=0.0)


def test_batch_normalisation_and_softmax_round_exactly_as_ieee_division_and_square_root():
    """The CPU's approximate RSQRTPS / RCPPS must not decide a bit: batch normalisation scales by
    the correctly rounded 1 / sqrt(variance + epsilon), softmax divides by the exact sum
    (TensorFlow's own kernels miss both on a large share of values, and differ by CPU)."""
    import keras
    import tensorflow as tf

    keras_nets.exact_rounding()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4, 4, 256)).astype(np.float32)
    variance = rng.uniform(0.01, 10.0, 256).astype(np.float32)
    norm = keras.layers.BatchNormalization(epsilon=1e-3)
    norm.build(x.shape)
    norm.moving_variance.assign(variance)  # mean 0, scale 1, offset 0: the output is x * inv
    inv = np.float32(1.0) / np.sqrt(variance + np.float32(1e-3))
    np.testing.assert_array_equal(norm(x, training=False).numpy(), x * inv)

    logits = rng.standard_normal((4096, 2)).astype(np.float32) * 4
    exp = tf.exp(logits - logits.max(axis=1, keepdims=True)).numpy()
    probabilities = keras.layers.Activation("softmax")(logits).numpy()
    np.testing.assert_array_equal(probabilities, exp / (exp[:, :1] + exp[:, 1:]))


CONFIGURED = """
import sys
sys.path.insert(0, {workflow!r})
from emorec.models import eigen_caches, keras_nets
import tensorflow as tf
keras_nets.configure_tensorflow(threads=2, seed=0)
options = tf.config.optimizer.get_experimental_options()
print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads(),
      options.get("arithmetic_optimization", True), options.get("constant_folding", True), eigen_caches.current() == eigen_caches.PORTABLE_SIZES)
"""


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("portable", "2 2 False False True"), ("fast", "2 2 True True False"), (None, "2 2 False False True")],
)
def test_portable_mode_pins_eigens_cache_sizes_and_drops_the_rewrites_that_bring_the_cpu_in(mode, expected):
    """Portable: Eigen plans its products with fixed cache sizes, not the CPU's; no Grappler
    rewrites into rsqrt / reciprocal; ``threads`` inside and across ops in both modes. Unset
    means portable."""
    import subprocess
    import sys
    from pathlib import Path

    from emorec.runner import DETERMINISM_ENV

    env = (
        {k: v for k, v in os.environ.items() if k != DETERMINISM_ENV}
        | ({DETERMINISM_ENV: mode} if mode else {})
        | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    code = CONFIGURED.format(workflow=str(Path(keras_nets.__file__).parents[2]))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[-2] == expected


def test_pinned_cache_sizes_reach_eigens_products(tmp_path):
    """The pinned sizes are the ones Eigen then plans with: a matrix product after the pin
    leaves them in place (Eigen would overwrite them with the CPU's on first use otherwise),
    and the ELF reader finds nothing in a file that is not a library."""
    import subprocess
    import sys
    from pathlib import Path

    from emorec.models import eigen_caches

    code = (
        f"import sys; sys.path.insert(0, {str(Path(keras_nets.__file__).parents[2])!r})\n"
        "from emorec.models import eigen_caches\nimport tensorflow as tf\n"
        "print(eigen_caches.pin((16384, 262144, 4194304)))\n"
        "tf.linalg.matmul(tf.ones((300, 300)), tf.ones((300, 300))).numpy()\nprint(eigen_caches.current())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split("\n")[-3:-1] == ["True", "(16384, 262144, 4194304)"]
    (tmp_path / "not.so").write_bytes(b"plain text, not ELF")
    assert eigen_caches.symbols(tmp_path / "not.so", [eigen_caches.SIZES_SYMBOL]) == {}
