"""k-fold cross-validation by speaker of a scikit-learn audio model: one job per fold.

The speakers of one corpus (RAVDESS by default) are sorted and dealt into ``folds``
consecutive groups (6 folds of 4 actors, as EmoBox). Fold k tests on group k and trains on
every other speaker of that corpus, with the same grid search (grouped by speaker, inside
the training speakers only) and input options as the headline model. Each fold writes its
scores; :func:`cv_summary` reports mean and standard deviation over folds under
``<prefix>.cv.<metric>.mean`` / ``.std``.
"""

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from emorec.datasets import classes_of, encode, model_input, read_features
from emorec.errors import DataError
from emorec.jsonio import read_json, write_json
from emorec.metrics import evaluate
from emorec.models import sklearn_audio
from emorec.stages.report import scalar, write_metrics

log = logging.getLogger(__name__)

#: Fold scores and the names they are reported under (``uar`` is balanced accuracy).
CV_METRICS = {"accuracy": "accuracy", "macro_f1": "macro_f1", "uar": "balanced_accuracy"}


def fold_speakers(speakers: Sequence[str], *, folds: int) -> list[list[str]]:
    """The sorted distinct ``speakers`` in ``folds`` consecutive groups of near-equal size."""
    distinct = sorted(set(speakers))
    if folds < 2 or folds > len(distinct):
        raise DataError(f"evaluation.cv.folds: {folds} folds need between 2 and {len(distinct)} (the corpus' speakers)")
    return [list(group) for group in np.array_split(np.array(distinct, dtype=object), folds)]


def cv_fold(
    *, features: str | Path, out_path: str | Path, corpus: str, fold: int, folds: int, kind: str,
    grid: Mapping[str, list[Any]], inner_folds: int, seed: int, threads: int, input_options: Mapping[str, Any],
) -> dict[str, Any]:
    """Train ``kind`` on every speaker of ``corpus`` outside fold ``fold`` and score it on the fold."""
    table = read_features(features)
    table = table.filter(pc.equal(table.column("corpus"), corpus))
    if len(table) == 0:
        raise DataError(f"{features}: no {corpus} rows to cross-validate on (evaluation.cv.corpus)")
    speakers = np.asarray(table.column("speaker").to_pylist())
    held_out = fold_speakers(speakers.tolist(), folds=folds)[fold]
    test = np.isin(speakers, held_out)
    x = model_input(table, "descriptors", **input_options)
    labels = np.asarray(table.column("label").to_pylist())
    classes = classes_of(labels[~test])
    model, search = sklearn_audio.tune(
        x[~test], encode(labels[~test], classes), speakers[~test].tolist(),
        kind=kind, grid=grid, folds=inner_folds, seed=seed, n_jobs=threads,
    )
    known = np.isin(labels[test], classes)
    proba = model.predict_proba(x[test][known])
    result = evaluate(encode(labels[test][known], classes), proba, labels=classes)
    record = {
        "fold": fold, "test_speakers": held_out, "n": result["n"], "best_params": search["best_params"],
        **{name: scalar(result[key]) for name, key in CV_METRICS.items()},
    }
    log.info("%s fold %d (%s): accuracy %.3f, UAR %.3f (n=%d)", kind, fold, ", ".join(held_out), record["accuracy"], record["uar"], record["n"])
    write_json(out_path, record)
    return record


def cv_summary(*, fold_files: Sequence[str | Path], metrics_path: str | Path, table_path: str | Path, prefix: str) -> dict[str, float | int]:
    """Mean and sample standard deviation over folds: ``{prefix}.cv.{metric}.mean`` / ``.std``
    and ``{prefix}.cv.folds``; one row per fold in ``table_path``."""
    folds = pd.DataFrame([read_json(path) for path in fold_files]).sort_values("fold")
    metrics: dict[str, float | int] = {f"{prefix}.cv.folds": len(folds)}
    for name in CV_METRICS:
        metrics[f"{prefix}.cv.{name}.mean"] = float(folds[name].mean())
        metrics[f"{prefix}.cv.{name}.std"] = float(folds[name].std(ddof=1)) if len(folds) > 1 else 0.0
    folds.assign(test_speakers=folds["test_speakers"].map(" ".join), best_params=folds["best_params"].map(str)).to_csv(table_path, index=False)
    write_metrics(metrics_path, metrics)
    log.info("%s: CV accuracy %.3f +/- %.3f, UAR %.3f +/- %.3f over %d folds", prefix, metrics[f"{prefix}.cv.accuracy.mean"],
             metrics[f"{prefix}.cv.accuracy.std"], metrics[f"{prefix}.cv.uar.mean"], metrics[f"{prefix}.cv.uar.std"], len(folds))
    return metrics
