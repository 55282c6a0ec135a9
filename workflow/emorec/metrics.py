"""Classification metrics from class probabilities: what evaluation and fusion report.

All functions take integer class indices into a fixed label list, so classes a split never
contains still get a row (support 0) and confusion matrices are always square.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """Counts ``[actual, predicted]``.

    Returns
    -------
    np.ndarray [shape=(n_classes, n_classes), dtype=int64]
    """
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_class(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class; 0 where undefined (no predictions/support)."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def top_k_accuracy(y_true: np.ndarray, proba: np.ndarray, *, k: int) -> float:
    """Share of samples whose true class is among the ``k`` most probable."""
    if len(y_true) == 0:
        return 0.0
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float((top == np.asarray(y_true)[:, None]).any(axis=1).mean())


def evaluate(y_true: np.ndarray, proba: np.ndarray, *, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and balanced accuracy (UAR) over classes present, top-2 accuracy,
    the confusion matrix and per-class precision / recall / F1 / support.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,), dtype=int]
    proba : np.ndarray [shape=(n, len(labels))]
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.argmax(proba, axis=1)
    matrix = confusion(y_true, y_pred, n_classes=len(labels))
    classes = per_class(matrix)
    present = classes["support"] > 0
    return {
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "macro_f1": float(classes["f1"][present].mean()) if present.any() else 0.0,
        "balanced_accuracy": float(classes["recall"][present].mean()) if present.any() else 0.0,
        "top2_accuracy": top_k_accuracy(y_true, proba, k=2),
        "n": len(y_true),
        "confusion": matrix,
        "per_class": classes,
        "y_pred": y_pred,
    }
