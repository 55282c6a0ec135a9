"""Serving: media sniffing, the predictor on raw files, `emorec predict`, REST through MLflow,
and the upload page in a real headless browser."""

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import soundfile as sf
from conftest import ARTEFACTS, ENV, REPO, emorec_serve, free_port, headless_chromium, wait_for, wav_bytes

from emorec.datasets import speaker_baseline, speaker_normalise
from emorec.serving.media import MediaError, read_audio, sniff
from emorec.serving.project import champion

EMOREC = [sys.executable, "-m", "emorec.cli"]


def png_bytes(side: int = 48) -> bytes:
    image = (np.arange(side * side, dtype=np.uint32).reshape(side, side) % 256).astype(np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


# -- media --------------------------------------------------------------------------------
def test_sniff_tells_media_from_their_bytes_not_their_names():
    assert sniff(wav_bytes()) == "audio"
    flac = io.BytesIO()
    sf.write(flac, np.zeros(8000), 8000, format="FLAC")
    assert sniff(flac.getvalue()) == "audio"
    assert sniff(png_bytes()) == "image"
    assert sniff(cv2.imencode(".jpg", np.zeros((64, 64), np.uint8))[1].tobytes()) == "image"


def encoded(container: str, *, video: str | None, audio: str | None, seconds: float = 1.0) -> bytes:
    """A clip built with PyAV: a moving gray square (``video`` codec) and a tone (``audio``)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as clip:
        picture = clip.add_stream(video, rate=15) if video else None
        sound = clip.add_stream(audio, rate=48000, layout="mono") if audio else None
        if picture is not None:
            picture.width, picture.height, picture.pix_fmt = 160, 120, "yuv420p"
            for i in range(int(15 * seconds)):
                frame = np.full((120, 160, 3), 40, np.uint8)
                frame[30:90, 10 + 4 * i : 70 + 4 * i] = 200
                clip.mux(picture.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            clip.mux(picture.encode())
        if sound is not None:
            tone = np.sin(2 * np.pi * 220 * np.arange(int(48000 * seconds)) / 48000).astype(np.float32)
            for start in range(0, tone.size, 960):
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, start : start + 960], format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
                clip.mux(sound.encode(chunk))
            clip.mux(sound.encode())
    return out.getvalue()


def test_any_container_ffmpeg_reads_is_taken_by_what_it_holds():
    """CREMA-D's own video format (FLV) and a browser recording (WebM with Opus) have no magic
    number in the table: FFmpeg probes them. Text and random bytes are still refused."""
    flv = encoded("flv", video="flv", audio="mp3")
    assert flv[:3] == b"FLV" and sniff(flv) == "video"
    webm = encoded("webm", video=None, audio="libopus", seconds=2.0)
    assert sniff(webm) == "audio"
    samples = read_audio(webm, sample_rate=16000)
    assert abs(samples.size - 32000) < 1600 and np.abs(samples).max() > 0.5
    with pytest.raises(MediaError, match="unrecognised binary data"):
        sniff(np.random.default_rng(0).bytes(65536))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"RIFF", "too short"),
        (b"this is a text file renamed to .wav\n" * 20, "the content is text"),
        (bytes(range(256)) * 4, "unrecognised binary data"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200, None),  # a WAV header with nothing usable
    ],
)
def test_unusable_files_get_one_clear_reason(data, reason):
    if reason is None:
        with pytest.raises(MediaError, match="unreadable audio"):
            read_audio(data, sample_rate=16000)
    else:
        with pytest.raises(MediaError, match=reason):
            sniff(data)


def test_audio_of_any_rate_and_channel_count_comes_out_mono_at_the_model_rate():
    stereo = read_audio(wav_bytes(seconds=0.5, sample_rate=44100, channels=2), sample_rate=16000)
    assert stereo.ndim == 1 and abs(stereo.size - 8000) <= 2
    flac = io.BytesIO()
    sf.write(flac, np.sin(np.linspace(0, 500, 48000)), 48000, format="FLAC")
    assert read_audio(flac.getvalue(), sample_rate=16000).size == 16000


# -- maths --------------------------------------------------------------------------------
def test_average_speaker_baseline_is_the_mean_of_each_speakers_statistics():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2, 1, (50, 3)), rng.normal(-4, 3, (30, 3))
    mean, std = speaker_baseline(np.vstack([a, b]), ["a"] * 50 + ["b"] * 30)
    np.testing.assert_allclose(mean, (a.mean(0) + b.mean(0)) / 2)
    np.testing.assert_allclose(std, (a.std(0) + b.std(0)) / 2)
    # for log-mel arrays, one statistic per mel band, broadcasting over samples
    x = rng.normal(size=(20, 4, 6, 1))
    mean, std = speaker_baseline(x, ["a"] * 20, axis=(0, 2))
    assert mean.shape == (4, 1, 1)
    np.testing.assert_allclose((x - mean) / std, speaker_normalise(x, ["a"] * 20, axis=(0, 2)))


def test_predictions_run_in_the_params_determinism_mode(monkeypatch, tmp_path):
    """`emorec predict` / `serve` pin the kernels as the pipeline's jobs do (the params' mode,
    before TensorFlow loads), so a prediction has the bits of the pipeline's evaluation."""
    from emorec import cli
    from emorec.runner import DETERMINISM_ENV, PORTABLE_ENV

    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if k not in [*PORTABLE_ENV, DETERMINISM_ENV]}
    )
    monkeypatch.setattr(
        "emorec.serving.project.project_predictor",
        lambda params, root, **local: SimpleNamespace(mode=params["determinism"]),
    )
    predictor, serving = cli.build_predictor(
        cli.parser().parse_args(["predict", "clip.wav", "--root", str(tmp_path)])
    )
    assert (
        predictor.mode == "portable"
        and serving["max_audio_s"] > 0
        and predictor.limits.audio_s == serving["max_audio_s"]
    )
    assert (
        os.environ[DETERMINISM_ENV] == "portable" and {k: os.environ[k] for k in PORTABLE_ENV} == PORTABLE_ENV
    )


def test_champion_is_the_best_validation_macro_f1():
    metrics = {
        "audio.svm.val.macro_f1": 0.6,
        "audio.mlp.val.macro_f1": 0.7,
        "audio.mlp.test.macro_f1": 0.9,
        "audio.svm.ravdess.val.macro_f1": 0.99,
        "visual.cnn.val.macro_f1": 0.5,
    }
    assert champion(metrics, "audio") == "mlp"
    assert champion(metrics, "visual") == "cnn"


# -- on the tiny demo run -----------------------------------------------------------------
def demo_files(run: Path, folder: Path) -> dict[str, Path]:
    """A test actor's WAV, a test face as PNG (and blown up to 480x480), an MP4 of the run's demo."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(run / "data/raw/demo/ravdess_demo.zip") as z:
        wav = next(n for n in sorted(z.namelist()) if "Actor_04/03-01-05" in n)
        (folder / "angry.wav").write_bytes(z.read(wav))
    with zipfile.ZipFile(run / "data/raw/demo/ravdess_video_demo.zip") as z:
        mp4 = next(n for n in sorted(z.namelist()) if n.endswith(".mp4") and "/01-" in n)
        (folder / "clip.mp4").write_bytes(z.read(mp4))
    import pyarrow.parquet as pq

    faces = pq.read_table(run / "data/features/faces.parquet").to_pandas()
    face = faces[faces["split"] == "test"].iloc[0]
    pixels = np.frombuffer(face["pixels"], np.uint8).reshape(48, 48)
    (folder / "face.png").write_bytes(cv2.imencode(".png", pixels)[1].tobytes())
    return {"wav": folder / "angry.wav", "face": folder / "face.png", "mp4": folder / "clip.mp4"}


def emorec(run: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EMOREC, *args, "--root", str(run), "--configfile", str(REPO / "tests/config/tiny.yaml")],
        capture_output=True,
        text=True,
        cwd=run,
        env=env or ENV,
    )


@pytest.mark.e2e
def test_predict_prints_one_json_line_per_input_and_names_bad_ones(run, tmp_path):
    files = demo_files(run, tmp_path / "demo")
    (tmp_path / "demo" / "notes.wav").write_text("not audio at all, a text file renamed .wav\n" * 5)
    result = emorec(run, "predict", str(tmp_path / "demo"), str(tmp_path / "missing.wav"))
    assert result.returncode == 1, result.stderr  # some inputs failed, the rest were predicted
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(a["input"]).name: a for a in lines}
    assert set(by_name) == {"angry.wav", "clip.mp4", "face.png", "notes.wav", "missing.wav"}
    assert "the content is text" in by_name["notes.wav"]["error"]
    assert "cannot read" in by_name["missing.wav"]["error"]
    for name, kind in (("angry.wav", "audio"), ("face.png", "image"), ("clip.mp4", "video")):
        answer = by_name[name]
        assert answer["kind"] == kind and abs(sum(answer["probabilities"].values()) - 1) < 1e-4
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    audio = by_name["angry.wav"]
    assert audio["sex"]["label"] in ("female", "male") and set(audio["models"]) == {"audio", "sex"}
    assert by_name["face.png"]["face"]["box"] is None  # a 48x48 face crop is used whole
    assert "sex" not in by_name["face.png"]
    assert set(by_name["clip.mp4"]["models"]) >= {"audio", "visual"} and "audio" in by_name["clip.mp4"]
    table = emorec(run, "predict", str(files["wav"]), "--format", "table")
    assert table.returncode == 0 and "angry.wav" in table.stdout and "audio" in table.stdout


@pytest.mark.e2e
def test_a_large_photo_is_searched_for_a_face_and_a_faceless_one_refused(run, tmp_path):
    blank = tmp_path / "blank.png"
    blank.write_bytes(cv2.imencode(".png", np.full((480, 640), 128, np.uint8))[1].tobytes())
    result = emorec(run, "predict", str(blank))
    assert (
        result.returncode == 1 and "no face found in the 640x480 image" in json.loads(result.stdout)["error"]
    )


@pytest.mark.e2e
def test_rest_through_mlflow_serve_answers_as_emorec_predict(run, tmp_path):
    import requests

    files = demo_files(run, tmp_path / "demo")
    # mlflow's scoring server execs `uvicorn` by name: the venv's bin/ must be on PATH
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **ENV,
        "MLFLOW_TRACKING_URI": f"sqlite:///{run / 'mlflow.db'}",
        "PATH": f"{venv_bin}{os.pathsep}{ENV.get('PATH', '')}",
    }
    for model, path in (("emorec-audio", files["wav"]), ("emorec-visual", files["face"])):
        port = free_port()
        server = subprocess.Popen(
            [
                "mlflow",
                "models",
                "serve",
                "-m",
                f"models:/{model}@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=run,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/ping", server)
            body = {"dataframe_records": [{"content": base64.b64encode(path.read_bytes()).decode()}]}
            response = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
            assert response.status_code == 200, response.text
            served = response.json()["predictions"][0]
        finally:
            server.terminate()
            server.wait(timeout=30)
        local = json.loads(
            emorec(
                run,
                "predict",
                str(path),
                f"--{model.split('-')[1]}-model",
                f"models:/{model}@champion",
                env=env,
            ).stdout
        )
        assert served["label"] == local["label"]
        for label, p in local["probabilities"].items():
            assert abs(served["probabilities"][label] - p) < 1e-5
        assert "champion" in local["models"][model.split("-")[1]]


@pytest.mark.e2e
def test_upload_page_in_a_headless_browser(run, tmp_path):
    import requests
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    files = demo_files(run, tmp_path / "demo")
    port = free_port()
    server = emorec_serve(run, port, "--max-mb", "1")
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        # the JSON endpoint, as a script uses it: a WAV, then a non-media file and an oversized one
        answer = requests.post(
            f"http://127.0.0.1:{port}/predict", data=files["wav"].read_bytes(), timeout=60
        ).json()
        assert answer["kind"] == "audio" and "sex" in answer
        refused = requests.post(
            f"http://127.0.0.1:{port}/predict", data=b"plain text, not media\n" * 10, timeout=60
        )
        assert refused.status_code == 415 and "the content is text" in refused.json()["error"]
        assert (
            requests.post(f"http://127.0.0.1:{port}/predict", data=b"\0" * (2 << 20), timeout=60).status_code
            == 413
        )

        with headless_chromium() as page:
            page.get(f"http://127.0.0.1:{port}/")
            upload = page.find_element(By.ID, "file")
            ARTEFACTS.mkdir(exist_ok=True)
            for path, kind in ((files["wav"], "audio"), (files["face"], "image")):
                upload.send_keys(str(path))
                WebDriverWait(page, 60).until(
                    lambda d, name=path.name: (
                        d.find_element(By.TAG_NAME, "body").get_attribute("data-answered") == name
                    )
                )
                top = page.find_element(By.ID, "top").text
                bars = page.find_elements(By.CSS_SELECTOR, "#bars .bar")
                expected = requests.post(
                    f"http://127.0.0.1:{port}/predict", data=path.read_bytes(), timeout=60
                ).json()
                assert top.startswith(f"{path.name}: {expected['label']}")
                assert bars[0].get_attribute("data-label") == expected["label"]
                assert len(bars) == len(expected["probabilities"])
                sex = page.find_element(By.ID, "sex").text
                assert (
                    (sex.startswith("voice: ") and expected["sex"]["label"] in sex)
                    if kind == "audio"
                    else sex == ""
                )
                assert "answered by" in page.find_element(By.ID, "models").text
                page.save_screenshot(str(ARTEFACTS / f"upload_page_{kind}.png"))
            assert (ARTEFACTS / "upload_page_audio.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.e2e
@pytest.mark.realdata
def test_predict_on_real_ravdess_fer2013_and_video_files(run, shared_data, tmp_path):
    """Real files of every kind through the tiny run's models: a 48 kHz stereo RAVDESS WAV,
    a FER2013 JPEG, a 1280x720 H.264 RAVDESS MP4 with its AAC track."""
    picks = {
        "speech.wav": (shared_data / "ravdess/Audio_Speech_Actors_01-02.zip", lambda n: n.endswith(".wav")),
        "face.jpg": (
            shared_data / "fer2013/fer2013_images.zip",
            lambda n: n.startswith("test/happy/") and n.endswith(".jpg"),
        ),
        "clip.mp4": (
            shared_data / "ravdess_video/Video_Speech_Actor_05_partial.zip",
            lambda n: n.split("/")[-1].startswith("01-"),
        ),
    }
    for name, (archive, wanted) in picks.items():
        with zipfile.ZipFile(archive) as z:
            (tmp_path / name).write_bytes(z.read(next(n for n in sorted(z.namelist()) if wanted(n))))
    result = emorec(run, "predict", *(str(tmp_path / n) for n in picks))
    assert result.returncode == 0, result.stdout + result.stderr
    answers = {Path(a["input"]).name: a for a in map(json.loads, result.stdout.splitlines())}
    assert [answers[n]["kind"] for n in picks] == ["audio", "image", "video"]
    for answer in answers.values():
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    video = answers["clip.mp4"]
    assert video["visual"]["frames_with_face"] > 0 and "audio" in video and "sex" in video


@pytest.mark.e2e
@pytest.mark.realdata
def test_timeline_of_a_real_clip_and_of_a_faceless_one(run, shared_data, tmp_path):
    """`emorec predict --timeline`: per-second face, voice and fused probabilities of a real
    RAVDESS MP4, and of a clip with no face in it, where the voice still covers every second."""
    with zipfile.ZipFile(shared_data / "ravdess_video/Video_Speech_Actor_05_partial.zip") as z:
        name = next(n for n in sorted(z.namelist()) if n.split("/")[-1].startswith("01-"))
        (tmp_path / "clip.mp4").write_bytes(z.read(name))
    (tmp_path / "faceless.mp4").write_bytes(encoded("mp4", video="mpeg4", audio="aac", seconds=3.0))
    result = emorec(
        run,
        "predict",
        "--timeline",
        "--out",
        str(tmp_path / "out"),
        str(tmp_path / "clip.mp4"),
        str(tmp_path / "faceless.mp4"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers = {Path(a["input"]).name: a for a in map(json.loads, result.stdout.splitlines())}
    assert answers["clip.mp4"]["tracks"] == ["audio", "fused", "visual"]
    assert answers["faceless.mp4"]["tracks"] == ["audio"]
    assert answers["faceless.mp4"]["steps"] == 3
    rows = json.loads((tmp_path / "out/clip.mp4.timeline.json").read_text())
    seconds = sorted({r["start_s"] for r in rows})
    assert seconds == [float(k) for k in range(len(seconds))] and len(seconds) >= 3  # RAVDESS clips are 3-4 s
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in rows)
    assert {r["track"] for r in rows if r["start_s"] == 1.0} == {"visual", "audio", "fused"}
    table = (tmp_path / "out/clip.mp4.timeline.csv").read_text().splitlines()
    assert table[0].startswith("start_s,end_s,track,label,") and len(table) == len(rows) + 1
    png = tmp_path / "out/clip.mp4.timeline.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    ARTEFACTS.mkdir(exist_ok=True)
    (ARTEFACTS / "timeline.png").write_bytes(png.read_bytes())


def fake_devices(clip: bytes, folder: Path) -> tuple[Path, Path]:
    """A real clip as Chromium's fake camera (Y4M, 640 x 360 at 15 fps) and microphone (WAV)."""
    import av

    from emorec.video_io import decode_audio_track

    y4m, wav = folder / "camera.y4m", folder / "microphone.wav"
    with av.open(io.BytesIO(clip)) as source, av.open(str(y4m), mode="w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=15)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i, frame in enumerate(source.decode(video=0)):
            if i % 2 == 0:  # 30 -> 15 fps
                small = frame.reformat(width=640, height=360, format="yuv420p")
                small.pts = None
                out.mux(stream.encode(small))
        out.mux(stream.encode())
    sf.write(wav, decode_audio_track(clip, sample_rate=48000), 48000, subtype="PCM_16")
    return y4m, wav


@pytest.mark.e2e
@pytest.mark.realdata
def test_live_page_with_a_fake_camera_and_microphone(run, shared_data, tmp_path):
    """/live in headless Chromium, its camera and microphone fed from a real RAVDESS clip:
    face boxes with labels over the video, the voice's emotion and sex, and updates that keep
    coming while the clip plays (Chromium loops it)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with zipfile.ZipFile(shared_data / "ravdess_video/Video_Speech_Actor_05_partial.zip") as z:
        name = next(n for n in sorted(z.namelist()) if n.split("/")[-1].startswith("01-01-03"))
        y4m, wav = fake_devices(z.read(name), tmp_path)
    port = free_port()
    server = emorec_serve(run, port)
    flags = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        with headless_chromium(1200, 1000, flags) as page:
            page.get(f"http://127.0.0.1:{port}/live")
            assert "Nothing is stored" in page.find_element(By.TAG_NAME, "body").text
            page.find_element(By.ID, "start").click()
            body = page.find_element(By.TAG_NAME, "body")

            def counted(key: str) -> int:
                return int(body.get_attribute(f"data-{key}") or 0)

            WebDriverWait(page, 120).until(lambda _: counted("boxes") >= 1 and counted("voice") >= 2)
            assert page.find_element(By.ID, "face").get_attribute("data-label")
            assert page.find_element(By.ID, "voice").get_attribute("data-label")
            assert page.find_element(By.ID, "voice").get_attribute("data-sex") in ("male", "female")
            assert page.find_element(By.ID, "error").text == ""
            before = {k: counted(k) for k in ("frames", "voice")}
            WebDriverWait(page, 60).until(
                lambda _: (
                    counted("frames") >= before["frames"] + 10 and counted("voice") >= before["voice"] + 2
                )
            )
            WebDriverWait(page, 60).until(lambda _: counted("fusion") >= 1)
            assert page.find_element(By.ID, "fusion").get_attribute("data-label")
            ARTEFACTS.mkdir(exist_ok=True)
            page.save_screenshot(str(ARTEFACTS / "live.png"))
    finally:
        server.terminate()
        server.wait(timeout=30)
