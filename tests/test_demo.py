"""The demo corpora: deterministic, and learnable but not trivially so (at default scale)."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emorec.corpora.fer2013 import ingest_fer2013
from emorec.corpora.ravdess import ingest_ravdess
from emorec.demo.fer2013 import make_demo_fer2013, render_face
from emorec.demo.ravdess import make_demo_ravdess
from emorec.features.audio import AudioFeatureParams, extract_audio_shard
from emorec.features.faces import face_features
from emorec.tables import audio_descriptor_names, pixels_numpy

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def test_demo_archives_are_byte_identical_for_a_seed(tmp_path):
    for name in ("a", "b"):
        make_demo_ravdess(path=tmp_path / f"{name}.zip", actors=2, sample_rate=16000, noise_snr_db=18, seed=5)
        make_demo_fer2013(path=tmp_path / f"{name}.csv", rows=40, seed=5)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    make_demo_fer2013(path=tmp_path / "c.csv", rows=40, seed=6)
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


@pytest.mark.parametrize("code", range(7))
def test_faces_vary_but_stay_faces(code):
    faces = np.stack([render_face(code, np.random.default_rng([code, i])) for i in range(4)])
    assert faces.shape == (4, 48, 48) and faces.dtype == np.uint8
    assert len({f.tobytes() for f in faces}) == 4
    assert all(f.std() > 10 for f in faces)


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory):
    """The default-size demo corpora (params.yaml), ingested and featurised in-process."""
    tmp = tmp_path_factory.mktemp("demo")
    demo, corpora = PARAMS["demo"], PARAMS["corpora"]
    make_demo_ravdess(path=tmp / "r.zip", seed=demo["seed"], **demo["ravdess"])
    make_demo_fer2013(path=tmp / "f.csv", seed=demo["seed"], **demo["fer2013"])
    ingest_ravdess(
        archive=tmp / "r.zip",
        manifest_path=tmp / "rm.parquet",
        rejects_path=tmp / "rr.parquet",
        summary_path=tmp / "rs.json",
        val_actors=corpora["ravdess"]["val_actors"],
        test_actors=corpora["ravdess"]["test_actors"],
        max_reject_fraction=0,
        max_compression_ratio=100,
    )
    audio = {**PARAMS["features"]["audio"], "shards": 1}
    extract_audio_shard(
        manifest_path=tmp / "rm.parquet",
        archive=tmp / "r.zip",
        output_path=tmp / "audio.parquet",
        shard=0,
        params=AudioFeatureParams(**audio),
    )
    ingest_fer2013(
        archive=tmp / "f.csv",
        manifest_path=tmp / "fm.parquet",
        rejects_path=tmp / "fr.parquet",
        summary_path=tmp / "fs.json",
        max_reject_fraction=0,
    )
    face_features(
        manifest_paths=[tmp / "fm.parquet"], output_path=tmp / "faces.parquet", equalize_histogram=True
    )
    return pq.read_table(tmp / "audio.parquet").to_pandas(), pq.read_table(tmp / "faces.parquet")


def test_demo_audio_is_learnable_but_not_trivial(demo_tables):
    audio, _ = demo_tables
    names = audio_descriptor_names(n_mfcc=PARAMS["features"]["audio"]["n_mfcc"])
    train, test = audio[audio.split != "test"], audio[audio.split == "test"]
    assert set(test.speaker).isdisjoint(train.speaker)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(
        train[names], train.label_id
    )
    accuracy = (model.predict(test[names]) == test.label_id).mean()
    print(f"demo audio: logistic regression held-out-actor accuracy {accuracy:.3f}")
    assert 0.6 <= accuracy < 0.98


def test_demo_faces_are_learnable_but_not_trivial(demo_tables):
    _, faces = demo_tables
    pixels = pixels_numpy(faces.column("pixels")) / 255.0
    labels = faces.column("label_id").to_numpy()
    split = np.array(faces.column("split").to_pylist())
    model = LogisticRegression(C=0.05, max_iter=500).fit(pixels[split != "test"], labels[split != "test"])
    accuracy = (model.predict(pixels[split == "test"]) == labels[split == "test"]).mean()
    print(f"demo faces: logistic regression PrivateTest accuracy {accuracy:.3f}")
    assert 0.6 <= accuracy < 0.98
