"""The video path: containers, hostile inputs, face crops, clip pooling, and the real RAVDESS
audio-visual clips of actor 05 (face found, boxes plausible, the audio track is the take)."""

import io
import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import make_zip
from scipy.signal import correlate

from emorec.audio_io import decode_mono
from emorec.corpora.ravdess_video import ingest_ravdess_video, video_row
from emorec.demo.fer2013 import render_face
from emorec.demo.ravdess_video import FACE_PX, HEIGHT, WIDTH, encode_clip
from emorec.features.video_faces import FaceDetector, VideoFaceParams, extract_video_faces
from emorec.fusion import pool_frames
from emorec.tables import VIDEO_FACES, VIDEO_MANIFEST
from emorec.video_io import decode_audio_track, probe_video

RATE = 16000


def face_frames(n: int, *, face: bool = True) -> list[np.ndarray]:
    import cv2

    crop = cv2.resize(
        render_face(6, np.random.default_rng(3)), (FACE_PX, FACE_PX), interpolation=cv2.INTER_CUBIC
    )
    frames = []
    for i in range(n):
        frame = np.full((HEIGHT, WIDTH), 100, np.uint8)
        if face:
            frame[40 : 40 + FACE_PX, 60 + i : 60 + i + FACE_PX] = crop
        frames.append(frame)
    return frames


def tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)


def audio_only_mp4() -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone()[None, :], format="fltp", layout="mono")
        frame.sample_rate = RATE
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clip() -> bytes:
    return encode_clip(face_frames(15), tone(), sample_rate=RATE)


def test_probe_reads_the_container(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.frames, info.has_audio) == (WIDTH, HEIGHT, 15, True)
    assert info.fps == pytest.approx(15) and info.duration_s == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Kids are talking by the door\n" * 40, "not a readable video container"),
        ("audio_only", "no video stream"),
        ("truncated", "truncated"),
    ],
)
def test_hostile_containers_are_named(clip, data, reason):
    data = {"audio_only": audio_only_mp4(), "truncated": clip[: len(clip) * 2 // 3]}.get(data, data)
    with pytest.raises(RuntimeError, match=reason):
        probe_video(data)


def test_audio_track_decodes_to_the_encoded_signal(clip):
    y = decode_audio_track(clip, sample_rate=RATE)
    ref = tone()
    lag = int(np.argmax(correlate(y, ref, mode="full", method="fft"))) - (len(ref) - 1)
    aligned = y[max(lag, 0) :][: len(ref)]
    assert np.corrcoef(aligned, ref[: len(aligned)])[0, 1] > 0.95


def test_video_names_decode_like_speech_and_reject_audio_only_codes():
    assert video_row("Actor_05/01-01-06-02-01-01-05.mp4")["av"] == "full_av"
    assert video_row("Actor_05/02-01-06-02-01-01-05.mp4")["av"] == "video_only"
    with pytest.raises(ValueError, match="audio-only"):
        video_row("Actor_05/03-01-06-02-01-01-05.mp4")


def test_ingest_and_faces_keep_good_clips_and_name_every_bad_one(clip, tmp_path):
    archive = make_zip(
        tmp_path / "Video_Speech_Actor_05.zip",
        {
            "Actor_05/01-01-03-01-01-01-05.mp4": clip,
            "Actor_05/02-01-03-01-01-01-05.mp4": encode_clip(
                face_frames(10, face=False), np.zeros(RATE, np.float32), sample_rate=RATE
            ),
            "Actor_05/01-01-04-01-01-01-05.mp4": clip[: len(clip) // 2],
            "Actor_05/01-01-05-01-01-01-05.mp4": audio_only_mp4(),
            "Actor_05/01-01-06-01-01-01-05.mp4": b"not a video at all",
            "Actor_05/notes.txt": b"hello",
        },
    )
    out = tmp_path / "out"
    summary = ingest_ravdess_video(
        archives=[archive],
        manifest_path=out / "m.parquet",
        rejects_path=out / "r.parquet",
        summary_path=out / "s.json",
        val_actors=[],
        test_actors=[5],
        max_reject_fraction=1.0,
        max_compression_ratio=100,
    )
    manifest = pq.read_table(out / "m.parquet")
    assert manifest.schema.equals(VIDEO_MANIFEST) and summary["samples"] == 2
    assert sorted(manifest.column("av").to_pylist()) == ["full_av", "video_only"]
    reasons = {r["item"].split(":")[-1]: r["reason"] for r in pq.read_table(out / "r.parquet").to_pylist()}
    assert (
        "truncated" in reasons["Actor_05/01-01-04-01-01-01-05.mp4"]
        or "corrupt" in reasons["Actor_05/01-01-04-01-01-01-05.mp4"]
    )
    assert "no video stream" in reasons["Actor_05/01-01-05-01-01-01-05.mp4"]
    assert "not a readable video container" in reasons["Actor_05/01-01-06-01-01-01-05.mp4"]
    assert "not a .mp4 file" in reasons["Actor_05/notes.txt"]

    faces = extract_video_faces(
        manifest_path=out / "m.parquet",
        output_path=out / "faces.parquet",
        summary_path=out / "fs.json",
        params=VideoFaceParams(every=2),
    )
    assert faces["clips_without_face"] == ["02-01-03-01-01-01-05"]
    assert faces["frames_sampled"] == 8 + 5 and 0 < faces["frames_with_face"] <= 8
    table = pq.read_table(out / "faces.parquet")
    assert table.schema.equals(VIDEO_FACES) and set(table.column("clip_id").to_pylist()) == {
        "01-01-03-01-01-01-05"
    }


def test_crop_is_the_face_with_its_margin():
    detector = FaceDetector(VideoFaceParams(margin=0.0))
    frame = np.zeros((100, 200), np.uint8)
    frame[20:60, 50:90] = 255
    assert detector.crop(frame, (50, 20, 40, 40)).min() == 255
    # a box past the frame's edge is padded by replicating the edge, never an error
    assert detector.crop(frame, (180, 80, 40, 40)).shape == (48, 48)


def test_pooling_means_frames_per_clip_and_leaves_faceless_clips_empty():
    proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    clip_of = np.array(["a", "a", "b"])
    pooled = pool_frames(proba, clip_of, ["a", "b", "c"], pooling="mean")
    np.testing.assert_allclose(pooled[:2], [[0.6, 0.4], [0.1, 0.9]])
    assert np.isnan(pooled[2]).all()
    geometric = pool_frames(proba, clip_of, ["a"], pooling="geometric")[0]
    expected = np.sqrt(proba[:2].prod(axis=0))
    np.testing.assert_allclose(geometric, expected / expected.sum())
    with pytest.raises(ValueError, match="pooling"):
        pool_frames(proba, clip_of, ["a"], pooling="max")


@pytest.fixture(scope="module")
def actor05(shared_data, tmp_path_factory):
    """The real actor-05 clips through ingest and face extraction (every 5th frame, as seed 002)."""
    out = tmp_path_factory.mktemp("actor05")
    archive = shared_data / "ravdess_video" / "Video_Speech_Actor_05_partial.zip"
    ingest_ravdess_video(
        archives=[archive],
        manifest_path=out / "m.parquet",
        rejects_path=out / "r.parquet",
        summary_path=out / "s.json",
        val_actors=[19, 20],
        test_actors=[21, 22, 23, 24],
        max_reject_fraction=0.0,
        max_compression_ratio=100,
    )
    summary = extract_video_faces(
        manifest_path=out / "m.parquet",
        output_path=out / "faces.parquet",
        summary_path=out / "fs.json",
        params=VideoFaceParams(every=5),
    )
    return archive, out, summary


@pytest.mark.realdata
def test_real_clips_ingest_with_their_modality(actor05):
    _, out, _ = actor05
    manifest = pq.read_table(out / "m.parquet").to_pandas()
    assert (
        len(manifest) == 16
        and (manifest["av"] == "full_av").sum() == 14
        and (manifest["av"] == "video_only").sum() == 2
    )
    assert (manifest["width"] == 1280).all() and (manifest["height"] == 720).all()
    assert manifest["fps"].between(29.9, 30.0).all() and manifest["duration_s"].between(2.5, 4.5).all()


@pytest.mark.realdata
def test_real_faces_are_found_centred_and_sane(actor05):
    _, out, summary = actor05
    assert summary["clips_without_face"] == []
    full_av = {c: n for c, n in summary["per_clip"].items() if c.startswith("01-")}
    assert sum(n["faces"] for n in full_av.values()) >= 0.95 * sum(n["sampled"] for n in full_av.values())
    boxes = pq.read_table(out / "faces.parquet").to_pandas()
    cx, cy = boxes["box_x"] + boxes["box_w"] / 2, boxes["box_y"] + boxes["box_h"] / 2
    assert cx.between(1280 * 0.3, 1280 * 0.7).all() and cy.between(720 * 0.2, 720 * 0.7).all()
    assert boxes["box_w"].between(720 * 0.2, 720 * 0.9).all()


@pytest.mark.realdata
def test_real_av_audio_is_the_audio_only_take(actor05, shared_data):
    archive, out, _ = actor05
    speech = zipfile.ZipFile(shared_data / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip")
    clips = pq.read_table(out / "m.parquet").to_pandas()
    with zipfile.ZipFile(archive) as videos:
        for row in clips[clips["av"] == "full_av"].head(3).itertuples():
            track = decode_audio_track(videos.read(row.member), sample_rate=RATE)
            take = decode_mono(speech.read(f"Actor_05/03{row.sample_id[2:]}.wav"), sample_rate=RATE)
            cc = correlate(track, take, mode="full", method="fft")
            lags = np.arange(-len(take) + 1, len(track))
            near = np.abs(lags) < RATE // 5  # the AAC encoder's delay is a few tens of ms
            lag = int(lags[near][np.argmax(cc[near])])
            aligned = track[lag:][: len(take)] if lag >= 0 else np.pad(track, (-lag, 0))[: len(take)]
            assert np.corrcoef(aligned, take[: len(aligned)])[0, 1] > 0.9, row.sample_id


@pytest.mark.realdata
def test_every_real_clip_gets_clip_probabilities(actor05):
    from emorec.datasets import model_input
    from emorec.models.keras_nets import build_face_cnn, configure_tensorflow

    _, out, summary = actor05
    configure_tensorflow(threads=1, seed=0)
    faces = pq.read_table(out / "faces.parquet")
    model = build_face_cnn(input_shape=(48, 48, 1), n_classes=7, filters=[4], dense_units=8, dropout=0.0)
    proba = model.predict(model_input(faces, "pixels"), verbose=0)
    clips = sorted(summary["per_clip"])
    pooled = pool_frames(proba, np.asarray(faces.column("clip_id").to_pylist()), clips, pooling="mean")
    assert not np.isnan(pooled).any() and np.allclose(pooled.sum(axis=1), 1, atol=1e-5)
    assert json.loads((out / "fs.json").read_text())["by_av"] == {"full_av": 14, "video_only": 2}
