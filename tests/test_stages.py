"""Evaluate, fuse and report stages on small synthetic tables (fast, no TensorFlow)."""

import json
import subprocess

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import REPO

from emorec.datasets import classes_of, encode, model_input, split_rows
from emorec.errors import DataError
from emorec.labels import LABELS
from emorec.models.sklearn_audio import build_pipeline
from emorec.models.store import load_model, save_model
from emorec.stages.evaluate import evaluate_model
from emorec.stages.fuse import common_labels, run_fusion
from emorec.stages.report import (
    README_BLOCKS,
    merge_metrics,
    real_results_markdown,
    results_markdown,
    update_readme,
    write_metrics,
)
from emorec.tables import audio_descriptor_names, audio_features_schema, write_table

N_MFCC, N_MELS, FRAMES = 2, 4, 6


def audio_table(n_per_class: int = 12, seed: int = 0) -> pa.Table:
    """A feature table whose first ten descriptors separate four classes; 6 speakers."""
    rng = np.random.default_rng(seed)
    classes = ["neutral", "calm", "happy", "sad"]
    labels = np.repeat(classes, n_per_class)
    n = len(labels)
    speakers = np.tile([f"{i:02d}" for i in range(1, 7)], -(-n // 6))[:n]
    split = np.where(speakers == "05", "val", np.where(speakers == "06", "test", "train"))
    names = audio_descriptor_names(n_mfcc=N_MFCC)
    data = {name: rng.normal(size=n).astype(np.float32) for name in names}
    for name in names[:10]:
        data[name] = np.array([classes.index(label) for label in labels], dtype=np.float32) * 3 + rng.normal(
            0, 0.3, n
        ).astype(np.float32)
    table = pa.table(
        {
            "corpus": ["ravdess"] * n,
            "sample_id": [f"s{i}" for i in range(n)],
            "label": labels,
            "label_id": [LABELS.index(label) for label in labels],
            "original_label": labels,
            "split": split,
            "speaker": speakers,
            **data,
            "logmel": pa.array(
                list(rng.normal(size=(n, N_MELS * FRAMES)).astype(np.float32)),
                pa.list_(pa.float32(), N_MELS * FRAMES),
            ),
        }
    )
    return table.cast(audio_features_schema(n_mfcc=N_MFCC, n_mels=N_MELS, frames=FRAMES))


@pytest.fixture
def features(tmp_path):
    path = tmp_path / "audio.parquet"
    write_table(audio_table(), path, audio_features_schema(n_mfcc=N_MFCC, n_mels=N_MELS, frames=FRAMES))
    return path


def test_model_inputs_have_the_documented_shapes():
    table = audio_table()
    descriptors = model_input(table, "descriptors")
    assert list(descriptors.columns) == audio_descriptor_names(n_mfcc=N_MFCC)
    assert descriptors.dtypes.unique().tolist() == [np.float32]
    assert model_input(table, "logmel").shape == (len(table), N_MELS, FRAMES, 1)
    with pytest.raises(ValueError, match="unknown model input"):
        model_input(table, "video")


def test_classes_follow_unified_order_and_unknown_labels_fail():
    assert classes_of(np.array(["sad", "neutral", "sad", "calm"])) == ["neutral", "calm", "sad"]
    np.testing.assert_array_equal(encode(np.array(["sad", "calm"]), ["calm", "sad"]), [1, 0])
    with pytest.raises(DataError, match=r"\['angry'\] are not among"):
        encode(np.array(["angry"]), ["calm", "sad"])
    with pytest.raises(DataError, match="no 'val' rows"):
        split_rows(audio_table().filter(pa.compute.equal(audio_table().column("split"), "train")), "val")


def train_and_save(features, model_dir):
    table = audio_table()
    train = split_rows(table, "train")
    classes = classes_of(np.asarray(train.column("label").to_pylist()))
    model = build_pipeline("random_forest", seed=0).fit(
        model_input(train, "descriptors"), encode(np.asarray(train.column("label").to_pylist()), classes)
    )
    save_model(model, model_dir, framework="sklearn", card={"input": "descriptors", "classes": classes})
    return classes


def test_saved_model_round_trips_and_is_evaluated(features, tmp_path):
    classes = train_and_save(features, tmp_path / "model")
    model = load_model(tmp_path / "model")
    assert model.classes == classes and model.framework == "sklearn"
    metrics = evaluate_model(
        model_dir=tmp_path / "model", features=features, out_dir=tmp_path / "report", prefix="audio.rf"
    )
    assert metrics["audio.rf.test.accuracy"] > 0.9  # the informative descriptors give the class away
    assert metrics["audio.rf.test.n"] == 8 and metrics["audio.rf.train.n"] == 32
    assert {"audio.rf.test.f1.calm", "audio.rf.val.macro_f1", "audio.rf.test.top2_accuracy"} <= set(metrics)
    predictions = pd.read_parquet(tmp_path / "report" / "predictions.parquet")
    assert list(predictions.columns) == ["corpus", "sample_id", "split", "label", "predicted"] + [
        f"p_{c}" for c in classes
    ]
    np.testing.assert_allclose(predictions[[f"p_{c}" for c in classes]].sum(axis=1), 1.0, rtol=1e-5)
    confusion = pd.read_csv(tmp_path / "report" / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 8
    per_class = pd.read_csv(tmp_path / "report" / "per_class.csv")
    assert set(per_class["split"]) == {"train", "val", "test"} and len(per_class) == 3 * len(classes)
    assert set(per_class["corpus"]) == {"all"}
    assert (tmp_path / "report" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "report" / "metrics.json").read_text()) == metrics


def test_skops_refuses_foreign_types(tmp_path):
    import skops.io

    save_model({"x": 1}, tmp_path / "m", framework="sklearn", card={"input": "descriptors", "classes": ["a"]})
    skops.io.dump(pd.Timestamp("2026-01-01"), tmp_path / "m" / "model.skops")
    with pytest.raises(DataError, match="refusing to load types"):
        load_model(tmp_path / "m")


def predictions(path, *, classes, splits, seed, accuracy, n=200):
    """Synthetic predictions, right with probability ``accuracy`` per split; a wrong guess is
    less confident and still gives the true class some mass (what makes fusion pay)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in splits:
        labels = rng.choice(classes, n)
        for i, label in enumerate(labels):
            right = rng.random() < accuracy[split]
            guess = label if right else rng.choice([c for c in classes if c != label])
            p = rng.dirichlet(np.ones(len(classes))) * 0.3
            p[classes.index(guess)] += 0.7 if right else 0.4
            p[classes.index(label)] += 0.0 if right else 0.3
            rows.append(
                {
                    "corpus": "x",
                    "sample_id": f"{split}{i}",
                    "split": split,
                    "label": label,
                    "predicted": guess,
                    **{f"p_{c}": p[j] for j, c in enumerate(classes)},
                }
            )
    pd.DataFrame(rows).to_parquet(path)
    return path


AUDIO = ["neutral", "calm", "happy", "sad", "angry"]
FACES = ["neutral", "happy", "sad", "angry", "surprised"]


def test_common_labels_apply_the_mapping():
    assert common_labels({"a": AUDIO, "v": FACES}, {"calm": "neutral"}) == [
        "neutral",
        "happy",
        "sad",
        "angry",
    ]
    assert common_labels({"a": AUDIO, "v": FACES}, {"calm": None, "sad": None}) == [
        "neutral",
        "happy",
        "angry",
    ]


def test_fusion_beats_single_modalities_and_uses_validation_only(tmp_path):
    audio = predictions(
        tmp_path / "a.parquet",
        classes=AUDIO,
        splits=["val", "test"],
        seed=1,
        accuracy={"val": 0.7, "test": 0.7},
    )
    visual = predictions(
        tmp_path / "v.parquet",
        classes=FACES,
        splits=["val", "test"],
        seed=2,
        accuracy={"val": 0.7, "test": 0.7},
    )
    metrics = run_fusion(
        audio_predictions=audio,
        visual_predictions=visual,
        out_dir=tmp_path / "f1",
        label_map={"calm": "neutral"},
        seed=0,
    )
    best_single = max(metrics["fusion.audio_only.test.accuracy"], metrics["fusion.visual_only.test.accuracy"])
    assert metrics["fusion.fscore.test.accuracy"] > best_single
    assert metrics["fusion.pairs"] == metrics["fusion.fscore.test.n"] > 0
    weights = pd.read_csv(tmp_path / "f1" / "weights.csv")
    assert list(weights["label"]) == ["neutral", "happy", "sad", "angry"]
    np.testing.assert_allclose(weights["audio_weight"] + weights["visual_weight"], 1.0, atol=2e-6)
    # Same validation predictions, different test predictions: the weights must not move.
    visual2 = predictions(
        tmp_path / "v2.parquet",
        classes=FACES,
        splits=["val", "test"],
        seed=2,
        accuracy={"val": 0.7, "test": 0.2},
    )
    run_fusion(
        audio_predictions=audio,
        visual_predictions=visual2,
        out_dir=tmp_path / "f2",
        label_map={"calm": "neutral"},
        seed=0,
    )
    pd.testing.assert_frame_equal(weights, pd.read_csv(tmp_path / "f2" / "weights.csv"))
    fused = pd.read_parquet(tmp_path / "f1" / "predictions.parquet")
    assert set(fused["method"]) == {"audio_only", "visual_only", "fscore", "mean", "product"}
    per_method = fused.groupby("method")["face_sample_id"].apply(tuple)
    assert per_method.nunique() == 1  # every method sees the same pairs


def test_fusion_needs_shared_labels(tmp_path):
    audio = predictions(
        tmp_path / "a.parquet",
        classes=["calm", "sad"],
        splits=["val", "test"],
        seed=1,
        accuracy={"val": 0.7, "test": 0.7},
    )
    visual = predictions(
        tmp_path / "v.parquet",
        classes=["happy", "sad"],
        splits=["val", "test"],
        seed=2,
        accuracy={"val": 0.7, "test": 0.7},
    )
    with pytest.raises(DataError, match="fewer than two labels"):
        run_fusion(
            audio_predictions=audio, visual_predictions=visual, out_dir=tmp_path / "f", label_map={}, seed=0
        )


def test_metrics_merge_refuses_duplicates_and_renders_a_table(tmp_path):
    write_metrics(
        tmp_path / "a.json", {"audio.svm.test.accuracy": 0.51234567, "audio.svm.test.n": np.int64(120)}
    )
    write_metrics(tmp_path / "b.json", {"fusion.fscore.test.accuracy": 0.9})
    merged = merge_metrics([tmp_path / "a.json", tmp_path / "b.json"])
    assert merged == {
        "audio.svm.test.accuracy": 0.512346,
        "audio.svm.test.n": 120,
        "fusion.fscore.test.accuracy": 0.9,
    }
    table = results_markdown(merged)
    assert "| `audio.svm` | 120 | 0.512 |" in table
    assert table.index("audio.svm") < table.index("fusion.fscore")
    with pytest.raises(DataError, match="also reported"):
        merge_metrics([tmp_path / "a.json", tmp_path / "a.json"])
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- results:start -->\nold\n<!-- results:end -->\n<!-- real-results:start -->\nold\n<!-- real-results:end -->\nend\n"
    )
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text(json.dumps(merged))
    assert update_readme(readme, tmp_path)
    assert table in readme.read_text() and readme.read_text().endswith("end\n")
    assert "old" in readme.read_text()  # no reports/real/metrics.json: its block is left alone
    assert not update_readme(readme, tmp_path)


def committed(path: str) -> str:
    """``path`` as committed at HEAD (a pipeline run may have rewritten the working copy)."""
    result = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    return result.stdout


@pytest.mark.parametrize(("start", "end", "render", "metrics_path"), README_BLOCKS)
def test_readme_results_tables_are_generated_from_the_committed_metrics(start, end, render, metrics_path):
    text = committed("README.md")
    block = text[text.index(start) + len(start) + 1 : text.index(end)]
    assert block == render(json.loads(committed(metrics_path))), "run: python -m emorec.stages.report"


def test_real_results_table_lists_every_measured_task():
    metrics = {
        "audio.svm.ravdess.test.accuracy": 0.7,
        "audio.svm.ravdess.test.balanced_accuracy": 0.65,
        "audio.svm.ravdess.test.macro_f1": 0.6,
        "audio.svm.test.accuracy": 0.6,
        "audio.svm.cv.accuracy.mean": 0.63,
        "audio.svm.cv.accuracy.std": 0.07,
        "audio.svm.cv.uar.mean": 0.62,
        "audio.svm.cv.uar.std": 0.05,
        "audio.svm.savee.test.shared.balanced_accuracy": 0.5,
        "audio.svm.savee.test.shared.n": 16,
        "visual.cnn.test.accuracy": 0.66,
        "visual.cnn.test.n": 3589,
        "fusion.fscore.test.accuracy": 0.8,
        "fusion.pairs": 240,
    }
    table = real_results_markdown(metrics)
    assert "| `svm` | 70.0 | 65.0 | 60.0 | 63.0 ± 7.0 | 62.0 ± 5.0 | 50.0 (16) |" in table
    assert "→ SAVEE UAR (n)" in table and "TESS" not in table
    assert (
        "| `cnn` | 66.0 |" in table and "240 simulated test pairs" in table and "| `fscore` | 80.0 |" in table
    )


def test_several_corpora_are_also_reported_one_by_one(tmp_path):
    table = audio_table()
    corpus = np.where(np.asarray(table.column("speaker").to_pylist()) == "06", "tess", "ravdess")
    table = table.set_column(table.schema.get_field_index("corpus"), "corpus", pa.array(corpus))
    path = tmp_path / "audio.parquet"
    write_table(table, path, audio_features_schema(n_mfcc=N_MFCC, n_mels=N_MELS, frames=FRAMES))
    train_and_save(path, tmp_path / "model")
    metrics = evaluate_model(
        model_dir=tmp_path / "model", features=path, out_dir=tmp_path / "report", prefix="audio.rf"
    )
    assert metrics["audio.rf.tess.test.n"] == metrics["audio.rf.test.n"] == 8  # all test speakers are TESS
    assert metrics["audio.rf.ravdess.train.n"] == 32 and "audio.rf.tess.train.n" not in metrics
    assert set(pd.read_csv(tmp_path / "report" / "per_class.csv")["corpus"]) == {"all", "ravdess", "tess"}


def test_speaker_normalisation_centres_each_speaker_on_its_own_clips():
    from emorec.datasets import speaker_normalise

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(100, 5, (20, 3)), rng.normal(-3, 0.1, (30, 3))])
    x[:, 2] = 7.0  # a constant feature stays finite (0)
    speakers = ["a"] * 20 + ["b"] * 30
    z = speaker_normalise(x, speakers)
    for rows in (slice(0, 20), slice(20, 50)):
        np.testing.assert_allclose(z[rows, :2].mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(z[rows, :2].std(axis=0), 1, atol=1e-9)
    assert (z[:, 2] == 0).all()
    # per mel band for log-mel arrays: statistics over clips and frames
    logmel = rng.normal(size=(50, 4, 6, 1)) * np.arange(1, 5)[None, :, None, None] + 10
    zl = speaker_normalise(logmel, speakers, axis=(0, 2))
    np.testing.assert_allclose(zl[:20].mean(axis=(0, 2)), 0, atol=1e-9)


def test_model_input_selects_descriptor_groups_and_normalises_per_speaker():
    table = audio_table()
    names = audio_descriptor_names(n_mfcc=N_MFCC)
    extra = pa.array(np.arange(len(table), dtype=np.float32))
    table = table.add_column(
        table.schema.get_field_index("logmel"), "egemaps_F0semitoneFrom27.5Hz_sma3nz_amean", extra
    )
    assert list(model_input(table, "descriptors", descriptors=["egemaps"]).columns) == [
        "egemaps_F0semitoneFrom27.5Hz_sma3nz_amean"
    ]
    assert list(model_input(table, "descriptors", descriptors=["emorec"]).columns) == names
    normalised = model_input(table, "descriptors", speaker_norm=True)
    speakers = np.asarray(table.column("speaker").to_pylist())
    np.testing.assert_allclose(normalised[speakers == "01"].mean(), 0, atol=1e-5)
    with pytest.raises(DataError, match="no descriptors of"):
        model_input(audio_table(), "descriptors", descriptors=["egemaps"])


def test_shared_class_scores_use_only_the_shared_classes():
    from emorec.stages.evaluate import shared_class_metrics

    labels = ["neutral", "calm", "happy", "sad", "surprised"]
    y = np.array([0, 2, 3, 4, 1])
    # the second sample's best class is calm (not shared): the best shared class, happy, wins
    proba = np.array(
        [[0.9, 0, 0.1, 0, 0], [0, 0.6, 0.3, 0.1, 0], [0.2, 0, 0, 0.8, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]],
        dtype=float,
    )
    out = shared_class_metrics("audio.svm.savee", y, proba, labels, ["neutral", "happy", "sad", "angry"])
    assert out["audio.svm.savee.test.shared.n"] == 3
    assert out["audio.svm.savee.test.shared.accuracy"] == 1.0
    assert shared_class_metrics("k", np.array([4]), proba[:1], labels, ["neutral"]) == {}


def test_cv_folds_deal_speakers_into_consecutive_groups_and_summarise(tmp_path, features):
    from emorec.stages.cv import cv_fold, cv_summary, fold_speakers

    actors = [f"Actor_{i:02d}" for i in range(24, 0, -1)]
    groups = fold_speakers(actors * 2, folds=6)
    assert groups[0] == ["Actor_01", "Actor_02", "Actor_03", "Actor_04"] and groups[-1][-1] == "Actor_24"
    with pytest.raises(DataError, match="between 2 and 24"):
        fold_speakers(actors, folds=25)
    files = []
    for fold in range(3):
        files.append(tmp_path / f"fold_{fold}.json")
        record = cv_fold(
            features=features,
            out_path=files[-1],
            corpus="ravdess",
            fold=fold,
            folds=3,
            kind="random_forest",
            grid={"n_estimators": [30]},
            inner_folds=2,
            seed=0,
            threads=1,
            input_options={"speaker_norm": False},
        )
        assert record["n"] == 16 and record["accuracy"] > 0.8  # the first descriptors separate the classes
    metrics = cv_summary(
        fold_files=files,
        metrics_path=tmp_path / "m.json",
        table_path=tmp_path / "folds.csv",
        prefix="audio.svm",
    )  # the prefix names the model
    accuracies = [json.loads(f.read_text())["accuracy"] for f in files]
    assert metrics["audio.svm.cv.accuracy.mean"] == pytest.approx(np.mean(accuracies))
    assert metrics["audio.svm.cv.accuracy.std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert {"audio.svm.cv.uar.mean", "audio.svm.cv.macro_f1.std", "audio.svm.cv.folds"} <= set(metrics)
    assert len(pd.read_csv(tmp_path / "folds.csv")) == 3


def test_cv_folds_can_be_listed_and_are_checked_against_the_corpus():
    """Explicit folds (EmoBox's RAVDESS folds in config/real.yaml) are used as listed; a
    speaker the corpus lacks, or one in two folds, is named."""
    from emorec.stages.cv import fold_count, fold_speakers

    actors = [f"Actor_{i:02d}" for i in range(1, 25)]
    emobox = [
        ["Actor_01", "Actor_11", "Actor_20", "Actor_21"],
        ["Actor_04", "Actor_10", "Actor_12", "Actor_14"],
    ]
    assert fold_speakers(actors, folds=emobox) == emobox and fold_count(emobox) == 2 and fold_count(6) == 6
    with pytest.raises(DataError, match="Actor_25 are not in the corpus"):
        fold_speakers(actors, folds=[["Actor_01"], ["Actor_25"]])
    with pytest.raises(DataError, match="Actor_01 are in more than one fold"):
        fold_speakers(actors, folds=[["Actor_01"], ["Actor_01", "Actor_02"]])


def test_inductive_cv_drops_per_speaker_normalisation_and_is_summarised_apart(tmp_path, features):
    """With ``inductive`` each fold is scored twice, with and without per-speaker normalisation;
    the summary reports both."""
    from emorec.stages.cv import cv_fold, cv_summary

    files = []
    for fold in range(3):
        files.append(tmp_path / f"fold_{fold}.json")
        record = cv_fold(
            features=features,
            out_path=files[-1],
            corpus="ravdess",
            fold=fold,
            folds=3,
            kind="random_forest",
            grid={"n_estimators": [30]},
            inner_folds=2,
            seed=0,
            threads=1,
            input_options={"speaker_norm": True},
            inductive=True,
        )
        assert set(record["inductive"]) == {"n", "best_params", "accuracy", "macro_f1", "uar"}
    metrics = cv_summary(
        fold_files=files,
        metrics_path=tmp_path / "m.json",
        table_path=tmp_path / "folds.csv",
        prefix="audio.svm",
    )
    inductive = [json.loads(f.read_text())["inductive"]["uar"] for f in files]
    assert metrics["audio.svm.cv.inductive.uar.mean"] == pytest.approx(np.mean(inductive))
    assert {"audio.svm.cv.uar.mean", "audio.svm.cv.inductive.accuracy.std"} <= set(metrics)
    assert "inductive_uar" in pd.read_csv(tmp_path / "folds.csv").columns
    # without per-speaker normalisation configured there is nothing to compare: one setting only
    plain = cv_fold(
        features=features,
        out_path=tmp_path / "plain.json",
        corpus="ravdess",
        fold=0,
        folds=3,
        kind="random_forest",
        grid={"n_estimators": [30]},
        inner_folds=2,
        seed=0,
        threads=1,
        input_options={"speaker_norm": False},
        inductive=True,
    )
    assert "inductive" not in plain


def test_leakage_audit_counts_test_faces_seen_in_training_and_scores_the_rest():
    from emorec.stages.evaluate import duplicates_of_train, leakage_audit

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (8, 4, 4, 1)).astype(np.uint8)
    faces[5] = faces[0]  # a test face that is a training face
    faces[3] = faces[1]  # a duplicate inside training
    faces[7] = faces[6]  # two identical test faces, in no training row
    split = np.array(["train", "train", "train", "train", "val", "test", "test", "test"])
    np.testing.assert_array_equal(
        duplicates_of_train(faces, split), [False, True, False, True, False, True, False, False]
    )
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    proba = np.eye(2)[[0, 1, 0, 1, 0, 0, 0, 1]].astype(
        float
    )  # the leaked test face is wrong, the other two right
    out = leakage_audit("visual.cnn", faces, split, np.array(["fer2013"] * 8), y, proba, ["a", "b"])
    assert out["data.fer2013.test_in_train"] == 1
    assert out["visual.cnn.test_unique.n"] == 2 and out["visual.cnn.test_unique.accuracy"] == 1.0
