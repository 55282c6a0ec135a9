"""Saved models are the same bytes whenever the same weights are saved: in another process
(other memory addresses), at another time. dvc.lock hashes them."""

import subprocess
import sys

import numpy as np
from conftest import ENV

from emorec.models.store import load_model

SAVE = """
import sys
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from emorec.models import keras_nets
from emorec.models.store import save_model

keras_nets.configure_tensorflow(threads=1, seed=0)
junk = [np.zeros(i) for i in range(int(sys.argv[2]))]  # moves every later object elsewhere
net = keras_nets.build_face_cnn(input_shape=(16, 16, 1), n_classes=3, filters=[4], dense_units=4, dropout=0.0, seed=0)
face = keras_nets.with_test_time_averaging(net, flip=True, shift_px=2)
save_model(face, sys.argv[1] + "/keras", framework="keras", card={"classes": ["a", "b", "c"], "input": "faces"})
x = np.random.default_rng(0).normal(size=(30, 4))
svm = make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)).fit(x, np.arange(30) % 3)
save_model(svm, sys.argv[1] + "/skops", framework="sklearn", card={"classes": ["a", "b", "c"], "input": "descriptors"})
"""


def test_two_processes_save_the_same_model_as_the_same_bytes(tmp_path):
    for run, junk in (("a", "3"), ("b", "3000")):
        done = subprocess.run(
            [sys.executable, "-c", SAVE, str(tmp_path / run), junk], env=ENV, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    for kind, name in (("keras", "model.keras"), ("skops", "model.skops")):
        assert (tmp_path / "a" / kind / name).read_bytes() == (tmp_path / "b" / kind / name).read_bytes(), (
            kind
        )
    face = load_model(tmp_path / "a" / "keras")  # still a model: it loads and predicts
    x = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 1)).astype(np.uint8)
    assert face.predict_proba(x).shape == (2, 3)
    assert load_model(tmp_path / "b" / "skops").predict_proba(np.zeros((1, 4))).shape == (1, 3)
