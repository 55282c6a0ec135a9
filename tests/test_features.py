import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_zip, wav_bytes

from emorec.corpora.ravdess import ingest_ravdess
from emorec.features.audio import (
    DB_FLOOR,
    AudioFeatureExtractor,
    AudioFeatureParams,
    extract_audio_shard,
    fixed_frames,
    shard_speakers,
)
from emorec.features.faces import equalize, face_features
from emorec.tables import (
    FACE_FEATURES,
    FACE_MANIFEST,
    FACE_PIXELS,
    audio_descriptor_names,
    audio_features_schema,
    merge_tables,
    pixels_array,
    pixels_numpy,
    write_table,
)


@pytest.mark.parametrize("n_mfcc", [5, 20])
@pytest.mark.parametrize(("n_mels", "frames"), [(32, 40), (64, 128)])
@pytest.mark.parametrize("seconds", [0.02, 0.7, 4.0])
def test_clip_feature_shapes(n_mfcc, n_mels, frames, seconds):
    params = AudioFeatureParams(n_mfcc=n_mfcc, n_mels=n_mels, frames=frames)
    t = np.arange(int(seconds * 16000)) / 16000
    y = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    descriptors, logmel = AudioFeatureExtractor(params)(y)
    assert descriptors.shape == (len(audio_descriptor_names(n_mfcc=n_mfcc)),)
    assert logmel.shape == (n_mels, frames) and logmel.dtype == np.float32
    assert np.isfinite(descriptors).all() and np.isfinite(logmel).all()
    assert logmel.min() >= DB_FLOOR


def test_pitch_and_loudness_descriptors_measure_the_signal():
    params = AudioFeatureParams()
    names = audio_descriptor_names(n_mfcc=params.n_mfcc)
    t = np.arange(32000) / 16000
    extract = AudioFeatureExtractor(params)
    quiet = dict(zip(names, extract((0.05 * np.sin(2 * np.pi * 150 * t)).astype(np.float32))[0]))
    loud = dict(zip(names, extract((0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))[0]))
    assert quiet["f0_mean"] == pytest.approx(150, rel=0.03)
    assert loud["f0_mean"] == pytest.approx(300, rel=0.03)
    assert loud["rms_mean"] > 5 * quiet["rms_mean"]
    assert loud["centroid_mean"] > quiet["centroid_mean"]
    assert quiet["voiced_fraction"] > 0.9


def test_fixed_frames_centres_on_speech_and_pads():
    logmel = np.full((2, 100), -50.0, dtype=np.float32)
    logmel[:, 60:70] = 0.0
    active = logmel[0] > -10
    out = fixed_frames(logmel, active, frames=20)
    assert (out[:, 5:15] == 0).all() and (out[:, :5] == -50).all()
    padded = fixed_frames(logmel[:, :10], np.zeros(10, bool), frames=16)
    assert padded.shape == (2, 16) and (padded[:, :3] == DB_FLOOR).all() and (padded[:, 3:13] == -50).all()


@pytest.mark.parametrize("shards", [1, 3, 7, 20])
def test_shards_partition_speakers(shards):
    speakers = [f"Actor_{i:02d}" for i in range(1, 13)] * 5
    parts = [shard_speakers(speakers, shard=s, shards=shards) for s in range(shards)]
    flat = [s for part in parts for s in part]
    assert sorted(flat) == sorted(set(speakers))
    assert len(flat) == len(set(flat))


def test_audio_shards_merge_to_the_schema(tmp_path):
    members = {
        f"Actor_{a:02d}/03-01-{e:02d}-01-01-01-{a:02d}.wav": wav_bytes(seed=a + e, sample_rate=22050)
        for a in (1, 2, 3)
        for e in (1, 4)
    }
    archive = make_zip(tmp_path / "r.zip", members)
    manifest = tmp_path / "m.parquet"
    ingest_ravdess(
        archive=archive,
        manifest_path=manifest,
        rejects_path=tmp_path / "r.parquet",
        summary_path=tmp_path / "s.json",
        val_actors=[2],
        test_actors=[3],
        max_reject_fraction=0,
        max_compression_ratio=100,
    )
    params = AudioFeatureParams(shards=2, n_mfcc=8, n_mels=16, frames=24)
    shards = [tmp_path / f"{i}.parquet" for i in range(2)]
    counts = [
        extract_audio_shard(manifest_path=manifest, archive=archive, output_path=p, shard=i, params=params)
        for i, p in enumerate(shards)
    ]
    assert counts == [4, 2]
    assert merge_tables(shards, tmp_path / "audio.parquet", params.schema) == 6
    table = pq.read_table(tmp_path / "audio.parquet")
    assert table.schema.equals(audio_features_schema(n_mfcc=8, n_mels=16, frames=24), check_metadata=False)
    assert table.schema.metadata[b"logmel_shape"] == b"16,24"
    assert table.column("sample_id").to_pylist() == sorted(p.split("/")[1][:-4] for p in members)
    assert table.column("split").to_pylist().count("test") == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equalize_properties(seed):
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(100, 10, (6, FACE_PIXELS)), 0, 255).astype(np.uint8)
    images[0] = 77  # constant image stays constant
    out = equalize(images)
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert (out[0] == 77).all()
    for before, after in zip(images[1:], out[1:]):
        assert after.min() == 0 and after.max() == 255
        order = np.argsort(before, kind="stable")
        assert (np.diff(after[order].astype(int)) >= 0).all()  # monotone mapping


def test_face_features_table(tmp_path):
    n = 5
    images = np.random.default_rng(0).integers(0, 256, (n, FACE_PIXELS), dtype=np.uint8)
    manifest = pa.table(
        {
            "corpus": ["fer2013"] * n,
            "sample_id": [f"fer2013-{i:05d}" for i in range(1, n + 1)],
            "label": ["happy"] * n,
            "label_id": pa.array([2] * n, pa.int8()),
            "original_label": ["happy"] * n,
            "split": ["train"] * n,
            "row": pa.array(range(1, n + 1), pa.int32()),
            "pixels": pixels_array(images),
        }
    )
    write_table(manifest, tmp_path / "m.parquet", FACE_MANIFEST)
    for flag in (False, True):
        face_features(
            manifest_paths=[tmp_path / "m.parquet"],
            output_path=tmp_path / "f.parquet",
            equalize_histogram=flag,
        )
        table = pq.read_table(tmp_path / "f.parquet")
        assert table.schema.equals(FACE_FEATURES)
        pixels = pixels_numpy(table.column("pixels"))
        np.testing.assert_array_equal(pixels, equalize(images) if flag else images)
