"""k-fold cross-validation by speaker of a scikit-learn audio model: one job per fold.

The speakers of one corpus (RAVDESS by default) are dealt into folds: ``folds`` consecutive
groups of the sorted speakers, or explicit lists of speakers (``config/real.yaml`` uses
EmoBox's six RAVDESS folds, so the numbers sit beside its published table). Fold k tests on
group k and trains on every other speaker of that corpus, with the same grid search (grouped
by speaker, inside the training speakers only) and input options as the headline model.

Per-speaker normalisation (``speaker_norm``) uses every test speaker's unlabelled clips: a
transductive protocol. Models listed in ``inductive`` are also scored without it, standardised
with training statistics only, as EmoBox and most papers do. Each fold writes its scores;
:func:`cv_summary` reports mean and standard deviation over folds under
``<prefix>.cv.<metric>.mean`` / ``.std`` and ``<prefix>.cv.inductive.<metric>.mean`` / ``.std``.
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


Folds = int | Sequence[Sequence[str]]


def fold_count(folds: Folds) -> int:
    """How many folds ``folds`` (a count or explicit speaker lists) makes."""
    return folds if isinstance(folds, int) else len(folds)


def fold_speakers(speakers: Sequence[str], *, folds: Folds) -> list[list[str]]:
    """The test speakers of each fold: the sorted distinct ``speakers`` in ``folds`` consecutive
    groups of near-equal size, or ``folds`` itself when it lists them, checked against the
    corpus (every listed speaker exists, none is in two folds)."""
    distinct = sorted(set(speakers))
    if not isinstance(folds, int):
        groups = [[str(s) for s in group] for group in folds]
        listed = [s for group in groups for s in group]
        unknown = sorted(set(listed) - set(distinct))
        if unknown:
            raise DataError(
                f"evaluation.cv.folds: speakers {', '.join(unknown)} are not in the corpus (it has {', '.join(distinct)})"
            )
        twice = sorted({s for s in listed if listed.count(s) > 1})
        if twice:
            raise DataError(f"evaluation.cv.folds: speakers {', '.join(twice)} are in more than one fold")
        if len(groups) < 2 or not all(groups):
            raise DataError("evaluation.cv.folds: at least 2 folds, none empty")
        return groups
    if folds < 2 or folds > len(distinct):
        raise DataError(
            f"evaluation.cv.folds: {folds} folds need between 2 and {len(distinct)} (the corpus' speakers)"
        )
    return [list(group) for group in np.array_split(np.array(distinct, dtype=object), folds)]


def _score(
    x: Any,
    labels: np.ndarray,
    speakers: np.ndarray,
    test: np.ndarray,
    *,
    kind: str,
    grid: Mapping[str, list[Any]],
    inner_folds: int,
    seed: int,
    threads: int,
) -> dict[str, Any]:
    """Grid-search ``kind`` on the rows outside ``test``, score it on ``test``: n, best
    parameters and :data:`CV_METRICS`. Test clips of classes the training folds lack are left out."""
    classes = classes_of(labels[~test])
    model, search = sklearn_audio.tune(
        x[~test],
        encode(labels[~test], classes),
        speakers[~test].tolist(),
        kind=kind,
        grid=grid,
        folds=inner_folds,
        seed=seed,
        n_jobs=threads,
        estimate=False,  # the fold's own test is the estimate
    )
    known = np.isin(labels[test], classes)
    result = evaluate(
        encode(labels[test][known], classes), model.predict_proba(x[test][known]), labels=classes
    )
    return {
        "n": result["n"],
        "best_params": search["best_params"],
        **{name: scalar(result[key]) for name, key in CV_METRICS.items()},
    }


def cv_fold(
    *,
    features: str | Path,
    out_path: str | Path,
    corpus: str,
    fold: int,
    folds: Folds,
    kind: str,
    grid: Mapping[str, list[Any]],
    inner_folds: int,
    seed: int,
    threads: int,
    input_options: Mapping[str, Any],
    inductive: bool = False,
) -> dict[str, Any]:
    """Train ``kind`` on every speaker of ``corpus`` outside fold ``fold`` and score it on the
    fold; with ``inductive`` (and per-speaker normalisation in ``input_options``) also without
    that normalisation, under the record's ``inductive`` key."""
    table = read_features(features)
    table = table.filter(pc.equal(table.column("corpus"), corpus))
    if len(table) == 0:
        raise DataError(f"{features}: no {corpus} rows to cross-validate on (evaluation.cv.corpus)")
    speakers = np.asarray(table.column("speaker").to_pylist())
    held_out = fold_speakers(speakers.tolist(), folds=folds)[fold]
    test = np.isin(speakers, held_out)
    labels = np.asarray(table.column("label").to_pylist())
    settings = {"": dict(input_options)}
    if inductive and input_options.get("speaker_norm"):
        settings["inductive"] = {**input_options, "speaker_norm": False}
    record: dict[str, Any] = {"fold": fold, "test_speakers": held_out}
    for setting, options in settings.items():
        scores = _score(
            model_input(table, "descriptors", **options),
            labels,
            speakers,
            test,
            kind=kind,
            grid=grid,
            inner_folds=inner_folds,
            seed=seed,
            threads=threads,
        )
        record.update({setting: scores} if setting else scores)
        log.info(
            "%s fold %d (%s)%s: accuracy %.3f, UAR %.3f (n=%d)",
            kind,
            fold,
            ", ".join(held_out),
            f", {setting}" if setting else "",
            scores["accuracy"],
            scores["uar"],
            scores["n"],
        )
    write_json(out_path, record)
    return record


def cv_summary(
    *, fold_files: Sequence[str | Path], metrics_path: str | Path, table_path: str | Path, prefix: str
) -> dict[str, float | int]:
    """Mean and sample standard deviation over folds: ``{prefix}.cv.{metric}.mean`` / ``.std``,
    the same under ``{prefix}.cv.inductive.`` when the folds were also scored inductively, and
    ``{prefix}.cv.folds``; one row per fold in ``table_path``."""
    records = [read_json(path) for path in fold_files]
    folds = pd.DataFrame([{k: v for k, v in r.items() if k != "inductive"} for r in records]).sort_values(
        "fold"
    )
    metrics: dict[str, float | int] = {f"{prefix}.cv.folds": len(folds)}
    settings = [("", folds)]
    if all("inductive" in r for r in records):
        inductive = pd.DataFrame([{"fold": r["fold"], **r["inductive"]} for r in records]).sort_values("fold")
        settings.append(("inductive.", inductive))
        folds = folds.merge(
            inductive[["fold", *CV_METRICS]]
            .add_prefix("inductive_")
            .rename(columns={"inductive_fold": "fold"}),
            on="fold",
        )
    for setting, frame in settings:
        for name in CV_METRICS:
            metrics[f"{prefix}.cv.{setting}{name}.mean"] = float(frame[name].mean())
            metrics[f"{prefix}.cv.{setting}{name}.std"] = (
                float(frame[name].std(ddof=1)) if len(frame) > 1 else 0.0
            )
    folds.assign(
        test_speakers=folds["test_speakers"].map(" ".join), best_params=folds["best_params"].map(str)
    ).to_csv(table_path, index=False)
    write_metrics(metrics_path, metrics)
    log.info(
        "%s: CV accuracy %.3f +/- %.3f, UAR %.3f +/- %.3f over %d folds",
        prefix,
        metrics[f"{prefix}.cv.accuracy.mean"],
        metrics[f"{prefix}.cv.accuracy.std"],
        metrics[f"{prefix}.cv.uar.mean"],
        metrics[f"{prefix}.cv.uar.std"],
        len(folds),
    )
    return metrics
