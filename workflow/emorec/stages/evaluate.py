"""Evaluate one trained model on every split of its feature table, pooled and, when the
table holds several corpora, per corpus (``audio.svm.tess.test.accuracy``): cross-corpus
results (train on RAVDESS, test on TESS) come out of the same run.

Writes, into one folder: ``predictions.parquet`` (every sample, every split, one probability
column per class), ``per_class.csv`` (precision / recall / F1 / support per corpus, split and class),
``confusion.csv`` (actual, predicted per test sample: DVC's confusion plot),
``confusion.png`` (row-normalised test heatmap) and flat ``metrics.json``.
"""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from emorec.errors import DataError
from emorec.datasets import classes_of, model_input, read_features
from emorec.metrics import evaluate
from emorec.models.store import load_model
from emorec.plots import confusion_png
from emorec.splits import SPLITS
from emorec.stages.report import SUMMARY_METRICS, scalar, write_metrics
from emorec.tables import predictions_schema, write_table

log = logging.getLogger(__name__)


def split_metrics(prefix: str, split: str, result: dict[str, Any], labels: list[str]) -> dict[str, float | int]:
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
    frame = pd.DataFrame({"label": labels, **{name: classes[name] for name in ("precision", "recall", "f1", "support")}})
    for i, (name, value) in enumerate(keys.items()):
        frame.insert(i, name, value)
    return frame.round({"precision": 6, "recall": 6, "f1": 6})


def write_confusion(out_dir: Path, y_true: np.ndarray, result: dict[str, Any], labels: list[str], *, title: str) -> None:
    """``confusion.csv`` (actual, predicted per sample: DVC's confusion template) and the
    row-normalised ``confusion.png`` of one evaluation ``result``."""
    names = np.asarray(labels, dtype=object)
    pd.DataFrame({"actual": names[y_true], "predicted": names[result["y_pred"]]}).to_csv(out_dir / "confusion.csv", index=False)
    confusion_png(result["confusion"], labels, out_dir / "confusion.png", title=title)


def shared_class_metrics(key: str, y_true: np.ndarray, proba: np.ndarray, labels: list[str], shared: list[str]) -> dict[str, float | int]:
    """Flat ``{key}.test.shared.{metric}`` on the samples of the ``shared`` classes only, each
    predicted as its most probable shared class: the cross-corpus protocol on the classes two
    corpora have in common (e.g. angry, happy, neutral, sad for RAVDESS -> SAVEE)."""
    columns = [labels.index(c) for c in shared if c in labels]
    rows = np.isin(y_true, columns)
    if not rows.any():
        return {}
    remap = {c: i for i, c in enumerate(columns)}
    result = evaluate(np.array([remap[t] for t in y_true[rows].tolist()]), proba[rows][:, columns], labels=[labels[c] for c in columns])
    out: dict[str, float | int] = {f"{key}.test.shared.{m}": scalar(result[m]) for m in SUMMARY_METRICS}
    out[f"{key}.test.shared.n"] = result["n"]
    return out


def evaluate_model(*, model_dir: str | Path, features: str | Path, out_dir: str | Path, prefix: str, shared_classes: list[str] | None = None) -> dict[str, float | int]:
    """Predict every sample of ``features`` with the model in ``model_dir`` and report.

    With several corpora, each corpus' test split is also scored on ``shared_classes`` alone
    (:func:`shared_class_metrics`)."""
    out_dir = Path(out_dir)
    model = load_model(model_dir)
    table = read_features(features)
    proba = model.predict_proba(model_input(table, model.input, **model.input_options))
    truth = np.asarray(table.column("label").to_pylist())
    # Labels the model never saw still get confusion rows (always wrong), never a crash.
    labels = model.classes + [c for c in classes_of(truth) if c not in model.classes]
    padded = np.pad(proba, ((0, 0), (0, len(labels) - proba.shape[1])))
    index = {c: i for i, c in enumerate(labels)}
    y_true = np.array([index[t] for t in truth.tolist()], dtype=np.int64)
    y_pred = np.argmax(padded, axis=1)

    predictions = pa.table({
        "corpus": table.column("corpus"),
        "sample_id": table.column("sample_id"),
        "split": table.column("split"),
        "label": table.column("label"),
        "predicted": pa.array([labels[i] for i in y_pred.tolist()]),
        **{f"p_{c}": pa.array(proba[:, j].astype(np.float32)) for j, c in enumerate(model.classes)},
    })
    write_table(predictions, out_dir / "predictions.parquet", predictions_schema(model.classes))

    split_of = np.asarray(table.column("split").to_pylist())
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
            log.info("%s %s: accuracy %.3f, macro-F1 %.3f (n=%d)", key, split, result["accuracy"], result["macro_f1"], result["n"])
            if split == "test" and corpus == "all":
                write_confusion(out_dir, y_true[rows], result, labels, title=f"{prefix}: test (n={result['n']})")
            if split == "test" and corpus != "all" and shared_classes:
                metrics.update(shared_class_metrics(key, y_true[rows], padded[rows], labels, list(shared_classes)))
    pd.concat(frames).to_csv(out_dir / "per_class.csv", index=False)
    write_metrics(out_dir / "metrics.json", metrics)
    return metrics
