"""Evaluate one trained model on every split of its feature table, pooled and, when the
table holds several corpora, per corpus (``audio.svm.tess.test.accuracy``): cross-corpus
results (train on RAVDESS, test on TESS) come out of the same run.

Writes, into one folder: ``predictions.parquet`` (every sample, every split, one probability
column per class), ``per_class.csv`` (precision / recall / F1 / support per corpus, split and class),
``confusion.csv`` (actual, predicted per test sample: DVC's confusion plot),
``confusion.png`` (row-normalised test heatmap) and flat ``metrics.json``.

The training split of a model with test-time averaging is predicted from one view of each
input (:meth:`emorec.models.store.TrainedModel.single_view`): its scores only show how well
the model fits, and FER2013's 28,709 training faces over ten crops were two thirds of the
face model's evaluation time. Validation and test get every view.

Face models also get a leakage audit: test faces whose pixels also occur in the training
split (FER2013 has such duplicates) are counted, ``data.<corpus>.test_in_train``, and the model
is scored again without them, ``<prefix>.test_unique.*``.
"""

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from emorec.datasets import classes_of, model_input, read_features
from emorec.errors import DataError
from emorec.metrics import evaluate
from emorec.models.store import TrainedModel, load_model
from emorec.plots import confusion_png
from emorec.splits import SPLITS
from emorec.stages.report import SUMMARY_METRICS, scalar, write_metrics
from emorec.tables import predictions_schema, write_table

log = logging.getLogger(__name__)


def split_metrics(
    prefix: str, split: str, result: dict[str, Any], labels: list[str]
) -> dict[str, float | int]:
    """Flat keys ``{prefix}.{split}.{metric}``; on test also ``{prefix}.test.f1.{label}``."""
    out: dict[str, float | int] = {f"{prefix}.{split}.{m}": scalar(result[m]) for m in SUMMARY_METRICS}
    out[f"{prefix}.{split}.n"] = result["n"]
    if split == "test":
        for label, f1, support in zip(labels, result["per_class"]["f1"], result["per_class"]["support"]):
            if support > 0:
                out[f"{prefix}.test.f1.{label}"] = scalar(f1)
    return out


def per_class_frame(result: dict[str, Any], labels: list[str], **keys: str) -> pd.DataFrame:
    """One row per label: ``keys`` columns, then precision, recall, f1, support."""
    classes = result["per_class"]
    frame = pd.DataFrame(
        {"label": labels, **{name: classes[name] for name in ("precision", "recall", "f1", "support")}}
    )
    for i, (name, value) in enumerate(keys.items()):
        frame.insert(i, name, value)
    return frame.round({"precision": 6, "recall": 6, "f1": 6})


def write_confusion(
    out_dir: Path, y_true: np.ndarray, result: dict[str, Any], labels: list[str], *, title: str
) -> None:
    """``confusion.csv`` (actual, predicted per sample: DVC's confusion template) and the
    row-normalised ``confusion.png`` of one evaluation ``result``."""
    names = np.asarray(labels, dtype=object)
    pd.DataFrame({"actual": names[y_true], "predicted": names[result["y_pred"]]}).to_csv(
        out_dir / "confusion.csv", index=False
    )
    confusion_png(result["confusion"], labels, out_dir / "confusion.png", title=title)


def shared_class_metrics(
    key: str, y_true: np.ndarray, proba: np.ndarray, labels: list[str], shared: list[str]
) -> dict[str, float | int]:
    """Flat ``{key}.test.shared.{metric}`` on the samples of the ``shared`` classes only, each
    predicted as its most probable shared class: the cross-corpus protocol on the classes two
    corpora have in common (e.g. angry, happy, neutral, sad for RAVDESS -> SAVEE)."""
    columns = [labels.index(c) for c in shared if c in labels]
    rows = np.isin(y_true, columns)
    if not rows.any():
        return {}
    remap = {c: i for i, c in enumerate(columns)}
    result = evaluate(
        np.array([remap[t] for t in y_true[rows].tolist()]),
        proba[rows][:, columns],
        labels=[labels[c] for c in columns],
    )
    out: dict[str, float | int] = {f"{key}.test.shared.{m}": scalar(result[m]) for m in SUMMARY_METRICS}
    out[f"{key}.test.shared.n"] = result["n"]
    return out


def predict(model: TrainedModel, x: Any, *, train: np.ndarray) -> np.ndarray:
    """Class probabilities of every row of ``x``: the ``train`` rows from one view
    (:meth:`TrainedModel.single_view`), the others from the model as saved."""
    single = model.single_view()
    if single is model or not train.any():
        return model.predict_proba(x)
    proba = np.empty((len(x), len(model.classes)))
    proba[train] = single.predict_proba(x[train])
    proba[~train] = model.predict_proba(x[~train])
    return proba


def duplicates_of_train(x: np.ndarray, split_of: np.ndarray) -> np.ndarray:
    """Which rows [shape=(n,)] have exactly the pixels of some row of the training split (the
    training rows themselves included when a training face occurs twice)."""
    keys = [hashlib.sha256(np.ascontiguousarray(face).tobytes()).digest() for face in x]
    seen: dict[bytes, int] = {}
    for key, split in zip(keys, split_of.tolist()):
        if split == "train":
            seen[key] = seen.get(key, 0) + 1
    return np.array([seen.get(key, 0) > (split == "train") for key, split in zip(keys, split_of.tolist())])


def leakage_audit(
    prefix: str,
    x: np.ndarray,
    split_of: np.ndarray,
    corpus_of: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    labels: list[str],
) -> dict[str, float | int]:
    """``data.<corpus>.test_in_train``: test faces whose exact pixels occur in the training
    split; ``{prefix}.test_unique.*``: the test scores without them."""
    in_train = duplicates_of_train(x, split_of)
    test = split_of == "test"
    metrics: dict[str, float | int] = {
        f"data.{c}.test_in_train": int((in_train & test & (corpus_of == c)).sum())
        for c in sorted(set(corpus_of[test].tolist()))
    }
    unique = test & ~in_train
    if unique.any():
        result = evaluate(y_true[unique], proba[unique], labels=labels)
        metrics |= {f"{prefix}.test_unique.{m}": scalar(result[m]) for m in SUMMARY_METRICS}
        metrics[f"{prefix}.test_unique.n"] = result["n"]
        log.info(
            "%s: %d test faces also in training; without them accuracy %.3f (n=%d)",
            prefix,
            int((in_train & test).sum()),
            result["accuracy"],
            result["n"],
        )
    return metrics


def evaluate_model(
    *,
    model_dir: str | Path,
    features: str | Path,
    out_dir: str | Path,
    prefix: str,
    shared_classes: list[str] | None = None,
) -> dict[str, float | int]:
    """Predict every sample of ``features`` with the model in ``model_dir`` and report.

    With several corpora, each corpus' test split is also scored on ``shared_classes`` alone
    (:func:`shared_class_metrics`)."""
    out_dir = Path(out_dir)
    model = load_model(model_dir)
    table = read_features(features)
    x = model_input(table, model.input, **model.input_options)
    split_of = np.asarray(table.column("split").to_pylist())
    proba = predict(model, x, train=split_of == "train")
    truth = np.asarray(table.column("label").to_pylist())
    # Labels the model never saw still get confusion rows (always wrong), never a crash.
    labels = model.classes + [c for c in classes_of(truth) if c not in model.classes]
    padded = np.pad(proba, ((0, 0), (0, len(labels) - proba.shape[1])))
    index = {c: i for i, c in enumerate(labels)}
    y_true = np.array([index[t] for t in truth.tolist()], dtype=np.int64)
    y_pred = np.argmax(padded, axis=1)

    predictions = pa.table(
        {
            "corpus": table.column("corpus"),
            "sample_id": table.column("sample_id"),
            "split": table.column("split"),
            "label": table.column("label"),
            "predicted": pa.array([labels[i] for i in y_pred.tolist()]),
            **{f"p_{c}": pa.array(proba[:, j].astype(np.float32)) for j, c in enumerate(model.classes)},
        }
    )
    write_table(predictions, out_dir / "predictions.parquet", predictions_schema(model.classes))

    if not (split_of == "test").any():
        raise DataError(f"{features}: no test rows to evaluate {prefix} on; check the split parameters")
    corpus_of = np.asarray(table.column("corpus").to_pylist())
    corpora = sorted(set(corpus_of.tolist()))
    # Pooled over every corpus, then (with several corpora) each corpus on its own.
    groups = [(prefix, "all", np.ones(len(table), dtype=bool))]
    if len(corpora) > 1:
        groups += [(f"{prefix}.{c}", c, corpus_of == c) for c in corpora]
    metrics: dict[str, float | int] = {}
    frames = []
    for key, corpus, in_corpus in groups:
        for split in SPLITS:
            rows = in_corpus & (split_of == split)
            if not rows.any():
                continue
            result = evaluate(y_true[rows], padded[rows], labels=labels)
            metrics.update(split_metrics(key, split, result, labels))
            frames.append(per_class_frame(result, labels, corpus=corpus, split=split))
            log.info(
                "%s %s: accuracy %.3f, macro-F1 %.3f (n=%d)",
                key,
                split,
                result["accuracy"],
                result["macro_f1"],
                result["n"],
            )
            if split == "test" and corpus == "all":
                write_confusion(
                    out_dir, y_true[rows], result, labels, title=f"{prefix}: test (n={result['n']})"
                )
            if split == "test" and corpus != "all" and shared_classes:
                metrics.update(
                    shared_class_metrics(key, y_true[rows], padded[rows], labels, list(shared_classes))
                )
    if model.input == "pixels":
        metrics.update(leakage_audit(prefix, x, split_of, corpus_of, y_true, padded, labels))
    pd.concat(frames).to_csv(out_dir / "per_class.csv", index=False)
    write_metrics(out_dir / "metrics.json", metrics)
    return metrics
