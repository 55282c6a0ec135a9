"""Ingest of the real corpora in ../shared/data (skipped when it is absent)."""

import json

import pandas as pd
import pytest

from emorec.corpora.fer2013 import ingest_fer2013
from emorec.corpora.ravdess import ingest_ravdess

pytestmark = pytest.mark.realdata

STEREO = {
    "03-01-02-01-01-02-01",
    "03-01-08-01-02-02-01",
    "03-01-02-01-02-02-05",
    "03-01-03-01-02-01-20",
    "03-01-06-01-01-02-20",
}


@pytest.fixture(scope="module")
def ravdess(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ravdess")
    ingest_ravdess(
        archive=shared_data / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip",
        manifest_path=tmp / "m.parquet",
        rejects_path=tmp / "r.parquet",
        summary_path=tmp / "s.json",
        val_actors=[19, 20],
        test_actors=[21, 22, 23, 24],
        max_reject_fraction=0,
        max_compression_ratio=100,
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
        manifest_path=tmp_path / "m.parquet",
        rejects_path=tmp_path / "r.parquet",
        summary_path=tmp_path / "s.json",
        max_reject_fraction=0,
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["samples"] == 5031
    assert summary["splits"] == {"test": 500, "train": 4031, "val": 500}


@pytest.fixture(scope="module")
def ravdess_features(shared_data, ravdess, tmp_path_factory):
    """Features of 5 real actors (01, 06, 11, 16, 21: three male, two female), one shard of five."""
    import pyarrow.parquet as pq

    from emorec.features.audio import AudioFeatureParams, extract_audio_shard

    manifest, _ = ravdess
    tmp = tmp_path_factory.mktemp("features")
    manifest.to_parquet(tmp / "m.parquet")
    params = AudioFeatureParams(shards=5)
    extract_audio_shard(
        manifest_path=tmp / "m.parquet",
        archive=shared_data / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip",
        output_path=tmp / "f.parquet",
        shard=0,
        params=params,
    )
    return (
        pq.read_table(tmp / "f.parquet")
        .to_pandas()
        .merge(manifest[["sample_id", "sex", "actor"]], on="sample_id")
    )


def test_real_speech_features_measure_the_voices(ravdess_features):
    features = ravdess_features
    assert len(features) == 300 and sorted(features["actor"].unique()) == [1, 6, 11, 16, 21]
    descriptors = features.drop(
        columns=["corpus", "sample_id", "label", "original_label", "split", "speaker", "sex", "logmel"]
    )
    assert descriptors.notna().all().all()
    assert (features["voiced_fraction"] > 0.15).mean() > 0.95  # speech is mostly voiced where it is loud
    f0 = features.groupby("sex")["f0_mean"].median()
    assert 85 < f0["male"] < 180 and 160 < f0["female"] < 300 and f0["female"] > 1.4 * f0["male"]
    loud = features.groupby("label")["rms_mean"].median()
    assert loud["angry"] > 1.5 * loud["neutral"]


def test_features_of_the_official_48k_files_match_the_16k_release(shared_data, ravdess_features, tmp_path):
    """Actor 01 decoded from the 48 kHz originals (resampled by soxr) and from the 16 kHz release."""
    import zipfile

    from emorec.audio_io import decode_mono
    from emorec.features.audio import AudioFeatureExtractor, AudioFeatureParams
    from emorec.tables import audio_descriptor_names

    with zipfile.ZipFile(shared_data / "ravdess" / "Audio_Speech_Actors_01-02.zip") as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("Actor_01/") and n.endswith(".wav"))
        clips = [decode_mono(archive.read(n), sample_rate=16000) for n in names]
    descriptors, _ = AudioFeatureExtractor(AudioFeatureParams()).batch(clips)
    ours = pd.DataFrame(
        descriptors, columns=audio_descriptor_names(n_mfcc=20), index=[n.split("/")[1][:-4] for n in names]
    )
    release = ravdess_features.set_index("sample_id").loc[ours.index]
    assert len(ours) == 60
    # Pitch and loudness survive either resampler; spectral shape over silent frames does not
    # (centroid_mean differs by ~12%: the release's low-pass and noise floor are not soxr's).
    for column in ("f0_mean", "f0_std", "rms_mean", "rms_max", "voiced_fraction"):
        relative = (ours[column] - release[column]).abs() / release[column].abs()
        assert relative.median() < 0.02, column


def test_fast_wav_decoding_matches_libsndfile_on_every_real_layout(shared_data):
    """Mono and stereo RAVDESS at 16 and 48 kHz, SAVEE at 44.1 kHz, TESS at 24,414 Hz."""
    import io
    import zipfile

    import numpy as np
    import soundfile as sf

    from emorec.audio_io import decode_mono, probe_wav

    archives = [
        "ravdess/Audio_Speech_Actors_01-02.zip",
        "ravdess/Audio_Speech_Actors_01-24_16k.zip",
        "savee/savee_sample.zip",
        "tess/tess_sample.zip",
    ]
    checked, stereo = 0, 0
    for name in archives:
        with zipfile.ZipFile(shared_data / name) as archive:
            members = [m for m in archive.namelist() if m.endswith(".wav")][: 60 if "16k" in name else None]
            for member in members:
                data = archive.read(member)
                theirs, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
                info = probe_wav(data)
                assert (info.samplerate, info.channels, info.frames) == (
                    rate,
                    theirs.shape[1],
                    theirs.shape[0],
                )
                np.testing.assert_array_equal(decode_mono(data, sample_rate=rate), theirs.mean(axis=1))
                checked, stereo = checked + 1, stereo + (info.channels == 2)
    assert checked == 120 + 60 + 28 + 28 and stereo == 2 + 2  # actor 01 in both releases
