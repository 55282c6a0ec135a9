"""Ingest of the real corpora in ../shared/data (skipped when it is absent)."""

import json

import pandas as pd
import pytest

from emorec.corpora.fer2013 import ingest_fer2013
from emorec.corpora.ravdess import ingest_ravdess

pytestmark = pytest.mark.realdata

STEREO = {"03-01-02-01-01-02-01", "03-01-08-01-02-02-01", "03-01-02-01-02-02-05", "03-01-03-01-02-01-20", "03-01-06-01-01-02-20"}


@pytest.fixture(scope="module")
def ravdess(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ravdess")
    ingest_ravdess(
        archive=shared_data / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip",
        manifest_path=tmp / "m.parquet", rejects_path=tmp / "r.parquet", summary_path=tmp / "s.json",
        val_actors=[19, 20], test_actors=[21, 22, 23, 24], max_reject_fraction=0, max_compression_ratio=100,
    )
    return pd.read_parquet(tmp / "m.parquet"), json.loads((tmp / "s.json").read_text())


def test_ravdess_speech_release_counts(ravdess):
    manifest, summary = ravdess
    assert len(manifest) == 1440 and summary["rejects"] == 0
    assert (manifest.groupby("actor").size() == 60).all() and manifest["actor"].nunique() == 24
    counts = manifest["label"].value_counts()
    assert counts["neutral"] == 96 and (counts.drop("neutral") == 192).all()
    assert set(manifest.loc[manifest.channels == 2, "sample_id"]) == STEREO
    assert (manifest.loc[manifest.actor % 2 == 1, "sex"] == "male").all()
    assert summary["splits"] == {"test": 240, "train": 1080, "val": 120}


def test_ravdess_byte_identical_pair_is_visible(ravdess):
    manifest, _ = ravdess
    dupes = manifest[manifest.duplicated("content_hash", keep=False)]
    assert set(dupes["sample_id"]) == {"03-01-03-01-02-01-07", "03-01-03-01-02-02-07"}


def test_fer_csv_sample(shared_data, tmp_path):
    ingest_fer2013(
        archive=shared_data / "fer2013" / "fer2013_sample.csv.gz",
        manifest_path=tmp_path / "m.parquet", rejects_path=tmp_path / "r.parquet", summary_path=tmp_path / "s.json", max_reject_fraction=0,
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["samples"] == 5031
    assert summary["splits"] == {"test": 500, "train": 4031, "val": 500}
