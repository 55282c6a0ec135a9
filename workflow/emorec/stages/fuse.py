"""Late fusion of one audio and one visual model on simulated audio-visual pairs.

The corpora have no recordings with both a voice and a face, so pairs are *simulated*: every
held-out (test) audio clip is paired with a held-out face of the same true label, drawn with
``fusion.seed`` (:func:`emorec.fusion.pair_by_label`). Every method sees the same pairs.
Per-class weights come from each modality's own *validation* predictions, never from test.

Writes ``weights.csv``, ``predictions.parquet`` (one row per pair and method),
``per_class.csv``, ``confusion.csv`` / ``confusion.png`` (F-score fusion), ``f1.png`` (per-class
F1 of every method side by side) and flat ``metrics.json``.
"""

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from emorec.errors import DataError
from emorec.fusion import fscore_weights, fuse, pair_by_label, to_common_space
from emorec.labels import LABELS
from emorec.metrics import evaluate
from emorec.plots import f1_bars_png
from emorec.stages.evaluate import per_class_frame, split_metrics, write_confusion
from emorec.stages.report import write_metrics

log = logging.getLogger(__name__)

#: Reported methods: each modality alone on the pairs, F-score fusion and its baselines.
METHODS = ("audio_only", "visual_only", "fscore", "mean", "product")


def _classes(frame: pd.DataFrame) -> list[str]:
    return [c.removeprefix("p_") for c in frame.columns if c.startswith("p_")]


def common_labels(classes: Mapping[str, list[str]], mapping: Mapping[str, str | None]) -> list[str]:
    """Labels every modality can output after ``mapping``, in unified order."""
    mapped = [{mapping.get(c, c) for c in cls} - {None} for cls in classes.values()]
    shared = set.intersection(*mapped)
    return [label for label in LABELS if label in shared]


def in_common_space(
    frame: pd.DataFrame, split: str, common: list[str], mapping: Mapping[str, str | None]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows of ``split`` whose mapped true label is in ``common``: the rows, their label
    indices in ``common`` and their probabilities moved into ``common``."""
    rows = frame[frame["split"] == split].copy()
    rows["label"] = rows["label"].map(lambda label: mapping.get(label, label))
    rows = rows[rows["label"].isin(common)].reset_index(drop=True)
    classes = _classes(frame)
    proba = to_common_space(rows[[f"p_{c}" for c in classes]].to_numpy(np.float64), classes, mapping, common)
    y = rows["label"].map({c: i for i, c in enumerate(common)}).to_numpy(np.int64)
    return rows, y, proba


def score_methods(
    y: np.ndarray,
    proba: Mapping[str, np.ndarray],
    weights: Mapping[str, np.ndarray],
    common: list[str],
    *,
    prefix: str,
    out_dir: Path,
    what: str,
    ids: Mapping[str, np.ndarray],
) -> tuple[dict[str, float | int], pd.DataFrame]:
    """Every method of :data:`METHODS` on paired samples ``proba`` (``audio`` and ``visual``,
    in ``common`` labels) with true labels ``y``: flat ``<prefix>.<method>.test.*`` metrics,
    ``per_class.csv``, the F-score fusion's confusion matrix and ``f1.png`` in ``out_dir``,
    and the predictions (one row per method and pair, led by the ``ids`` columns)."""
    fused = {
        "audio_only": proba["audio"],
        "visual_only": proba["visual"],
        "fscore": fuse(proba, method="fscore", weights=weights),
        "mean": fuse(proba, method="mean"),
        "product": fuse(proba, method="product"),
    }
    metrics: dict[str, float | int] = {}
    per_class, predictions, f1 = [], [], {}
    for method in METHODS:
        result = evaluate(y, fused[method], labels=common)
        metrics.update(split_metrics(f"{prefix}.{method}", "test", result, common))
        per_class.append(per_class_frame(result, common, method=method))
        f1[method] = result["per_class"]["f1"]
        predictions.append(
            pd.DataFrame(
                {
                    "method": method,
                    **ids,
                    "label": [common[i] for i in y],
                    "predicted": [common[i] for i in result["y_pred"]],
                    **{f"p_{c}": fused[method][:, j].astype(np.float32) for j, c in enumerate(common)},
                }
            )
        )
        log.info("%-11s accuracy %.3f, macro-F1 %.3f", method, result["accuracy"], result["macro_f1"])
        if method == "fscore":
            write_confusion(out_dir, y, result, common, title=f"F-score fusion: {len(y)} {what}")
    pd.concat(per_class).to_csv(out_dir / "per_class.csv", index=False)
    f1_bars_png(f1, common, out_dir / "f1.png", title=f"per-class F1 on the {what}")
    return metrics, pd.concat(predictions)


def validation_weights(
    frames: Mapping[str, pd.DataFrame], common: list[str], label_map: Mapping[str, str | None], out_dir: Path
) -> dict[str, np.ndarray]:
    """Per-class F-score weights from each modality's *validation* rows, written to
    ``weights.csv`` beside the F1 scores they come from."""
    val_f1 = {}
    for modality, frame in frames.items():
        _, y, proba = in_common_space(frame, "val", common, label_map)
        if len(y) == 0:
            raise DataError(
                f"no {modality} validation samples in the common labels {common}: F-score weights need them"
            )
        val_f1[modality] = evaluate(y, proba, labels=common)["per_class"]["f1"]
    weights = fscore_weights(val_f1)
    pd.DataFrame(
        {
            "label": common,
            **{f"{m}_val_f1": np.round(val_f1[m], 6) for m in frames},
            **{f"{m}_weight": np.round(weights[m], 6) for m in frames},
        }
    ).to_csv(out_dir / "weights.csv", index=False)
    return weights


def run_fusion(
    *,
    audio_predictions: str | Path,
    visual_predictions: str | Path,
    out_dir: str | Path,
    label_map: Mapping[str, str | None],
    seed: int,
) -> dict[str, float | int]:
    """Fuse, evaluate and write every fusion report into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {"audio": pd.read_parquet(audio_predictions), "visual": pd.read_parquet(visual_predictions)}
    common = common_labels({m: _classes(f) for m, f in frames.items()}, label_map)
    if len(common) < 2:
        raise DataError(f"the modalities share fewer than two labels ({common}); check fusion.label_map")
    log.info("common label space (%d): %s; mapping %s", len(common), ", ".join(common), dict(label_map))

    weights = validation_weights(frames, common, label_map, out_dir)

    (audio_rows, audio_y, audio_p), (face_rows, face_y, face_p) = (
        in_common_space(f, "test", common, label_map) for f in frames.values()
    )
    pairs = pair_by_label(audio_y, face_y, rng=np.random.default_rng(seed))
    paired = pairs >= 0
    if not paired.any():
        raise DataError("no test clip could be paired with a test face of the same label")
    y = audio_y[paired]
    proba = {"audio": audio_p[paired], "visual": face_p[pairs[paired]]}
    log.info("%d test pairs (%d clips without a same-label face)", paired.sum(), (~paired).sum())
    metrics: dict[str, float | int] = {
        "fusion.pairs": int(paired.sum()),
        "fusion.unpaired_clips": int((~paired).sum()),
    }
    ids = {
        "audio_sample_id": audio_rows["sample_id"].to_numpy()[paired],
        "face_sample_id": face_rows["sample_id"].to_numpy()[pairs[paired]],
    }
    scored, predictions = score_methods(
        y,
        proba,
        weights,
        common,
        prefix="fusion",
        out_dir=out_dir,
        what="simulated test pairs",
        ids={"pair": np.arange(len(y)), **ids},
    )
    metrics.update(scored)
    predictions.to_parquet(out_dir / "predictions.parquet", index=False)
    write_metrics(out_dir / "metrics.json", metrics)
    return metrics
