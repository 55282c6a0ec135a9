"""The whole Snakemake DAG on a tiny demo config, run as a user would, in a temporary folder."""

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import ARTEFACTS, ENV, TINY, free_port, headless_chromium, make_zip, snakemake, wait_for

from emorec.features.audio import AudioFeatureParams
from emorec.models.store import read_timings
from emorec.tables import FACE_FEATURES, FACE_MANIFEST, RAVDESS_MANIFEST, REJECTS, VIDEO_FACES, VIDEO_MANIFEST

MODELS = [
    ("audio", "svm"),
    ("audio", "random_forest"),
    ("audio", "gradient_boosting"),
    ("audio", "mlp"),
    ("audio", "cnn_lstm"),
    ("visual", "cnn"),
    ("audio_sex", "svm"),
]
#: A user's environment choosing other kernels than portable mode's (as a cluster module or a
#: shell profile might): oneDNN on SSE4.1 or off, NumPy without its AVX2 loops, OpenBLAS on
#: Sandy Bridge kernels, OpenCV's IPP on SSE4.2. Portable mode must override every one.
OTHER_KERNELS = {
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "NPY_DISABLE_CPU_FEATURES": "AVX2 FMA3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Sandybridge",
    "OPENCV_IPP": "sse42",
}


def mlflow_client(workdir: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    return mlflow


@pytest.mark.e2e
def test_dag_writes_every_table_with_its_schema(run):
    assert pq.read_schema(run / "data/interim/ravdess/manifest.parquet").equals(RAVDESS_MANIFEST)
    assert pq.read_schema(run / "data/interim/fer2013/manifest.parquet").equals(FACE_MANIFEST)
    for corpus in ("ravdess", "fer2013"):
        assert pq.read_schema(run / f"data/interim/{corpus}/rejects.parquet").equals(REJECTS)
        summary = json.loads((run / f"data/interim/{corpus}/summary.json").read_text())
        assert summary["rejects"] == 0 and len(summary["archive_sha256"]) == 64
    audio = pq.read_table(run / "data/features/audio.parquet")
    assert audio.schema.equals(AudioFeatureParams(egemaps=True).schema, check_metadata=False)
    assert audio.num_rows == 4 * 60
    assert sorted(set(audio.column("split").to_pylist())) == ["test", "train", "val"]
    faces = pq.read_table(run / "data/features/faces.parquet")
    assert faces.schema.equals(FACE_FEATURES) and faces.num_rows == 300
    assert (run / "logs/features/ravdess/shard_001.log").read_text().count("clips") >= 1
    video = pq.read_table(run / "data/interim/ravdess_video/manifest.parquet")
    assert video.schema.equals(VIDEO_MANIFEST) and video.num_rows == 2 * 32
    assert pq.read_schema(run / "data/features/ravdess_video/faces.parquet").equals(VIDEO_FACES)
    tracks = pq.read_table(run / "data/features/ravdess_video/audio.parquet")
    assert tracks.schema.equals(audio.schema, check_metadata=False) and tracks.num_rows == 2 * 30


@pytest.mark.e2e
def test_second_dry_run_has_nothing_to_do(run):
    """Nothing reruns after a complete run (no timing asserted: CI machines are shared)."""
    result = snakemake(run, "-j8", "-n", "--configfile", str(TINY))
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.e2e
def test_missing_archive_fails_at_once_naming_it(tmp_path):
    config = tmp_path / "real.yaml"
    config.write_text("corpora:\n  fer2013:\n    archive: data/raw/fer2013.csv\n")
    result = snakemake(tmp_path, "-n", "--configfile", str(config))
    assert result.returncode != 0
    assert "corpora.fer2013.archive: data/raw/fer2013.csv does not exist" in result.stdout + result.stderr
    assert "demo" in result.stdout + result.stderr


@pytest.mark.e2e
def test_bad_params_fail_naming_the_key(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "ingest={'max_reject_fraction': 2}")
    assert result.returncode != 0
    assert "ingest.max_reject_fraction: got" in result.stdout + result.stderr


@pytest.mark.e2e
def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
def test_every_model_is_evaluated_and_fused(run):
    metrics = json.loads((run / "reports/metrics.json").read_text())
    for modality, name in MODELS:
        folder = run / "reports" / modality / name
        for split in ("train", "val", "test"):
            for metric in ("accuracy", "macro_f1", "balanced_accuracy", "top2_accuracy"):
                assert 0 <= metrics[f"{modality}.{name}.{split}.{metric}"] <= 1
        predictions = pd.read_parquet(folder / "predictions.parquet")
        assert set(predictions["split"]) == {"train", "val", "test"}
        assert (folder / "confusion.png").read_bytes()[:4] == b"\x89PNG"
        assert list(pd.read_csv(folder / "per_class.csv").columns) == [
            "corpus",
            "split",
            "label",
            "precision",
            "recall",
            "f1",
            "support",
        ]
        card = json.loads((run / "data/models" / modality / name / "card.json").read_text())
        assert len(card["data"]["sha256"]) == 64 and "training_seconds" not in card  # in logs/train/
        assert read_timings(f"data/models/{modality}/{name}", root=run)["training_seconds"] > 0
        assert not (run / "data/models" / modality / name / "resume").exists()  # checkpoints go once saved
        if (
            name == "cnn"
        ):  # params.yaml recalibrates the face CNN's batch normalisation: 4 layers for filters [4, 8] x 2
            assert card["history"][0]["recalibration"]["layers"] == 4
    for method in ("audio_only", "visual_only", "fscore", "mean", "product"):
        assert f"fusion.{method}.test.macro_f1" in metrics
    for name in ("svm", "random_forest", "gradient_boosting", "mlp"):  # 2 folds of 2 actors
        assert metrics[f"audio.{name}.cv.folds"] == 2
        for metric in ("accuracy", "uar", "macro_f1"):
            assert (
                0 <= metrics[f"audio.{name}.cv.{metric}.mean"] <= 1
                and metrics[f"audio.{name}.cv.{metric}.std"] >= 0
            )
    # every held-out clip of actor 4 is paired, unless no test face has its label
    assert metrics["fusion.pairs"] + metrics["fusion.unpaired_clips"] == 60 and metrics["fusion.pairs"] > 0
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    results = (run / "reports/results.md").read_text()
    assert "`fusion.fscore`" in results and "`visual.cnn`" in results
    # real audio-visual pairs: actor 4's full-AV clips with a face, each clip's own voice and face
    assert (
        metrics["av.clips"] == 64
        and metrics["av.full_av_clips"] == 60
        and metrics["av.video_only_clips"] == 4
    )
    assert 0 < metrics["av.test_pairs"] <= 30 and metrics["av.frame_face_fraction"] > 0.5
    for method in ("audio_only", "visual_only", "fscore", "mean", "product"):
        assert metrics[f"av.{method}.test.n"] == metrics["av.test_pairs"]
    clips = pd.read_parquet(run / "reports/av/clips.parquet")
    video_only = clips[clips["av"] == "video_only"]
    assert len(clips) == 64 and video_only.filter(like="audio_p_").isna().all().all()


@pytest.mark.e2e
def test_mlflow_has_one_parent_run_with_nested_runs_and_servable_models(run):
    mlflow = mlflow_client(run)
    runs = mlflow.search_runs(experiment_names=["emorec"], output_format="list")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 1 + len(MODELS) + 1
    assert parents[0].data.tags["data"] == "demo"
    assert len(parents[0].data.tags["archive.ravdess.sha256"]) == 64
    assert parents[0].data.params["train.seed"] == "42"
    assert mlflow.get_experiment_by_name("emorec").tags["mlflow.experimentKind"] == "custom_model_development"
    for nested in (r for r in runs if r.info.run_name not in ("fusion", parents[0].info.run_name)):
        inputs = nested.inputs.dataset_inputs  # the UI's Dataset column: the table each model read
        assert len(inputs) == 1 and inputs[0].dataset.name.startswith("data/features/"), nested.info.run_name
        assert inputs[0].tags[0].value == "training" and len(inputs[0].dataset.digest) == 12
    from emorec.datasets import model_input

    for modality, name in (("audio", "svm"), ("visual", "cnn")):
        model = mlflow.pyfunc.load_model(f"models:/emorec-{modality}-{name}/1")
        features = pq.read_table(
            run / ("data/features/audio.parquet" if modality == "audio" else "data/features/faces.parquet")
        )
        row = (
            model_input(features.slice(0, 1), "descriptors", descriptors=["egemaps"])
            if modality == "audio"
            else model_input(features.slice(0, 1), "pixels")
        )
        proba = model.predict(row)
        assert proba.shape[0] == 1 and abs(float(proba.sum()) - 1) < 1e-4


@pytest.mark.e2e
def test_rerun_from_clean_outputs_is_identical_and_not_tracked_twice(run):
    first = (run / "reports/metrics.json").read_bytes()
    for path in ("data/models", "reports"):
        subprocess.run(["rm", "-rf", str(run / path)], check=True)
    result = snakemake(run, "-j2", "--configfile", str(TINY))
    assert result.returncode == 0, result.stderr[-4000:]
    assert (run / "reports/metrics.json").read_bytes() == first
    runs = mlflow_client(run).search_runs(experiment_names=["emorec"], output_format="list")
    assert len(runs) == 1 + len(MODELS) + 1, "an unchanged pipeline was logged twice"


@pytest.mark.e2e
def test_portable_mode_overrides_a_users_kernel_choices(run, tmp_path):
    """Kernel choices in the user's environment change no bit of the results in portable mode:
    the pipeline sets its own before any library loads. (Whether another CPU gives the same
    bits is checked under QEMU's CPU models: ``benchmarks/determinism.py --cpu-models``.)"""
    result = snakemake(
        tmp_path, "-j2", "reports/metrics.json", "--configfile", str(TINY), env={**ENV, **OTHER_KERNELS}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "reports/metrics.json").read_bytes() == (run / "reports/metrics.json").read_bytes()
    for modality, name in MODELS:  # every probability, not only the rounded metrics
        here, there = (
            pd.read_parquet(w / f"reports/{modality}/{name}/predictions.parquet") for w in (tmp_path, run)
        )
        pd.testing.assert_frame_equal(here, there, check_exact=True)


@pytest.mark.e2e
@pytest.mark.realdata
def test_cross_corpus_evaluation_on_real_tess_and_savee(shared_data, tmp_path):
    """Train on (tiny demo) RAVDESS, test on the real TESS and SAVEE samples: parameters only.
    Two more corpora are declared in the config alone: ``emolab`` (kind pattern: TESS's clips
    under other names, a pure test set) and ``mylab`` (kind manifest: SAVEE's clips listed in a
    CSV, speaker DC training beside RAVDESS, JK held out). And two face-image sets (kind
    image_folders): ``ferfolders`` (real FER2013 faces at 96x96 in train/test folders, training
    the face CNN beside the demo's) and ``ravfaces`` (a frame of each real RAVDESS video of
    actor 05, whole frames in which the face is found: a pure test set)."""
    import cv2

    from emorec.video_io import sample_frames

    with zipfile.ZipFile(shared_data / "fer2013" / "fer2013_images.zip") as fer:
        names = sorted(n for n in fer.namelist() if n.endswith(".jpg"))
        chosen = [
            n
            for split in ("train", "test")
            for e in ("happy", "sad", "angry")
            for n in [m for m in names if f"{split}/{e}/" in m][:6]
        ]
        make_zip(
            tmp_path / "ferfolders.zip",
            {
                n.replace(".jpg", ".png"): cv2.imencode(
                    ".png",
                    cv2.resize(
                        cv2.imdecode(np.frombuffer(fer.read(n), np.uint8), cv2.IMREAD_GRAYSCALE), (96, 96)
                    ),
                )[1].tobytes()
                for n in chosen
            },
        )
    frames = {}
    with zipfile.ZipFile(shared_data / "ravdess_video" / "Video_Speech_Actor_05_partial.zip") as video:
        for n in sorted(n for n in video.namelist() if n.endswith(".mp4")):
            frame = next(f for i, _, f in sample_frames(video.read(n), every=30) if i == 30)
            frames[f"ravfaces/{Path(n).stem.split('-')[2]}/{Path(n).stem}.jpg"] = cv2.imencode(".jpg", frame)[
                1
            ].tobytes()
    make_zip(tmp_path / "ravfaces.zip", frames)
    with zipfile.ZipFile(shared_data / "tess" / "tess_sample.zip") as tess:
        clips = [n for n in tess.namelist() if n.endswith(".wav")]
        make_zip(
            tmp_path / "emolab.zip",
            {
                f"emolab/{n.split('_')[0].lower()}-{n[:-4].split('_')[-1]}-{i}.wav": tess.read(n)
                for i, n in enumerate(clips)
            },
        )
    with zipfile.ZipFile(shared_data / "savee" / "savee_sample.zip") as savee:
        clips = [n for n in savee.namelist() if n.endswith(".wav")]
        rows = [f"{Path(n).name},{Path(n).stem[3:-2]},{Path(n).stem[:2]}" for n in clips]
        make_zip(
            tmp_path / "mylab.zip",
            {
                **{Path(n).name: savee.read(n) for n in clips},
                "labels.csv": ("path,label,speaker\n" + "\n".join(rows)).encode(),
            },
        )
    config = tmp_path / "cross.yaml"
    config.write_text(
        "corpora:\n"
        "  speech: [ravdess, tess, savee, emolab, mylab]\n"
        f"  tess: {{archive: {shared_data / 'tess' / 'tess_sample.zip'}, val_speakers: [], test_speakers: [OAF, YAF]}}\n"
        f"  savee: {{archive: {shared_data / 'savee' / 'savee_sample.zip'}, val_speakers: [], test_speakers: [DC, JK]}}\n"
        f"  emolab: {{kind: pattern, archive: {tmp_path / 'emolab.zip'}, val_speakers: [], test_speakers: [oaf, yaf],\n"
        "    pattern: '(?P<speaker>[a-z]+)-(?P<label>[a-z]+)-\\d+\\.wav',\n"
        "    labels: {angry: angry, disgust: disgust, fear: fearful, happy: happy, neutral: neutral, ps: surprised, sad: sad}}\n"
        f"  mylab: {{kind: manifest, archive: {tmp_path / 'mylab.zip'}, manifest: labels.csv, val_speakers: [], test_speakers: [JK],\n"
        "    labels: {a: angry, d: disgust, f: fearful, h: happy, n: neutral, sa: sad, su: surprised}}\n"
        "  faces: [fer2013, ferfolders, ravfaces]\n"
        f"  ferfolders: {{kind: image_folders, archive: {tmp_path / 'ferfolders.zip'}, splits: {{train: train, test: test}},\n"
        "    labels: {happy: happy, sad: sad, angry: angry}}\n"
        f"  ravfaces: {{kind: image_folders, archive: {tmp_path / 'ravfaces.zip'}, splits: test, find_faces: true,\n"
        "    labels: {'01': neutral, '02': null, '03': happy, '04': sad, '05': angry, '06': fearful, '07': disgust, '08': surprised}}\n"
        "train:\n  audio:\n    models: [svm]\nfusion:\n  audio_model: svm\n"
    )
    result = snakemake(tmp_path, "-j2", "reports/metrics.json", "--configfile", str(TINY), str(config))
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = json.loads((tmp_path / "reports/metrics.json").read_text())
    assert metrics["audio.svm.tess.test.n"] == 28 and metrics["audio.svm.savee.test.n"] == 28
    assert metrics["audio.svm.ravdess.test.n"] == 60
    assert metrics["audio.svm.test.n"] == 28 + 28 + 60 + 28 + 14
    assert "audio.svm.tess.train.n" not in metrics  # TESS speakers are all held out
    assert 0 <= metrics["audio.svm.tess.test.accuracy"] <= 1
    # on the four classes the corpora share: 4 of 7 TESS / SAVEE emotions, 4 clips each
    assert metrics["audio.svm.tess.test.shared.n"] == 16 and metrics["audio.svm.savee.test.shared.n"] == 16
    assert 0 <= metrics["audio.svm.savee.test.shared.balanced_accuracy"] <= 1
    # the corpora declared in the config alone: a pure test set, and one that also trains
    assert metrics["audio.svm.emolab.test.n"] == 28 and metrics["audio.svm.emolab.test.shared.n"] == 16
    assert metrics["audio.svm.mylab.train.n"] == 14 and metrics["audio.svm.mylab.test.n"] == 14
    assert 0 <= metrics["audio.svm.mylab.test.shared.balanced_accuracy"] <= 1
    summary = json.loads((tmp_path / "data/interim/mylab/summary.json").read_text())
    assert summary["samples"] == 28 and summary["reject_reasons"] == {"not used": 1}  # labels.csv itself
    # the face-image sets: 18 FER2013 faces train (1 per class carved for validation), 18 test; RAVDESS
    # frames are a pure test set, calm ('02') left out on purpose, a face found in every other
    assert metrics["visual.cnn.ferfolders.train.n"] == 15 and metrics["visual.cnn.ferfolders.test.n"] == 18
    faces = json.loads((tmp_path / "data/interim/ravfaces/summary.json").read_text())
    calm = sum(1 for n in frames if "/02/" in n)
    assert faces["samples"] == len(frames) - calm and faces["reject_reasons"] == (
        {"not used": calm} if calm else {}
    )
    assert (
        metrics["visual.cnn.ravfaces.test.n"] == faces["samples"]
        and "visual.cnn.ravfaces.train.n" not in metrics
    )
    assert 0 <= metrics["visual.cnn.ravfaces.test.accuracy"] <= 1


@pytest.mark.e2e
def test_mlflow_ui_lists_the_parent_run_its_nested_runs_and_their_datasets(run):
    """The runs page of `mlflow ui`, rendered by headless Chromium: the pipeline run, and,
    expanded, a nested run per model and fusion, with the feature tables in the Dataset column."""
    import sys

    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    ui = subprocess.Popen(
        [
            f"{venv_bin}/mlflow",
            "ui",
            "--backend-store-uri",
            f"sqlite:///{run / 'mlflow.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=run,
        env={**ENV, "PATH": f"{venv_bin}:{ENV.get('PATH', '')}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", ui)
        experiment = mlflow_client(run).get_experiment_by_name("emorec").experiment_id
        with headless_chromium(1400, 1000) as page:
            page.get(f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs")
            text = lambda d: d.find_element("tag name", "body").text
            WebDriverWait(page, 90).until(lambda d: "pipeline " in text(d))
            page.find_element(
                "css selector", "button[data-component-id*='runnamecellrenderer']"
            ).click()  # expand the parent
            WebDriverWait(page, 60).until(lambda d: "fusion" in text(d))
            shown = set(text(page).splitlines())
            assert {f"{m}.{n}" for m, n in MODELS} <= shown, shown
            assert any(line.startswith("data/features/") for line in shown), "the Dataset column is empty"
            ARTEFACTS.mkdir(exist_ok=True)
            page.save_screenshot(str(ARTEFACTS / "mlflow_runs.png"))
    finally:
        ui.terminate()
        ui.wait(timeout=30)
